// `journey lsp`: the language server, over standard input and output (see docs/editor.md).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "runtime/cli/command.hpp"
#include "runtime/lsp/framing.hpp"
#include "runtime/lsp/server.hpp"

namespace journey::cli {

namespace {

struct LspArgs {
  std::size_t max_message_bytes = std::size_t{64} << 20;
  bool stdio = true;  // the only transport; the flag is accepted as editors pass it
};

/// Writes a whole message; false when the editor is gone.
bool send(const nlohmann::json& message) {
  const std::string bytes =
      lsp::frame(message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(STDOUT_FILENO, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool send_all(const std::vector<nlohmann::json>& messages) {
  for (const auto& m : messages) {
    if (!send(m)) return false;
  }
  return true;
}

/// Whether more input is ready to read at once.
bool input_waiting() {
  pollfd in{STDIN_FILENO, POLLIN, 0};
  return ::poll(&in, 1, 0) > 0;
}

int run_lsp(const LspArgs& args) {
  ::signal(SIGPIPE, SIG_IGN);  // an editor that goes away is a failed write, not a signal
  lsp::Server server(lsp::ServerOptions{JOURNEY_VERSION});
  lsp::FrameReader reader(args.max_message_bytes);
  std::vector<char> chunk(std::size_t{1} << 16);
  while (true) {
    while (auto frame = reader.next()) {
      const bool sent = frame->error.empty() ? send_all(server.receive(frame->body))
                                             : send(lsp::Server::framing_error(frame->error));
      if (!sent) return 1;
      if (server.finished()) return server.exit_code();
    }
    // The messages that came together are handled: check once, then publish.
    if (!input_waiting()) {
      try {
        if (!send_all(server.idle())) return 1;
      } catch (const std::exception& e) {
        std::cerr << "journey lsp: internal error while checking: " << e.what() << "\n";
      }
    }
    const ssize_t n = ::read(STDIN_FILENO, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 1;  // the editor closed the stream without `exit`
    reader.feed(std::string_view(chunk.data(), static_cast<std::size_t>(n)));
  }
}

}  // namespace

void add_lsp(CLI::App& app, Run& run) {
  auto args = std::make_shared<LspArgs>();
  auto* sub = app.add_subcommand(
      "lsp",
      "The language server for editors (LSP 3.17 over standard input and output): diagnostics "
      "as you type, completion, hover, go to definition, references, rename, symbols, "
      "formatting and quick fixes. Lint settings come from the [lint] table of the nearest "
      ".journeyrc or journey.toml, or from the editor's settings (journey.plan, "
      "journey.channels). See docs/editor.md.");
  sub->add_flag("--stdio", args->stdio, "Talk over standard input and output (the default)");
  sub->add_option("--max-message-bytes", args->max_message_bytes,
                  "The largest message taken; larger ones are answered with an error")
      ->check(CLI::Range(std::size_t{1024}, std::size_t{1} << 32));
  sub->callback([&run, args] { run = [args] { return run_lsp(*args); }; });
}

}  // namespace journey::cli
