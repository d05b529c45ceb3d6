// The real `journey lsp` over pipes, driven by a scripted client (lsp_client.hpp): a workspace
// folder with the standard journeys, documents opened and edited, and what comes back checked:
// diagnostics, completion, hover, definition, references, rename, formatting, quick fixes; then
// bad input (malformed JSON-RPC, unknown methods, huge messages) answered with errors while the
// server goes on.
#include <filesystem>
#include <functional>
#include <set>

#include <catch2/catch.hpp>

#include "cli/cli_support.hpp"
#include "lsp_client.hpp"
#include "runtime/lsp/project.hpp"

namespace fs = std::filesystem;
using journey::test::LspProcess;
using json = nlohmann::json;

namespace {

/// A copy of stdlib-journeys/ and the example tracking plan in a fresh folder, with a
/// `.journeyrc` naming the plan and the channels.
struct Workspace {
  journey::test::TempDir dir;
  const fs::path& root = dir.path;
  Workspace() {
    for (const auto& e : fs::directory_iterator(fs::path(JOURNEY_SOURCE_DIR) / "stdlib-journeys")) {
      if (e.path().extension() == ".journey") fs::copy_file(e.path(), root / e.path().filename());
    }
    fs::copy_file(fs::path(JOURNEY_SOURCE_DIR) / "examples/plan.json", root / "plan.json");
    write(".journeyrc",
          "[lint]\nplan = \"plan.json\"\nchannels = [\"email\", \"sms\", \"push\"]\n");
  }
  void write(const std::string& name, const std::string& text) const { dir.write(name, text); }
  std::string read(const std::string& name) const { return journey::test::slurp(root / name); }
  std::string uri(const std::string& name = {}) const {
    return journey::lsp::path_to_uri(name.empty() ? root.string() : (root / name).string());
  }
};

json at(const std::string& uri, int line, int character) {
  return {{"textDocument", {{"uri", uri}}},
          {"position", {{"line", line}, {"character", character}}}};
}

json range(int l1, int c1, int l2, int c2) {
  return {{"start", {{"line", l1}, {"character", c1}}}, {"end", {{"line", l2}, {"character", c2}}}};
}

void open(LspProcess& lsp, const std::string& uri, const std::string& text) {
  lsp.notify("textDocument/didOpen",
             {{"textDocument",
               {{"uri", uri}, {"languageId", "journey"}, {"version", 1}, {"text", text}}}});
}

void change(LspProcess& lsp, const std::string& uri, int version, const json& range,
            const std::string& text) {
  lsp.notify("textDocument/didChange", {{"textDocument", {{"uri", uri}, {"version", version}}},
                                        {"contentChanges", {{{"range", range}, {"text", text}}}}});
}

std::vector<std::string> codes(const json& diagnostics) {
  std::vector<std::string> out;
  for (const auto& d : diagnostics) out.push_back(d.value("code", ""));
  return out;
}

/// The diagnostics of `uri` once they are as `wanted` says: the publishes for it are read in
/// order until one is (a burst of changes may be published once or several times). A server
/// that never publishes such diagnostics fails the test when the client's wait runs out.
json settle_when(LspProcess& lsp, const std::string& uri,
                 const std::function<bool(const json&)>& wanted) {
  std::string seen;
  while (true) {
    json d;
    try {
      d = lsp.diagnostics_for(uri);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(e.what()) + "; the last diagnostics of " + uri + ": " +
                               seen);
    }
    if (wanted(d)) return d;
    seen = d.dump();
  }
}

json settle(LspProcess& lsp, const std::string& uri, const std::vector<std::string>& wanted) {
  return settle_when(lsp, uri, [&](const json& d) { return codes(d) == wanted; });
}

std::set<std::string> labels(const json& completion) {
  std::set<std::string> out;
  for (const auto& item : completion.at("result").at("items")) out.insert(item["label"]);
  return out;
}

const char* const kDraft =
    "journey draft {\n"                                         // 0
    "  entry on order_completed where event.amount > 50\n"      // 1
    "  again: wait up to 3d {\n"                                // 2
    "    on add_to_cart { goto again }\n"                       // 3
    "  }\n"                                                     // 4
    "  if customer is lapsed { send email \"we-miss-you\" }\n"  // 5
    "}\n";

}  // namespace

