// The benchmark peer of `journey simulate` (issue 6): the welcome journey of the language spec,
// section 1 (bench/welcome.journey), as an XState v5 machine, one actor per customer, each actor
// with its own simulated clock.
//
//   node welcome.mjs EVENTS.ndjson > actions.ndjson
//
// Reads Segment-shaped NDJSON (track and identify) line by line and writes one action line per
// send, sent or suppressed, like the engine: {"customer_id","journey","channel","template",
// "params","at","status"[,"reason"]}. Each customer's events must come in time order (as
// examples/generate writes them); the engine sorts them itself, this peer streams and does not.
import { createReadStream, writeSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { SimulatedClock, assign, createActor, setup } from 'xstate';

const DAY = 24 * 60 * 60 * 1000;

// ---- The journey -------------------------------------------------------------------------------

// Consent policy "required" (the engine's default): a send goes out only when the customer's
// profile has `consent.CHANNEL` equal to true; otherwise it is reported as suppressed.
function consented(profile, channel) {
  const consent = profile.consent;
  return consent !== null && typeof consent === 'object' && !Array.isArray(consent) && consent[channel] === true;
}

const welcome = setup({
  actions: {
    // Identify: the traits are merged into the profile key by key; a null trait removes the key.
    mergeTraits: assign({
      profile: ({ context, event }) => {
        const profile = { ...context.profile };
        for (const [key, value] of Object.entries(event.traits)) {
          if (value === null) delete profile[key];
          else profile[key] = value;
        }
        return profile;
      },
    }),
    send: ({ context }, { channel, template, params }) => {
      const { customer, profile } = context;
      actions.write(customer.id, channel, template, params, customer.origin + customer.clock.now(),
        consented(profile, channel));
    },
  },
}).createMachine({
  id: 'welcome',
  context: ({ input }) => ({ customer: input.customer, profile: {} }),
  initial: 'outside',
  on: { identify: { actions: 'mergeTraits' } },
  states: {
    // Not entered yet: `entry on signup`.
    outside: {
      on: {
        'track.signup': {
          target: 'waitFirstOrder',
          actions: { type: 'send', params: { channel: 'email', template: 'welcome-1', params: {} } },
        },
      },
    },
    // `wait up to 3d { on order_completed { send email "thanks-first-order"; exit } }`
    waitFirstOrder: {
      after: {
        [3 * DAY]: {
          target: 'waitWithCoupon',
          actions: { type: 'send', params: { channel: 'push', template: 'welcome-coupon', params: { code: 'WELCOME10' } } },
        },
      },
      on: {
        'track.unsubscribe': 'left',  // `exit on unsubscribe`
        'track.order_completed': {
          target: 'left',
          actions: { type: 'send', params: { channel: 'email', template: 'thanks-first-order', params: {} } },
        },
      },
    },
    // `wait up to 4d { ... }` then `send email "last-chance"`, the end of the journey.
    waitWithCoupon: {
      after: {
        [4 * DAY]: {
          target: 'left',
          actions: { type: 'send', params: { channel: 'email', template: 'last-chance', params: {} } },
        },
      },
      on: {
        'track.unsubscribe': 'left',
        'track.order_completed': {
          target: 'left',
          actions: { type: 'send', params: { channel: 'email', template: 'thanks-first-order', params: {} } },
        },
      },
    },
    // Exited or finished: `reentry never`, so the customer never comes back.
    left: { type: 'final' },
  },
});

// ---- Output ------------------------------------------------------------------------------------

// ISO-8601 UTC like the engine's format_timestamp: milliseconds only when not zero.
function formatTimestamp(ms) {
  const text = new Date(ms).toISOString();
  return text.endsWith('.000Z') ? text.slice(0, -5) + 'Z' : text;
}

// Action lines, written to stdout in large chunks.
class ActionWriter {
  constructor(fd) {
    this.fd = fd;
    this.buffer = '';
    this.count = 0;
  }

  write(customerId, channel, template, params, at, sent) {
    this.buffer += `{"customer_id":${JSON.stringify(customerId)},"journey":"welcome","channel":"${channel}",` +
      `"template":"${template}","params":${JSON.stringify(params)},"at":"${formatTimestamp(at)}",` +
      (sent ? '"status":"sent"}\n' : '"status":"suppressed","reason":"consent"}\n');
    ++this.count;
    if (this.buffer.length >= 1 << 16) this.flush();
  }

  flush() {
    let bytes = Buffer.from(this.buffer);
    this.buffer = '';
    while (bytes.length > 0) {
      const n = writeSync(this.fd, bytes);
      bytes = bytes.subarray(n);
    }
  }
}

const actions = new ActionWriter(1);

// ---- Input -------------------------------------------------------------------------------------

function typeName(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a boolean';
  return 'a number';
}

function isDigits(text, from, to) {
  for (let i = from; i < to; ++i) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return to <= text.length;
}

// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil).
function daysFromCivil(y, m, d) {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):?(\d{2}))$/;

