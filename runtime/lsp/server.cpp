#include "runtime/lsp/server.hpp"

#include <functional>
#include <map>

#include "runtime/common/json_guard.hpp"
#include "runtime/lsp/features.hpp"

namespace journey::lsp {

namespace {

using nlohmann::json;

json error_response(const json& id, ErrorCode code, const std::string& message) {
  return {{"jsonrpc", "2.0"},
          {"id", id},
          {"error", {{"code", static_cast<int>(code)}, {"message", message}}}};
}

json notification_message(const std::string& method, json params) {
  return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

/// A request's answer that is an error, thrown by the dispatch below.
struct Failure {
  ErrorCode code;
  std::string message;
};

using Feature = json (*)(Project&, const json&);

const std::map<std::string, Feature, std::less<>>& features() {
  static const std::map<std::string, Feature, std::less<>> table = {
      {"textDocument/completion", completion},           {"textDocument/hover", hover},
      {"textDocument/definition", definition},           {"textDocument/references", references},
      {"textDocument/prepareRename", prepare_rename},    {"textDocument/rename", rename},
      {"textDocument/documentSymbol", document_symbols}, {"textDocument/formatting", formatting},
      {"textDocument/codeAction", code_actions},
  };
  return table;
}

/// The editor's settings for journey: `{"plan": "...", "channels": [...]}`, also accepted inside
/// `{"journey": {...}}` as workspace/didChangeConfiguration sends them.
ClientSettings settings_from(const json& value) {
  ClientSettings out;
  const json* s = &value;
  if (s->is_object() && s->contains("journey")) s = &s->at("journey");
  if (!s->is_object()) return out;
  if (const auto it = s->find("plan"); it != s->end() && it->is_string())
    out.plan = it->get<std::string>();
  if (const auto it = s->find("channels"); it != s->end() && it->is_array()) {
    std::vector<std::string> channels;
    for (const auto& c : *it) {
      if (c.is_string() && !c.get<std::string>().empty()) channels.push_back(c.get<std::string>());
    }
    if (!channels.empty()) out.channels = std::move(channels);
  }
  return out;
}

const json& text_document(const json& params) {
  if (!params.is_object() || !params.contains("textDocument") ||
      !params["textDocument"].is_object() || !params["textDocument"].contains("uri") ||
      !params["textDocument"]["uri"].is_string())
    throw InvalidParams("missing textDocument.uri");
  return params["textDocument"];
}

Position position_from(const json& p) {
  return {p.at("line").get<std::uint32_t>(), p.at("character").get<std::uint32_t>()};
}

}  // namespace

json Server::framing_error(const std::string& message) {
  return error_response(nullptr, ErrorCode::InvalidRequest, message);
}

std::vector<json> Server::receive(std::string_view body) {
  if (const auto limit = runtime::check_json_limits(body, options_.max_json_depth)) {
    return {error_response(nullptr, ErrorCode::ParseError,
                           "cannot take the message: " + limit->message + " at " + limit->path)};
  }
  json message;
  try {
    message = json::parse(body);
  } catch (const json::parse_error& e) {
    return {error_response(nullptr, ErrorCode::ParseError,
                           std::string("the message is not JSON: ") + e.what())};
  }
  if (!message.is_object()) {
    return {error_response(nullptr, ErrorCode::InvalidRequest,
                           "a message must be a JSON object (batches are not part of LSP)")};
  }
  const auto id = message.find("id");
  const bool has_id = id != message.end();
  if (has_id && !id->is_number_integer() && !id->is_string() && !id->is_null()) {
    return {
        error_response(nullptr, ErrorCode::InvalidRequest, "`id` must be a number or a string")};
  }
  const json reply_id = has_id ? *id : json(nullptr);
  const auto method = message.find("method");
  if (method == message.end()) {
    if (has_id && (message.contains("result") || message.contains("error")))
      return {};  // a response to a request of ours: the server sends none it waits for
    return {error_response(reply_id, ErrorCode::InvalidRequest, "a message needs a `method`")};
  }
  if (!method->is_string() || message.value("jsonrpc", json()) != "2.0") {
    if (!has_id) return {};
    return {error_response(reply_id, ErrorCode::InvalidRequest,
                           "a request needs `\"jsonrpc\": \"2.0\"` and a string `method`")};
  }
  const std::string name = method->get<std::string>();
  const json params = message.value("params", json::object());
  if (!has_id) {
    try {
      notification(name, params);
    } catch (const std::exception&) {
      // A notification has no answer: one that does not fit is dropped.
    }
    return {};
  }
  try {
    return {{{"jsonrpc", "2.0"}, {"id", reply_id}, {"result", request(name, params)}}};
  } catch (const Failure& f) {
    return {error_response(reply_id, f.code, f.message)};
  } catch (const InvalidParams& e) {
    return {error_response(reply_id, ErrorCode::InvalidParams, e.what())};
  } catch (const json::exception& e) {
    return {error_response(reply_id, ErrorCode::InvalidParams,
                           std::string("invalid params: ") + e.what())};
  } catch (const RequestFailed& e) {
    return {error_response(reply_id, ErrorCode::RequestFailed, e.what())};
  } catch (const std::exception& e) {
    return {error_response(reply_id, ErrorCode::InternalError, e.what())};
  }
}

json Server::request(const std::string& method, const json& params) {
  if (method == "initialize") {
    if (initialized_) throw Failure{ErrorCode::InvalidRequest, "initialize was already sent"};
    return initialize(params);
  }
  if (!initialized_)
    throw Failure{ErrorCode::ServerNotInitialized, "the server is not initialized yet"};
  if (shutdown_) throw Failure{ErrorCode::InvalidRequest, "the server is shutting down"};
  if (method == "shutdown") {
    shutdown_ = true;
    return nullptr;
  }
  const auto it = features().find(method);
  if (it == features().end()) throw Failure{ErrorCode::MethodNotFound, "unknown method " + method};
  return it->second(project_, params);
}

json Server::initialize(const json& params) {
  if (!params.is_object()) throw InvalidParams("initialize needs params");
  const auto folders = params.find("workspaceFolders");
  if (folders != params.end() && folders->is_array()) {
    for (const auto& f : *folders) {
      if (f.is_object() && f.contains("uri") && f["uri"].is_string()) {
        const std::string path = uri_to_path(f["uri"].get<std::string>());
        if (!path.empty()) project_.add_folder(path);
      }
    }
  } else if (params.contains("rootUri") && params["rootUri"].is_string()) {
    const std::string path = uri_to_path(params["rootUri"].get<std::string>());
    if (!path.empty()) project_.add_folder(path);
  }
  if (params.contains("initializationOptions"))
    project_.set_settings(settings_from(params["initializationOptions"]));
  initialized_ = true;
  return {{"capabilities",
           {{"positionEncoding", "utf-16"},
            {"textDocumentSync", {{"openClose", true}, {"change", 2}}},
            {"completionProvider", {{"triggerCharacters", {".", "("}}}},
            {"hoverProvider", true},
            {"definitionProvider", true},
            {"referencesProvider", true},
            {"renameProvider", {{"prepareProvider", true}}},
            {"documentSymbolProvider", true},
            {"documentFormattingProvider", true},
            {"codeActionProvider", {{"codeActionKinds", {"quickfix"}}}},
            {"workspace",
             {{"workspaceFolders", {{"supported", true}, {"changeNotifications", true}}}}}}},
          {"serverInfo", {{"name", "journey"}, {"version", options_.version}}}};
}

void Server::notification(const std::string& method, const json& params) {
  if (method == "exit") {
    finished_ = true;
    return;
  }
  if (!initialized_ || shutdown_) return;
  if (method == "textDocument/didOpen") {
    const json& doc = text_document(params);
    project_.open(doc["uri"].get<std::string>(), doc.at("text").get<std::string>());
  } else if (method == "textDocument/didChange") {
    Script* script = project_.find(text_document(params)["uri"].get<std::string>());
    if (script == nullptr) return;
    project_.edited(*script);  // first: a change that does not fit may follow ones applied
    for (const auto& change : params.at("contentChanges")) {
      const std::string text = change.at("text").get<std::string>();
      if (change.contains("range")) {
        const json& range = change["range"];
        script->document.replace(position_from(range.at("start")), position_from(range.at("end")),
                                 text);
      } else {
        script->document.set(text);
      }
    }
  } else if (method == "textDocument/didClose") {
    project_.close(text_document(params)["uri"].get<std::string>());
  } else if (method == "workspace/didChangeWatchedFiles") {
    for (const auto& change : params.at("changes"))
      project_.disk_changed(change.at("uri").get<std::string>());
  } else if (method == "workspace/didChangeConfiguration") {
    project_.set_settings(settings_from(params.value("settings", json::object())));
  } else if (method == "workspace/didChangeWorkspaceFolders") {
    const json& event = params.at("event");
    for (const auto& f : event.value("removed", json::array()))
      project_.remove_folder(uri_to_path(f.at("uri").get<std::string>()));
    for (const auto& f : event.value("added", json::array())) {
      const std::string path = uri_to_path(f.at("uri").get<std::string>());
      if (!path.empty()) project_.add_folder(path);
    }
  }
  // Anything else (initialized, $/cancelRequest, $/setTrace, ...) needs nothing.
}

std::vector<json> Server::idle() {
  std::vector<json> out;
  if (!initialized_ || shutdown_) return out;
  project_.analyse();
  std::vector<std::string> forgotten;
  for (const Script* s : project_.take_unpublished(forgotten)) {
    out.push_back(
        notification_message("textDocument/publishDiagnostics", diagnostics_params(project_, *s)));
  }
  for (const auto& uri : forgotten) {
    out.push_back(notification_message("textDocument/publishDiagnostics",
                                       {{"uri", uri}, {"diagnostics", json::array()}}));
  }
  return out;
}

}  // namespace journey::lsp
