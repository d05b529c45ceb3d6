#!/bin/sh
# The CDNOW sample as Segment track events, one `order_completed` per purchase line:
#   {"type":"track","event":"order_completed","userId":"00004","timestamp":"1997-01-01T00:00:00Z",
#    "properties":{"cds":2,"amount":29.33}}
# Usage: to_ndjson.sh [CDNOW_sample.txt] > cdnow.ndjson   (the file beside this script by default)
set -eu
input="${1:-$(dirname "$0")/CDNOW_sample.txt}"
awk '{
  d = $3
  printf "{\"type\":\"track\",\"event\":\"order_completed\",\"userId\":\"%s\",\"timestamp\":\"%s-%s-%sT00:00:00Z\",\"properties\":{\"cds\":%d,\"amount\":%s}}\n",
         $1, substr(d, 1, 4), substr(d, 5, 2), substr(d, 7, 2), $4, $5
}' "$input"
