#pragma once
// CouchDbClient: a thread-safe HTTP/JSON client for one CouchDB server (private to the backend).
//
// Keeps a pool of libcurl easy handles (each keeps its keep-alive connection): a caller takes an
// idle handle or makes a new one, so there is one handle per concurrent caller. Every request
// sends `Content-Type: application/json` and basic auth when configured. Transient failures
// (connection refused/reset, timeouts, HTTP 500/502/503/504) are retried with exponential
// backoff up to `max_retries`.
#include <mutex>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <absl/status/statusor.h>
#include <curl/curl.h>
#include <wisp/common/curl_handle_pool.hpp>
#include <wisp/common/strings.hpp>

#include <wisp/store/couchdb_artifact_store.hpp>

namespace wisp::store::couchdb {

struct HttpResponse {
    long status = 0;
    std::string body;
    /// An earlier attempt of this request failed after it may have reached the server, so a
    /// write may already have happened (a later 409 can be our own write).
    bool ambiguous = false;
};

class CouchDbClient {
  public:
    explicit CouchDbClient(const CouchDbConfig& config);
    ~CouchDbClient();
    CouchDbClient(const CouchDbClient&) = delete;
    CouchDbClient& operator=(const CouchDbClient&) = delete;

    /// `method` GET|PUT|POST|DELETE|HEAD; `path` starts with "/" (already percent-encoded) and
    /// is appended to the server URL. Returns any HTTP answer (4xx included); Unavailable when
    /// the server cannot be reached or keeps failing after the retries. Blocks; thread-safe.
    [[nodiscard]] absl::StatusOr<HttpResponse> Request(std::string_view method,
                                                       std::string_view path,
                                                       std::string_view body = {});

    /// The server URL (no credentials).
    const std::string& url() const { return config_.url; }

    /// Internal "CouchDB at <url> answered <status> to <what>: <error>: <reason>".
    [[nodiscard]] absl::Status Unexpected(const HttpResponse& r, std::string_view what) const;

    /// Idle handles in the pool (tests).
    size_t IdleHandles() const;

  private:
    CouchDbConfig config_;
    curl_slist* headers_ = nullptr;
    common::CurlHandlePool handles_{64};
};

using common::Append;
using common::Cat;

/// Percent-encodes everything but RFC 3986 unreserved characters ("guest/a" -> "guest%2Fa").
std::string Encode(std::string_view s);

}  // namespace wisp::store::couchdb