TEST_CASE(
    "journey lsp: the workspace is checked when the session starts and as a document is edited",
    "[lsp]") {
  Workspace ws;
  LspProcess lsp;
  const json caps = lsp.initialize(ws.uri());
  CHECK(caps["capabilities"]["textDocumentSync"]["change"] == 2);  // incremental
  CHECK(caps["capabilities"]["positionEncoding"] == "utf-16");
  // Every file of the folder is published (clean), before anything is opened.
  settle(lsp, ws.uri("segments.journey"), {});
  settle(lsp, ws.uri("welcome.journey"), {});

  // A new document uses a segment declared in another file (segments.journey): it resolves.
  const std::string uri = ws.uri("draft.journey");
  open(lsp, uri, kDraft);
  settle(lsp, uri, {});

  // Misspell the segment: E104 at its place, with "did you mean" and a quick fix.
  change(lsp, uri, 2, range(5, 22, 5, 23), "");
  json d = settle(lsp, uri, {"E104"});
  CHECK(d[0]["range"] == range(5, 17, 5, 22));
  CHECK(d[0]["message"] == "unknown segment `lapse`\ndid you mean `lapsed`?");
  CHECK(d[0]["severity"] == 1);
  const json actions = lsp.request("textDocument/codeAction", {{"textDocument", {{"uri", uri}}},
                                                               {"range", range(5, 18, 5, 18)},
                                                               {"context", {{"diagnostics", d}}}});
  REQUIRE(actions["result"].size() == 1);
  CHECK(actions["result"][0]["kind"] == "quickfix");
  CHECK(actions["result"][0]["edit"]["changes"][uri] ==
        json::array({{{"range", range(5, 17, 5, 22)}, {"newText", "lapsed"}}}));

  // The tracking plan and channels of .journeyrc apply: a property and a channel not in them.
  change(lsp, uri, 3, range(1, 39, 1, 45), "amont");
  change(lsp, uri, 4, range(5, 30, 5, 35), "emial");
  settle(lsp, uri, {"E115", "E104", "E113"});

  // Characters outside the basic plane before a mistake: columns are UTF-16 code units, in
  // what the server publishes and in the edits it is sent.
  lsp.notify("textDocument/didChange",
             {{"textDocument", {{"uri", uri}, {"version", 5}}},
              {"contentChanges",
               {{{"text",
                  "journey j {\n  entry on signup\n  send email "
                  "\"\xF0\x9F\x98\x80\xF0\x9F\x98\x80\"; goto nowhere\n}\n"}}}}});
  d = settle(lsp, uri, {"E101"});
  CHECK(d[0]["range"] == range(2, 26, 2, 33));
  change(lsp, uri, 6, range(2, 32, 2, 33), "");
  d = settle_when(lsp, uri, [](const json& found) {
    return codes(found) == std::vector<std::string>{"E101"} &&
           found[0]["message"] == "undefined label `nowher`";
  });
  CHECK(d[0]["range"] == range(2, 26, 2, 32));

  lsp.request("shutdown", nullptr);
  lsp.notify("exit", nullptr);
  CHECK(lsp.wait_exit() == 0);
}

