// The language server's request handler: JSON-RPC messages in, responses and notifications out,
// with no I/O of its own (runtime/cli/lsp.cpp runs it over stdin and stdout), so that every
// method is tested without pipes. It follows LSP 3.17: the lifecycle (initialize, shutdown,
// exit), document sync (open, incremental changes, close, watched files, settings), and the
// features of features.hpp.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/lsp/project.hpp"

namespace journey::lsp {

/// JSON-RPC and LSP error codes.
enum class ErrorCode : int {
  ParseError = -32700,
  InvalidRequest = -32600,
  MethodNotFound = -32601,
  InvalidParams = -32602,
  InternalError = -32603,
  ServerNotInitialized = -32002,
  RequestFailed = -32803,
};

/// What the server was started with.
struct ServerOptions {
  std::string version;              // reported in `serverInfo`
  std::size_t max_json_depth = 64;  // deeper messages are refused before they are parsed
};

/// The server's state between messages.
class Server {
 public:
  explicit Server(ServerOptions options) : options_(std::move(options)) {}

  /// Handles one message (a frame's body); returns the messages to send, in order.
  std::vector<nlohmann::json> receive(std::string_view body);

  /// Called when no message is waiting: brings the analysis up to date and returns the
  /// diagnostics to publish (for each file whose diagnostics changed). Changes that come in a
  /// burst are so checked once.
  std::vector<nlohmann::json> idle();

  /// The answer to a frame the reader dropped (too large, malformed header).
  static nlohmann::json framing_error(const std::string& message);

  /// After `exit`: the server is done, with this exit code (0 when shutdown came first).
  bool finished() const { return finished_; }
  int exit_code() const { return shutdown_ ? 0 : 1; }

 private:
  nlohmann::json request(const std::string& method, const nlohmann::json& params);
  void notification(const std::string& method, const nlohmann::json& params);
  nlohmann::json initialize(const nlohmann::json& params);

  ServerOptions options_;
  Project project_;
  bool initialized_ = false;
  bool shutdown_ = false;
  bool finished_ = false;
};

}  // namespace journey::lsp