// Milliseconds since the epoch, or null: the forms the engine's parse_timestamp accepts,
// YYYY-MM-DDTHH:MM:SS[.fff...](Z|+HH:MM|-HH:MM).
function parseTimestamp(text) {
  const m = TIMESTAMP.exec(text);
  if (m === null) return null;
  const [y, mo, d, h, mi, s] = [+m[1], +m[2], +m[3], +m[4], +m[5], +m[6]];
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const monthDays = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (mo < 1 || mo > 12 || d < 1 || d > monthDays[mo - 1] || h > 23 || mi > 59 || s > 60) return null;
  const ms = m[7] === undefined ? 0 : +(m[7] + '00').slice(0, 3);
  let offset = 0;
  if (m[8] !== undefined) {
    const oh = +m[9];
    const om = +m[10];
    if (oh > 23 || om > 59) return null;
    offset = (m[8] === '-' ? -1 : 1) * (oh * 3600 + om * 60) * 1000;
  }
  return (daysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s) * 1000 + ms - offset;
}

// One Segment-shaped object to {customerId, at, messageId, event} (the event for the actor), or
// {error} naming the JSON path, with the engine's rules (engine/event.cpp).
function readEvent(object) {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) {
    return { error: `$: expected a JSON object, found ${typeName(object)}` };
  }
  let type = object.type;
  if (type === undefined) type = 'event' in object ? 'track' : 'identify';
  else if (typeof type !== 'string') return { error: `$.type: expected a string, found ${typeName(type)}` };
  if (type !== 'track' && type !== 'identify') {
    return { error: `$.type: unsupported type ${JSON.stringify(type)} (expected "track" or "identify")` };
  }
  const user = object.userId;
  if (user === undefined || user === null) return { error: '$.userId: missing userId' };
  if (typeof user !== 'string') return { error: `$.userId: expected a string, found ${typeName(user)}` };
  if (user === '') return { error: '$.userId: empty userId' };
  const ts = object.timestamp;
  if (ts === undefined || ts === null) return { error: '$.timestamp: missing timestamp' };
  if (typeof ts !== 'string') return { error: `$.timestamp: expected a string, found ${typeName(ts)}` };
  const at = parseTimestamp(ts);
  if (at === null) return { error: `$.timestamp: unparsable timestamp ${JSON.stringify(ts)}` };
  let name = '';
  if (type === 'track') {
    name = object.event;
    if (name === undefined || name === null) return { error: '$.event: missing event name' };
    if (typeof name !== 'string') return { error: `$.event: expected a string, found ${typeName(name)}` };
    if (name === '') return { error: '$.event: empty event name' };
  }
  const key = type === 'track' ? 'properties' : 'traits';
  let props = object[key];
  if (props === undefined || props === null) {
    props = {};
  } else if (typeof props !== 'object' || Array.isArray(props)) {
    return { error: `$.${key}: expected an object, found ${typeName(props)}` };
  }
  const mid = object.messageId;
  if (mid !== undefined && mid !== null && typeof mid !== 'string') {
    return { error: `$.messageId: expected a string, found ${typeName(mid)}` };
  }
  return {
    customerId: user,
    at,
    messageId: mid ?? '',
    event: type === 'track' ? { type: `track.${name}`, properties: props } : { type: 'identify', traits: props },
  };
}

