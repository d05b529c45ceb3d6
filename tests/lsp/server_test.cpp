// The request handler without pipes (runtime/lsp/server.hpp): messages in, messages out.
#include "runtime/lsp/server.hpp"

#include <catch2/catch.hpp>

using journey::lsp::Server;
using json = nlohmann::json;

namespace {

json one(const std::vector<json>& out) {
  REQUIRE(out.size() == 1);
  return out.front();
}

std::string message(const json& m) {
  return m.dump();
}

json change_to(int version, const std::string& text) {
  return {{"jsonrpc", "2.0"},
          {"method", "textDocument/didChange"},
          {"params",
           {{"textDocument", {{"uri", "untitled:draft"}, {"version", version}}},
            {"contentChanges", {{{"text", text}}}}}}};
}

}  // namespace

TEST_CASE("server: a burst of changes is checked and published once, when idle") {
  Server server({"test"});
  CHECK(server.idle().empty());  // before initialize: nothing
  const json init = one(server.receive(message(
      {{"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"}, {"params", json::object()}})));
  CHECK(init["result"]["serverInfo"] == json({{"name", "journey"}, {"version", "test"}}));
  CHECK(server
            .receive(message({{"jsonrpc", "2.0"},
                              {"method", "textDocument/didOpen"},
                              {"params",
                               {{"textDocument",
                                 {{"uri", "untitled:draft"},
                                  {"languageId", "journey"},
                                  {"version", 1},
                                  {"text", "journey a {\n  entry on x\n}\n"}}}}}}))
            .empty());
  for (int v = 2; v <= 4; ++v) {
    CHECK(server.receive(message(change_to(v, "journey a {\n  sned email \"x\"\n}\n"))).empty());
  }
  const json published = one(server.idle());
  CHECK(published["method"] == "textDocument/publishDiagnostics");
  CHECK(published["params"]["uri"] == "untitled:draft");
  CHECK(published["params"]["diagnostics"][0]["code"] == "E001");
  CHECK(server.idle().empty());  // nothing changed since
  // A change back to the same findings publishes nothing new.
  server.receive(message(change_to(5, "journey a {\n  sned email \"y\"\n}\n")));
  CHECK(server.idle().empty());
}

TEST_CASE("server: lifecycle and JSON-RPC errors") {
  Server server({"test"});
  const json early = one(server.receive(message({{"jsonrpc", "2.0"},
                                                 {"id", "a"},
                                                 {"method", "textDocument/hover"},
                                                 {"params", json::object()}})));
  CHECK(early ==
        json({{"jsonrpc", "2.0"},
              {"id", "a"},
              {"error", {{"code", -32002}, {"message", "the server is not initialized yet"}}}}));
  const json init = {
      {"jsonrpc", "2.0"}, {"id", 1}, {"method", "initialize"}, {"params", json::object()}};
  server.receive(message(init));
  CHECK(one(server.receive(message(init)))["error"]["code"] == -32600);
  CHECK(one(server.receive("{"))["error"]["code"] == -32700);
  CHECK(one(server.receive("42"))["error"]["code"] == -32600);
  CHECK(one(server.receive(R"({"jsonrpc":"2.0","id":{},"method":"x"})"))["error"]["code"] ==
        -32600);
  CHECK(one(server.receive(R"({"jsonrpc":"1.0","id":3,"method":"shutdown"})"))["id"] == 3);
  CHECK(server.receive(R"({"jsonrpc":"2.0","id":4,"result":null})").empty());  // a response
  CHECK(server.receive(R"({"jsonrpc":"2.0","method":"textDocument/didOpen","params":7})").empty());
  CHECK(one(server.receive(R"({"jsonrpc":"2.0","id":5,"method":"textDocument/definition",
      "params":{"textDocument":{"uri":"untitled:nothing"},"position":{"line":0,"character":0}}})"))
            ["error"]["code"] == -32602);
  CHECK(one(server.receive(R"({"jsonrpc":"2.0","id":6,"method":"shutdown"})"))["result"].is_null());
  CHECK_FALSE(server.finished());
  CHECK(server.receive(R"({"jsonrpc":"2.0","method":"exit"})").empty());
  CHECK(server.finished());
  CHECK(server.exit_code() == 0);
}