TEST_CASE("journey lsp: completion, hover, definition, references, rename, symbols, formatting",
          "[lsp]") {
  Workspace ws;
  LspProcess lsp;
  lsp.initialize(ws.uri());
  const std::string uri = ws.uri("draft.journey");
  open(lsp, uri, kDraft);
  settle(lsp, uri, {});

  // Completion: the words valid at the place, and the names that fit it.
  change(lsp, uri, 2, range(4, 3, 4, 3), "\n  ");
  const auto step_start = labels(lsp.request("textDocument/completion", at(uri, 5, 2)));
  CHECK(step_start.count("send") == 1);
  CHECK(step_start.count("goto") == 1);
  CHECK(step_start.count("entry") == 0);  // a header clause after the steps started
  change(lsp, uri, 3, range(5, 2, 5, 2), "send ");
  const auto channels = labels(lsp.request("textDocument/completion", at(uri, 5, 7)));
  CHECK(channels == std::set<std::string>{"email", "push", "sms"});
  change(lsp, uri, 4, range(5, 7, 5, 7), "email \"x\"\n  goto ");
  CHECK(labels(lsp.request("textDocument/completion", at(uri, 6, 7))) ==
        std::set<std::string>{"again"});
  change(lsp, uri, 5, range(6, 7, 6, 7), "again\n  emit ");
  const auto events = labels(lsp.request("textDocument/completion", at(uri, 7, 7)));
  CHECK(events.count("order_completed") == 1);  // from the plan
  CHECK(events.count("add_to_cart") == 1);
  change(lsp, uri, 6, range(7, 7, 7, 7), "x\n  if customer is ");
  const auto segments = labels(lsp.request("textDocument/completion", at(uri, 8, 17)));
  CHECK(segments.count("lapsed") == 1);  // declared in segments.journey
  CHECK(segments.count("buyer") == 1);
  const json props = lsp.request("textDocument/completion", at(uri, 1, 39));  // after `event.`
  const auto prop_labels = labels(props);
  CHECK(prop_labels ==
        std::set<std::string>{"amount", "currency", "items", "order_id", "product_id"});
  for (const auto& item : props["result"]["items"]) {
    if (item["label"] == "amount")
      CHECK(item["detail"] == "number, of `order_completed` in the tracking plan");
  }
  change(lsp, uri, 7, range(8, 17, 8, 17), "lapsed { exit }");
  // The text is now:
  //   0 journey draft {
  //   1   entry on order_completed where event.amount > 50
  //   2   again: wait up to 3d {
  //   3     on add_to_cart { goto again }
  //   4   }
  //   5   send email "x"
  //   6   goto again
  //   7   emit x
  //   8   if customer is lapsed { exit }
  //   9   if customer is lapsed { send email "we-miss-you" }
  //  10 }
  settle(lsp, uri, {"W101"});  // `emit x` after `goto again`

  // Hover: a keyword's text from the language reference, a segment's definition, an event's
  // properties from the plan, and what a finding's code means.
  json h = lsp.request("textDocument/hover", at(uri, 2, 10));  // `wait`
  const std::string wait_help = h["result"]["contents"]["value"];
  CHECK(wait_help.find("**`wait up to DURATION") != std::string::npos);
  CHECK(wait_help.find("Wait for an event, at most DURATION.") != std::string::npos);
  h = lsp.request("textDocument/hover", at(uri, 8, 20));  // `lapsed`
  CHECK(h["result"]["contents"]["value"].get<std::string>().rfind("```journey\nsegment lapsed = ",
                                                                  0) == 0);
  h = lsp.request("textDocument/hover", at(uri, 1, 15));  // `order_completed`
  CHECK(h["result"]["contents"]["value"].get<std::string>().find("| `amount` | number |") !=
        std::string::npos);
  h = lsp.request("textDocument/hover", at(uri, 0, 0));  // `journey`
  CHECK(h["result"]["contents"]["value"].get<std::string>().rfind(
            "**`journey NAME { HEADER* STEP* }`**", 0) == 0);
  h = lsp.request("textDocument/hover", at(uri, 7, 7));  // the event `x`, only emitted
  CHECK(h["result"]["contents"]["value"].get<std::string>().find("Not in the tracking plan.") !=
        std::string::npos);
  h = lsp.request("textDocument/hover", at(uri, 7, 3));  // a finding: `emit` after a `goto`
  CHECK(h["result"]["contents"]["value"].get<std::string>().find("**W101: unreachable step**") !=
        std::string::npos);

  // Definition and references of a segment, across files; of a label, in its journey.
  const std::string segments_uri = ws.uri("segments.journey");
  json def = lsp.request("textDocument/definition", at(uri, 8, 20));
  REQUIRE(def["result"].size() == 1);
  CHECK(def["result"][0]["uri"] == segments_uri);
  json refs =
      lsp.request("textDocument/references", {{"textDocument", {{"uri", uri}}},
                                              {"position", {{"line", 8}, {"character", 20}}},
                                              {"context", {{"includeDeclaration", true}}}});
  std::multiset<std::string> files;
  for (const auto& r : refs["result"]) files.insert(r["uri"]);
  CHECK(files.count(uri) == 2);
  CHECK(files.count(segments_uri) == 3);  // declared, and used by dormant and churned
  CHECK(files.size() == 5);
  def = lsp.request("textDocument/definition", at(uri, 3, 26));  // goto again
  CHECK(def["result"] == json::array({{{"uri", uri}, {"range", range(2, 2, 2, 7)}}}));

  // Rename a label (in its journey) and a segment (in every file of the workspace).
  json r = lsp.request("textDocument/rename", {{"textDocument", {{"uri", uri}}},
                                               {"position", {{"line", 2}, {"character", 3}}},
                                               {"newName", "retry"}});
  CHECK(r["result"]["changes"][uri].size() == 3);  // the label and two gotos
  r = lsp.request("textDocument/rename", {{"textDocument", {{"uri", uri}}},
                                          {"position", {{"line", 8}, {"character", 20}}},
                                          {"newName", "dormant_buyer"}});
  CHECK(r["result"]["changes"][uri].size() == 2);
  CHECK(r["result"]["changes"][segments_uri].size() == 3);
  for (const auto& [file, edits] : r["result"]["changes"].items()) {
    for (const auto& e : edits) CHECK(e["newText"] == "dormant_buyer");
  }
  r = lsp.request("textDocument/rename", {{"textDocument", {{"uri", uri}}},
                                          {"position", {{"line", 8}, {"character", 20}}},
                                          {"newName", "buyer"}});
  CHECK(r["error"]["code"] == -32803);
  CHECK(r["error"]["message"] == "a segment named `buyer` already exists");
  r = lsp.request("textDocument/rename", {{"textDocument", {{"uri", uri}}},
                                          {"position", {{"line", 8}, {"character", 20}}},
                                          {"newName", "wait"}});
  CHECK(r["error"]["code"] == -32602);
  r = lsp.request("textDocument/prepareRename", at(uri, 1, 15));  // an event: not renamable
  CHECK(r["error"]["code"] == -32803);

  // Document symbols: the journey, its steps, their branches.
  const json symbols =
      lsp.request("textDocument/documentSymbol", {{"textDocument", {{"uri", uri}}}});
  REQUIRE(symbols["result"].size() == 1);
  CHECK(symbols["result"][0]["name"] == "journey draft");
  const json& steps = symbols["result"][0]["children"];
  CHECK(steps[0]["name"] == "again: wait up to 3d");
  CHECK(steps[0]["children"][0]["name"] == "on add_to_cart");
  CHECK(steps[0]["children"][0]["children"][0]["name"] == "goto again");

  // Formatting: the canonical layout as one edit; refused with a syntax error.
  json f = lsp.request(
      "textDocument/formatting",
      {{"textDocument", {{"uri", uri}}}, {"options", {{"tabSize", 2}, {"insertSpaces", true}}}});
  REQUIRE(f["result"].size() == 1);
  CHECK(f["result"][0]["newText"].get<std::string>().find(
            "    on add_to_cart {\n      goto again\n    }") != std::string::npos);
  f = lsp.request(
      "textDocument/formatting",
      {{"textDocument", {{"uri", ws.uri("welcome.journey")}}}, {"options", json::object()}});
  CHECK(f["result"] == json::array());  // already formatted
  change(lsp, uri, 8, range(0, 0, 0, 0), "send\n");
  f = lsp.request("textDocument/formatting",
                  {{"textDocument", {{"uri", uri}}}, {"options", json::object()}});
  CHECK(f["error"]["code"] == -32803);
  CHECK(f["error"]["message"].get<std::string>().rfind("not formatted: line 1: ", 0) == 0);

  lsp.request("shutdown", nullptr);
  lsp.notify("exit", nullptr);
  CHECK(lsp.wait_exit() == 0);
}