// ---- Virtual time ------------------------------------------------------------------------------

// The due time of the earliest pending delay on a clock, or Infinity.
function nextDue(clock) {
  let next = Infinity;
  // `timeouts` is private in the typings but a plain field of SimulatedClock: {start, timeout, fn}.
  for (const t of clock.timeouts.values()) next = Math.min(next, t.start + t.timeout);
  return next;
}

// Moves a clock to `to`, firing each delay at its own due time. SimulatedClock.set(t) moves to t
// first and then fires what is due, so a delay started by a fired delay would count from t
// instead of from the due time; stepping through the due times in order avoids that.
// With `to` Infinity, fires every pending delay (and the delays they start) and stops at the last.
function advance(clock, to) {
  for (let due = nextDue(clock); due !== Infinity && due <= to; due = nextDue(clock)) clock.set(due);
  if (to !== Infinity && to > clock.now()) clock.set(to);
}

// ---- The run -----------------------------------------------------------------------------------

function main() {
  const path = process.argv[2];
  if (path === undefined || process.argv.length > 3 || path === '--help' || path === '-h') {
    process.stderr.write('usage: node welcome.mjs EVENTS.ndjson > actions.ndjson\n');
    process.exit(2);
  }
  const customers = new Map();  // id -> {id, origin, clock, seen, actor}
  let lineNo = 0;
  let skipped = 0;
  let late = 0;
  const input = createReadStream(path);
  input.on('error', (e) => {
    process.stderr.write(`${path}: cannot read the file (${e.code ?? e.message})\n`);
    process.exit(2);
  });
  const lines = createInterface({ input, crlfDelay: Infinity });
  lines.on('line', (line) => {
    ++lineNo;
    if (/^[ \t\r]*$/.test(line)) return;
    let parsed;
    try {
      parsed = readEvent(JSON.parse(line));
    } catch (e) {
      parsed = { error: `invalid JSON: ${e.message}` };
    }
    if (parsed.error !== undefined) {
      process.stderr.write(`${path}:${lineNo}: ${parsed.error}\n`);
      ++skipped;
      return;
    }
    let customer = customers.get(parsed.customerId);
    if (customer === undefined) {
      // The clock counts from the customer's first event (SimulatedClock starts at 0 and cannot
      // go back, and timestamps before 1970 are valid input).
      customer = { id: parsed.customerId, origin: parsed.at, clock: new SimulatedClock(), seen: new Set(), actor: null };
      customer.actor = createActor(welcome, { clock: customer.clock, input: { customer } });
      customer.actor.start();
      customers.set(customer.id, customer);
    }
    // Delays due at or before the event's time fire first, then the event is delivered.
    const at = parsed.at - customer.origin;
    if (at < customer.clock.now()) ++late;
    else advance(customer.clock, at);
    if (parsed.messageId !== '') {
      if (customer.seen.has(parsed.messageId)) return;  // a repeated messageId is ignored
      customer.seen.add(parsed.messageId);
    }
    customer.actor.send(parsed.event);
  });
  lines.on('close', () => {
    // End of input: every pending delay fires, at its own time.
    for (const customer of customers.values()) advance(customer.clock, Infinity);
    actions.flush();
    if (skipped > 0) process.stderr.write(`${skipped} input lines skipped\n`);
    if (late > 0) {
      process.stderr.write(`${late} events were earlier than their customer's previous event and were ` +
        'processed at that previous time (this peer expects each customer\'s events in time order)\n');
    }
  });
}

main();
