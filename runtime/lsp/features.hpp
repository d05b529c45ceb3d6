// The language features of the server, one function per LSP request: each takes the project and
// the request's params and returns the result (JSON), bringing the analysis up to date first.
// Params that do not fit throw InvalidParams; a request that cannot be carried out (a rename to
// a name taken, formatting a file with syntax errors) throws RequestFailed.
#pragma once

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "runtime/lsp/project.hpp"

namespace journey::lsp {

/// Params that do not fit the method (answered with -32602).
class InvalidParams : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A request that is understood but cannot be carried out (answered with -32803).
class RequestFailed : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The `textDocument/publishDiagnostics` params of a script.
nlohmann::json diagnostics_params(const Project& project, const Script& script);

nlohmann::json completion(Project& project, const nlohmann::json& params);
nlohmann::json hover(Project& project, const nlohmann::json& params);
nlohmann::json definition(Project& project, const nlohmann::json& params);
nlohmann::json references(Project& project, const nlohmann::json& params);
nlohmann::json prepare_rename(Project& project, const nlohmann::json& params);
nlohmann::json rename(Project& project, const nlohmann::json& params);
nlohmann::json document_symbols(Project& project, const nlohmann::json& params);
nlohmann::json formatting(Project& project, const nlohmann::json& params);
nlohmann::json code_actions(Project& project, const nlohmann::json& params);

}  // namespace journey::lsp
