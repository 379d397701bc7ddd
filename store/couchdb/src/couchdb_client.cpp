#include "couchdb_client.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <thread>

#include <rapidjson/document.h>
#include <spdlog/spdlog.h>
#include <wisp/common/json.hpp>

namespace wisp::store::couchdb {
namespace {

constexpr int kMaxBackoffMs = 5000;

// Failures worth another attempt: the server may be starting, restarting or overloaded.
bool IsTransient(CURLcode code) {
    switch (code) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
            return true;
        default:
            return false;
    }
}

// Whether a failed attempt may have delivered the request (so a write may have happened).
bool MayHaveReachedServer(CURLcode code) {
    return code != CURLE_COULDNT_RESOLVE_HOST && code != CURLE_COULDNT_CONNECT;
}

bool IsTransientStatus(long status) {
    return status == 500 || status == 502 || status == 503 || status == 504;
}

int BackoffMs(const CouchDbConfig& config, int retry) {
    int64_t delay = std::max(config.initial_backoff_ms, 0);
    for (int i = 0; i < retry && delay < kMaxBackoffMs; ++i) delay *= 2;
    delay = std::min<int64_t>(delay, kMaxBackoffMs);
    if (delay <= 1) return static_cast<int>(delay);
    // +-25% jitter so that concurrent callers do not retry in lockstep.
    thread_local std::minstd_rand rng(std::random_device{}());
    std::uniform_int_distribution<int64_t> jitter(-delay / 4, delay / 4);
    return static_cast<int>(delay + jitter(rng));
}

std::string CouchError(std::string_view body) {
    rapidjson::Document doc;
    if (common::ParseJson(body, doc).ok() && doc.IsObject()) {
        std::string out;
        auto error = doc.FindMember("error");
        if (error != doc.MemberEnd() && error->value.IsString()) out = error->value.GetString();
        auto reason = doc.FindMember("reason");
        if (reason != doc.MemberEnd() && reason->value.IsString()) {
            Append(out, out.empty() ? "" : ": ", reason->value.GetString());
        }
        if (!out.empty()) return out;
    }
    return std::string(body.substr(0, 200));
}

}  // namespace

std::string Encode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size() * 3);
    for (unsigned char c : s) {
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    return out;
}

CouchDbClient::CouchDbClient(const CouchDbConfig& config) : config_(config) {
    headers_ = curl_slist_append(headers_, "Content-Type: application/json");
    headers_ = curl_slist_append(headers_, "Accept: application/json");
    headers_ = curl_slist_append(headers_, "Expect:");  // no 100-continue round trip
}

CouchDbClient::~CouchDbClient() { curl_slist_free_all(headers_); }

size_t CouchDbClient::IdleHandles() const { return handles_.IdleCount(); }

absl::Status CouchDbClient::Unexpected(const HttpResponse& r, std::string_view what) const {
    return absl::InternalError(Cat("CouchDB at ", config_.url, " answered ", r.status, " to ", what,
                                   ": ", CouchError(r.body)));
}

absl::StatusOr<HttpResponse> CouchDbClient::Request(std::string_view method, std::string_view path,
                                                    std::string_view body) {
    CURL* h = handles_.Acquire();
    if (h == nullptr) return absl::InternalError("curl_easy_init failed");
    const std::string url = Cat(config_.url, path);
    const std::string method_str(method);
    const int attempts = 1 + std::max(config_.max_retries, 0);
    // What messages and logs show: the path without its query (view keys can hold API keys).
    const std::string_view what = path.substr(0, path.find('?'));
    bool ambiguous = false;
    long last_status = 0;
    std::string last_error;

    for (int attempt = 0; attempt < attempts; ++attempt) {
        if (attempt > 0) {
            const int delay = BackoffMs(config_, attempt - 1);
            spdlog::warn("CouchDB at {}: {} {} failed ({}); retry {}/{} in {} ms", config_.url,
                         method_str, what, last_error, attempt, attempts - 1, delay);
            std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        }
        HttpResponse response;
        char error_buffer[CURL_ERROR_SIZE] = {0};
        curl_easy_reset(h);  // keeps the live connection
        curl_easy_setopt(h, CURLOPT_URL, url.c_str());
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers_);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                         static_cast<long>(config_.connect_timeout_ms));
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.request_timeout_ms));
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &common::CurlAppendToString);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
        if (!config_.username.empty() || !config_.password.empty()) {
            curl_easy_setopt(h, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
            curl_easy_setopt(h, CURLOPT_USERNAME, config_.username.c_str());
            curl_easy_setopt(h, CURLOPT_PASSWORD, config_.password.c_str());
        }
        if (method == "GET") {
            curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
        } else if (method == "HEAD") {
            curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
        } else {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method_str.c_str());
            if (method != "DELETE" || !body.empty()) {
                // Never NULL: that would make libcurl read the body from stdin.
                curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
                curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                                 static_cast<curl_off_t>(body.size()));
            }
        }

        const CURLcode code = curl_easy_perform(h);
        if (code != CURLE_OK) {
            last_error = common::CurlErrorText(code, error_buffer);
            if (MayHaveReachedServer(code)) ambiguous = true;
            last_status = 0;
            if (IsTransient(code)) continue;
            break;
        }
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
        if (IsTransientStatus(response.status)) {
            last_error = Cat("HTTP ", response.status, " ", CouchError(response.body));
            last_status = response.status;
            ambiguous = true;
            continue;
        }
        handles_.Release(h);
        response.ambiguous = ambiguous;
        return response;
    }
    const std::string tries = Cat(attempts, attempts == 1 ? " attempt" : " attempts");
    if (last_status != 0) {
        handles_.Release(h);
        return absl::UnavailableError(Cat("CouchDB at ", config_.url,
                                          " keeps failing: ", last_error, " (", method_str, " ",
                                          what, ", ", tries, "); check the CouchDB server's log"));
    }
    // The handle's connection may be broken: do not pool it.
    curl_easy_cleanup(h);
    return absl::UnavailableError(Cat("CouchDB at ", config_.url, " is unreachable: ", last_error,
                                      " (", method_str, " ", what, ", ", tries,
                                      "); is it running? check WISP_COUCHDB_URL"));
}

}  // namespace wisp::store::couchdb
