#pragma once
// CurlHandlePool: reusable libcurl easy handles, so each HTTP client of the platform (CouchDB,
// the Docker Engine API) keeps its connections alive across requests and threads.
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include <curl/curl.h>

namespace wisp::common {

class CurlHandlePool {
  public:
    /// Keeps at most `max_idle` idle handles; initialises libcurl once per process.
    explicit CurlHandlePool(size_t max_idle);
    ~CurlHandlePool();
    CurlHandlePool(const CurlHandlePool&) = delete;
    CurlHandlePool& operator=(const CurlHandlePool&) = delete;

    /// An idle handle (its connection still open) or a new one. Thread-safe; never blocks on I/O.
    /// The caller resets the options it needs (curl_easy_reset keeps the connection).
    CURL* Acquire();
    /// Gives a handle back; beyond `max_idle` it is closed. Thread-safe.
    void Release(CURL* handle);
    /// Idle handles right now.
    size_t IdleCount() const;

  private:
    const size_t max_idle_;
    mutable std::mutex mu_;
    std::vector<CURL*> idle_;  // guarded by mu_
};

/// libcurl's write callback appending to the std::string passed as CURLOPT_WRITEDATA.
size_t CurlAppendToString(char* data, size_t size, size_t nmemb, void* user);

/// A failed transfer's error for messages: curl_easy_strerror(code), then the CURLOPT_ERRORBUFFER
/// text in parentheses when it has any ("Couldn't connect to server (Failed to connect to ...)").
std::string CurlErrorText(CURLcode code, const char* error_buffer);

}  // namespace wisp::common