TEST_CASE("journey lsp: files changed on disk, settings from the editor", "[lsp]") {
  Workspace ws;
  fs::remove(ws.root / ".journeyrc");
  LspProcess lsp;
  lsp.initialize(ws.uri(), {{"channels", {"email"}}});
  const std::string uri = ws.uri("wake_up.journey");
  open(lsp, uri, ws.read("wake_up.journey"));
  // The editor's channel list applies: push and sms are not in it.
  settle(lsp, uri, {"E113", "E113"});  // the two sms sends
  lsp.notify("workspace/didChangeConfiguration",
             {{"settings", {{"journey", {{"channels", json::array()}}}}}});
  settle(lsp, uri, {});
  // The segments' file is deleted on disk: the segments no longer resolve.
  fs::remove(ws.root / "segments.journey");
  lsp.notify("workspace/didChangeWatchedFiles",
             {{"changes", {{{"uri", ws.uri("segments.journey")}, {"type", 3}}}}});
  settle(lsp, ws.uri("segments.journey"), {});
  settle(lsp, uri, {"E104"});
  // A project file appears: its plan applies.
  ws.write(".journeyrc", "[lint]\nplan = \"plan.json\"\nchannels = [\"sms\"]\n");
  lsp.notify("workspace/didChangeWatchedFiles",
             {{"changes", {{{"uri", ws.uri(".journeyrc")}, {"type", 1}}}}});
  settle_when(lsp, uri, [](const json& found) {
    const auto c = codes(found);
    return std::set<std::string>(c.begin(), c.end()) == std::set<std::string>{"E104", "E113"};
  });
  // A broken project file is reported on the files, not a crash.
  ws.write(".journeyrc", "[lint]\nplan = 3\n");
  lsp.notify("workspace/didChangeWatchedFiles",
             {{"changes", {{{"uri", ws.uri(".journeyrc")}, {"type", 2}}}}});
  const json d = settle_when(
      lsp, uri, [](const json& found) { return !found.empty() && found[0]["severity"] == 2; });
  CHECK(d[0]["message"].get<std::string>().find("lint settings not used: ") == 0);
  CHECK(d[0]["message"].get<std::string>().find(".journeyrc:2:8: lint.plan must be a file name") !=
        std::string::npos);
  lsp.request("shutdown", nullptr);
  lsp.notify("exit", nullptr);
  CHECK(lsp.wait_exit() == 0);
}

