#pragma once
// The REST client: one libcurl request per call against <apihost>/api/<version>/, and the Go
// client library's reading of the answer (which bodies are API errors, application errors,
// blocking timeouts), so exit codes and messages match the reference CLI.
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "wsk_error.hpp"
#include "wskprops.hpp"

namespace wsk {

struct RequestOptions {
    /// A blocking invoke: a 202 answer is a "not yet finished" error (exit 202).
    bool exit_on_timeout = false;
    /// `activation get`: a failed activation record is not an error.
    bool activation_record = false;
    /// `?result=true`: the body is a bare result, never inspected for `response.success`.
    bool result_only = false;
    bool auth_required = true;
};

/// How the Go client reads a response; nullopt = success. Pure (unit-tested).
std::optional<WskError> ClassifyResponse(int status, std::string_view body,
                                         const RequestOptions& options);

/// The message of an application error result (`{"error": ...}`).
std::string ApplicationErrorMessage(const rapidjson::Value& error);

struct HttpResponse {
    int status = 0;
    std::string body;
    /// Parsed body (Null when empty or not JSON).
    rapidjson::Document json;
};

class WhiskClient {
  public:
    explicit WhiskClient(Config config) : config_(std::move(config)) {}

    const Config& config() const { return config_; }

    /// `method` on <base>/<version>/<path> (path like "namespaces/_/actions/x?blocking=true").
    /// On an error the response, when there was one, is still returned through `response`
    /// (application errors print the activation).
    [[nodiscard]] Result<HttpResponse> Do(const std::string& method, const std::string& path,
                                          const std::optional<std::string>& body,
                                          const RequestOptions& options = {});

    /// Unauthenticated GET of <base>/<version> (the API info document).
    [[nodiscard]] Result<HttpResponse> Info();
    /// Unauthenticated GET of the API host's root "/" (the platform document with `runtimes`).
    [[nodiscard]] Result<HttpResponse> Root();

    /// The response of the last Do, also when it failed (for application errors).
    HttpResponse& last_response() { return last_; }

  private:
    [[nodiscard]] Result<HttpResponse> Send(const std::string& method, const std::string& url,
                                            const std::optional<std::string>& body, bool with_auth);

    Config config_;
    HttpResponse last_;
};

/// Percent-encodes a path segment (entity names may contain spaces, '@', '&').
std::string EscapePath(std::string_view s);
/// Percent-encodes a query value.
std::string EscapeQuery(std::string_view s);

}  // namespace wsk
