#include "kube_client.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace wisp::invoker::kube {
namespace {

long ToMillis(std::chrono::milliseconds d) {
    return static_cast<long>(std::max<int64_t>(d.count(), 1));
}

struct BoundedBody {
    std::string* out;
    size_t max;
    bool overflow = false;
};

size_t AppendBounded(char* data, size_t size, size_t nmemb, void* user) {
    auto* b = static_cast<BoundedBody*>(user);
    const size_t n = size * nmemb;
    if (b->out->size() + n > b->max) {
        b->overflow = true;
        return 0;
    }
    b->out->append(data, n);
    return n;
}

struct StreamState {
    CURL* handle = nullptr;
    const std::function<bool(std::string_view)>* on_line = nullptr;
    std::string pending;
    std::string error_body;
    bool stopped = false;
};

size_t StreamWrite(char* data, size_t size, size_t nmemb, void* user) {
    auto* st = static_cast<StreamState*>(user);
    const size_t n = size * nmemb;
    long status = 0;
    curl_easy_getinfo(st->handle, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        if (st->error_body.size() < (64u << 10)) st->error_body.append(data, n);
        return n;
    }
    st->pending.append(data, n);
    size_t start = 0;
    for (size_t nl; (nl = st->pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        std::string_view line(st->pending.data() + start, nl - start);
        if (line.empty()) continue;
        if (!(*st->on_line)(line)) {
            st->stopped = true;
            return 0;  // aborts the transfer
        }
    }
    st->pending.erase(0, start);
    if (st->pending.size() > (8u << 20)) return 0;  // a line without end
    return n;
}

std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string Trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

void SetBlob(CURL* h, CURLoption option, const std::string& pem) {
    curl_blob blob{const_cast<char*>(pem.data()), pem.size(), CURL_BLOB_COPY};
    curl_easy_setopt(h, option, &blob);
}

}  // namespace

absl::Status ValidateServerUrl(std::string_view url) {
    if (url.starts_with("https://")) return absl::OkStatus();
    if (url.starts_with("http://")) {
        std::string_view host = url.substr(7);
        host = host.substr(0, host.find_first_of("/?"));
        if (host.starts_with("[")) {
            host =
                host.substr(1, host.find(']') == std::string_view::npos ? 0 : host.find(']') - 1);
        } else {
            host = host.substr(0, host.find(':'));
        }
        if (host.starts_with("127.") || host == "::1" || host == "localhost") {
            return absl::OkStatus();
        }
        return absl::InvalidArgumentError(
            "The Kubernetes API URL '" + std::string(url) +
            "' uses plain http to a non-loopback host: use https (plain http only to 127.0.0.0/8 "
            "or ::1, for tests)");
    }
    return absl::InvalidArgumentError("The Kubernetes API URL '" + std::string(url) +
                                      "' is neither https:// nor http:// (set --kube-api)");
}

KubeClient::KubeClient(KubeApiConfig config)
    : config_(std::move(config)), url_status_(ValidateServerUrl(config_.server)) {
    while (!config_.server.empty() && config_.server.back() == '/') {
        config_.server.pop_back();
    }
}

std::string KubeClient::Token() {
    if (config_.token_file.empty()) return config_.token;
    std::lock_guard lock(token_mu_);
    const auto now = std::chrono::steady_clock::now();
    if (token_.empty() || now - token_read_ > std::chrono::minutes(1)) {
        std::string t = Trim(ReadFile(config_.token_file));
        if (!t.empty()) token_ = std::move(t);
        token_read_ = now;
    }
    return token_;
}

std::string KubeClient::Unreachable(std::string_view detail) const {
    return "The Kubernetes API at " + config_.server + " (" + config_.source +
           ") is not answering: " + std::string(detail) +
           "; check --kube-api / --kubeconfig, or the in-cluster service account";
}

namespace {

void Prepare(CURL* h, const KubeApiConfig& config, const std::string& url, curl_slist* headers,
             char* error_buffer) {
    curl_easy_reset(h);  // keeps the live connection
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (!config.ca_pem.empty()) SetBlob(h, CURLOPT_CAINFO_BLOB, config.ca_pem);
    if (!config.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, config.ca_file.c_str());
    if (!config.client_cert_pem.empty()) {
        SetBlob(h, CURLOPT_SSLCERT_BLOB, config.client_cert_pem);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (!config.client_cert_file.empty()) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, config.client_cert_file.c_str());
    }
    if (!config.client_key_pem.empty()) {
        SetBlob(h, CURLOPT_SSLKEY_BLOB, config.client_key_pem);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (!config.client_key_file.empty()) {
        curl_easy_setopt(h, CURLOPT_SSLKEY, config.client_key_file.c_str());
    }
    if (config.insecure_skip_tls_verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    error_buffer[0] = '\0';
}

curl_slist* Headers(const std::string& token, std::string_view content_type, bool body) {
    curl_slist* headers = curl_slist_append(nullptr, "Expect:");
    headers = curl_slist_append(headers, "Accept: application/json");
    if (body) {
        headers =
            curl_slist_append(headers, ("Content-Type: " + std::string(content_type)).c_str());
    }
    if (!token.empty()) {
        headers = curl_slist_append(headers, ("Authorization: Bearer " + token).c_str());
    }
    return headers;
}

}  // namespace

absl::StatusOr<KubeClient::Response> KubeClient::Call(std::string_view method,
                                                      std::string_view path, std::string_view body,
                                                      std::chrono::milliseconds timeout,
                                                      size_t max_bytes,
                                                      std::string_view content_type) {
    if (!url_status_.ok()) return url_status_;
    CURL* h = handles_.Acquire();
    if (h == nullptr) return absl::InternalError("curl_easy_init failed");
    const std::string url = config_.server + std::string(path);
    const std::string method_str(method);
    curl_slist* headers = Headers(Token(), content_type, !body.empty());
    char error_buffer[CURL_ERROR_SIZE];
    Prepare(h, config_, url, headers, error_buffer);
    Response response;
    BoundedBody sink{&response.body, max_bytes};
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ToMillis(timeout));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &AppendBounded);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
    if (method_str == "GET") {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else {
        if (method_str == "POST") {
            curl_easy_setopt(h, CURLOPT_POST, 1L);
        } else {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method_str.c_str());
        }
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    const CURLcode code = curl_easy_perform(h);
    curl_slist_free_all(headers);
    if (sink.overflow) {
        curl_easy_cleanup(h);
        return absl::ResourceExhaustedError("The Kubernetes API answered " + method_str + " " +
                                            std::string(path.substr(0, path.find('?'))) +
                                            " with more than " + std::to_string(max_bytes) +
                                            " bytes");
    }
    if (code != CURLE_OK) {
        const std::string error = common::CurlErrorText(code, error_buffer);
        curl_easy_cleanup(h);
        return absl::UnavailableError(Unreachable(
            method_str + " " + std::string(path.substr(0, path.find('?'))) + ": " + error));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    handles_.Release(h);
    return response;
}

absl::StatusOr<KubeClient::Response> KubeClient::Stream(
    std::string_view path, const std::function<bool(std::string_view)>& on_line,
    std::chrono::steady_clock::time_point deadline) {
    if (!url_status_.ok()) return url_status_;
    CURL* h = curl_easy_init();  // a stream cut short leaves its connection unusable
    if (h == nullptr) return absl::InternalError("curl_easy_init failed");
    const std::string url = config_.server + std::string(path);
    curl_slist* headers = Headers(Token(), "", false);
    char error_buffer[CURL_ERROR_SIZE];
    Prepare(h, config_, url, headers, error_buffer);
    StreamState st;
    st.handle = h;
    st.on_line = &on_line;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ToMillis(left));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &StreamWrite);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
    const CURLcode code = curl_easy_perform(h);
    Response response;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    curl_slist_free_all(headers);
    const std::string error = common::CurlErrorText(code, error_buffer);
    curl_easy_cleanup(h);
    if (code != CURLE_OK && !st.stopped && code != CURLE_OPERATION_TIMEDOUT) {
        return absl::UnavailableError(Unreachable("watch: " + error));
    }
    if (response.status != 200) response.body = std::move(st.error_body);
    return response;
}

}  // namespace wisp::invoker::kube
