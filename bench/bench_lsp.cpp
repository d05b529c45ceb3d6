// The language server's re-check: a generated 10,000-line file (bench/generated_journeys.hpp)
// open in the request handler (runtime/lsp/server.hpp, no pipes), then one small incremental
// change at a time in the middle of it (a segment name misspelt, then put back), each timed from
// the change arriving to its diagnostics ready to send: parse, check, and the publish message.
// Then a completion and a hover at the same place. Median and worst of the runs.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "generated_journeys.hpp"
#include "runtime/lsp/server.hpp"

namespace {

using json = nlohmann::json;
using Ms = std::chrono::duration<double, std::milli>;

constexpr int kTargetLines = 10000;
constexpr int kRuns = 21;
const char* const kUri = "untitled:bench.journey";

json message(const std::string& method, json params, int id = 0) {
  json m = {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
  if (id != 0) m["id"] = id;
  return m;
}

struct Figures {
  double median = 0;
  double worst = 0;
};

Figures summary(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], ms.back()};
}

}  // namespace

int main() {
  int lines = 0;
  const std::string text = journey::bench::generated_journeys(kTargetLines, lines);
  // The place edited: the first `customer is seg_` in the middle of the file.
  const std::size_t middle = text.find("customer is seg_", text.size() / 2) + 12;
  const auto line = static_cast<int>(std::count(text.begin(), text.begin() + middle, '\n'));
  const auto column = static_cast<int>(middle - text.rfind('\n', middle) - 1);
  const json position = {{"line", line}, {"character", column}};
  const json text_document = {{"uri", kUri}};

  journey::lsp::Server server({"bench"});
  server.receive(message("initialize", json::object(), 1).dump());
  server.receive(
      message("textDocument/didOpen",
              {{"textDocument",
                {{"uri", kUri}, {"languageId", "journey"}, {"version", 1}, {"text", text}}}})
          .dump());
  server.idle();

  std::vector<double> recheck;
  std::size_t published = 0;
  for (int run = 0; run < kRuns; ++run) {
    // Odd runs misspell `seg_N` as `xeg_N` (an E104 appears), even runs put it back.
    const json change = {
        {"range", {{"start", position}, {"end", {{"line", line}, {"character", column + 1}}}}},
        {"text", run % 2 == 0 ? "x" : "s"}};
    const std::string body =
        message("textDocument/didChange", {{"textDocument", {{"uri", kUri}, {"version", run + 2}}},
                                           {"contentChanges", {change}}})
            .dump();
    const auto start = std::chrono::steady_clock::now();
    server.receive(body);
    const auto out = server.idle();
    recheck.push_back(Ms(std::chrono::steady_clock::now() - start).count());
    published += out.size();
  }
  std::vector<double> completion;
  std::vector<double> hover;
  for (int run = 0; run < kRuns; ++run) {
    const json params = {{"textDocument", text_document}, {"position", position}};
    auto start = std::chrono::steady_clock::now();
    const auto c = server.receive(message("textDocument/completion", params, 10 + run).dump());
    completion.push_back(Ms(std::chrono::steady_clock::now() - start).count());
    start = std::chrono::steady_clock::now();
    const auto h = server.receive(message("textDocument/hover", params, 100 + run).dump());
    hover.push_back(Ms(std::chrono::steady_clock::now() - start).count());
    if (c.front().contains("error") || h.front().contains("error")) {
      std::printf("error: %s %s\n", c.front().dump().c_str(), h.front().dump().c_str());
      return 1;
    }
  }
  const Figures r = summary(recheck);
  const Figures c = summary(completion);
  const Figures h = summary(hover);
  std::printf(
      "re-check of %d lines after one change: median %.1f ms, worst %.1f ms "
      "(target < 100 ms; %d runs, %zu publishes)\n",
      lines, r.median, r.worst, kRuns, published);
  std::printf("completion in the middle: median %.1f ms, worst %.1f ms\n", c.median, c.worst);
  std::printf("hover in the middle: median %.1f ms, worst %.1f ms\n", h.median, h.worst);
  if (published != static_cast<std::size_t>(kRuns)) {
    std::printf("error: expected one publish per change\n");
    return 1;
  }
  return 0;
}