TEST_CASE("journey lsp: bad input gets an error and the server goes on", "[lsp]") {
  LspProcess lsp({"--max-message-bytes", "100000"});
  // Before initialize: requests are refused.
  json r = lsp.request("textDocument/hover", at("file:///x.journey", 0, 0));
  CHECK(r["error"]["code"] == -32002);
  lsp.initialize("");
  // Malformed JSON, a message that is no request, an unknown method: errors.
  lsp.send_raw(journey::lsp::frame("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\""));
  r = lsp.read_message();
  CHECK(r["error"]["code"] == -32700);
  CHECK(r["id"].is_null());
  lsp.send_raw(journey::lsp::frame("[1, 2]"));
  CHECK(lsp.read_message()["error"]["code"] == -32600);
  lsp.send({{"jsonrpc", "2.0"}, {"id", 7}});
  r = lsp.read_message();
  CHECK(r["error"]["code"] == -32600);
  CHECK(r["id"] == 7);
  r = lsp.request("journey/frobnicate", json::object());
  CHECK(r["error"]["code"] == -32601);
  lsp.notify("journey/frobnicate", json::object());  // an unknown notification: nothing
  // Params that do not fit: invalid params.
  r = lsp.request("textDocument/hover", {{"textDocument", {{"uri", "file:///nowhere.journey"}}}});
  CHECK(r["error"]["code"] == -32602);
  r = lsp.request("textDocument/hover", {{"textDocument", 3}});
  CHECK(r["error"]["code"] == -32602);
  // JSON nested a million deep: refused before it is parsed.
  lsp.send_raw(journey::lsp::frame(std::string(50000, '[') + std::string(50000, ']')));
  CHECK(lsp.read_message()["error"]["code"] == -32700);
  // A message over the size limit: an error, and its bytes are skipped.
  const std::string huge =
      "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":\"" + std::string(1 << 20, 'a') + "\"}";
  lsp.send_raw(journey::lsp::frame(huge));
  r = lsp.read_message();
  CHECK(r["error"]["code"] == -32600);
  CHECK(r["error"]["message"].get<std::string>().find("larger than the limit of 100000 bytes") !=
        std::string::npos);
  // Garbage where a header should be: an error for it, then the next message is read.
  lsp.send_raw("hello there\r\n\r\n");
  CHECK(lsp.read_message()["error"]["code"] == -32600);
  // Invalid UTF-8 in a message: a parse error.
  lsp.send_raw(journey::lsp::frame("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"\xFF\"}"));
  CHECK(lsp.read_message()["error"]["code"] == -32700);
  // Still serving: a document outside any folder, with a syntax error.
  const std::string uri = "file:///tmp/journey-lsp-no-such-folder/bad.journey";
  open(lsp, uri, "journey j {\n  entry on\n}\n");
  settle(lsp, uri, {"E001"});
  r = lsp.request("textDocument/documentSymbol", {{"textDocument", {{"uri", uri}}}});
  CHECK(r["result"][0]["name"] == "journey j");
  // After shutdown, requests are refused; exit ends with 0.
  CHECK(lsp.request("shutdown", nullptr)["result"].is_null());
  CHECK(lsp.request("textDocument/hover", at(uri, 0, 0))["error"]["code"] == -32600);
  lsp.notify("exit", nullptr);
  CHECK(lsp.wait_exit() == 0);
}

TEST_CASE("journey lsp: exit without shutdown, or a closed stream, ends with 1", "[lsp]") {
  {
    LspProcess lsp;
    lsp.initialize("");
    lsp.notify("exit", nullptr);
    CHECK(lsp.wait_exit() == 1);
  }
  {
    LspProcess lsp;
    lsp.initialize("");
    lsp.close_input();
    CHECK(lsp.wait_exit() == 1);
  }
}
