#include "docker_engine.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <mutex>

#include "docker_api.hpp"

namespace wisp::invoker::docker {
namespace {

struct StreamState {
    CURL* handle = nullptr;
    const std::function<bool(std::string_view)>* on_data = nullptr;
    std::string error_body;
    bool stopped = false;
    std::chrono::steady_clock::time_point last_data;
};

size_t StreamWrite(char* data, size_t size, size_t nmemb, void* user) {
    auto* st = static_cast<StreamState*>(user);
    const size_t n = size * nmemb;
    st->last_data = std::chrono::steady_clock::now();
    long status = 0;
    curl_easy_getinfo(st->handle, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        if (st->error_body.size() < (64u << 10)) st->error_body.append(data, n);
        return n;
    }
    if (!(*st->on_data)(std::string_view(data, n))) {
        st->stopped = true;
        return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
    }
    return n;
}

long ToMillis(std::chrono::milliseconds d) {
    return static_cast<long>(std::max<int64_t>(d.count(), 1));
}

}  // namespace

DockerEngine::DockerEngine(std::string socket_path, std::string api_version)
    : socket_path_(std::move(socket_path)), api_version_(std::move(api_version)) {}

DockerEngine::~DockerEngine() = default;

std::string DockerEngine::NotAnswering(std::string_view detail) const {
    return "Docker at " + socket_path_ + " is not answering: " + std::string(detail) +
           "; start it with tools/start-dockerd.sh";
}

namespace {

// Options shared by Call and Stream. `headers` must outlive the transfer.
void Prepare(CURL* h, const std::string& socket_path, const std::string& url, curl_slist* headers,
             char* error_buffer) {
    curl_easy_reset(h);  // keeps the live connection
    curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, socket_path.c_str());
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    error_buffer[0] = '\0';
}

}  // namespace

absl::StatusOr<DockerEngine::Response> DockerEngine::Call(std::string_view method,
                                                          std::string_view path,
                                                          std::string_view body,
                                                          std::chrono::milliseconds timeout) {
    CURL* h = handles_.Acquire();
    if (h == nullptr) return absl::InternalError("curl_easy_init failed");
    const std::string url = "http://localhost/" + api_version_ + std::string(path);
    const std::string method_str(method);
    curl_slist* headers = curl_slist_append(nullptr, "Expect:");
    if (!body.empty()) headers = curl_slist_append(headers, "Content-Type: application/json");
    char error_buffer[CURL_ERROR_SIZE];
    Prepare(h, socket_path_, url, headers, error_buffer);
    Response response;
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ToMillis(timeout));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &common::CurlAppendToString);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
    if (method_str == "GET") {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (method_str == "POST") {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.empty() ? "" : body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method_str.c_str());
        if (!body.empty()) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        }
    }
    const CURLcode code = curl_easy_perform(h);
    curl_slist_free_all(headers);
    if (code != CURLE_OK) {
        const std::string error = common::CurlErrorText(code, error_buffer);
        curl_easy_cleanup(h);  // its connection may be in any state
        if (code == CURLE_OPERATION_TIMEDOUT) {
            return absl::UnavailableError("Docker at " + socket_path_ + " did not answer " +
                                          method_str + " " +
                                          std::string(path.substr(0, path.find('?'))) + " within " +
                                          std::to_string(timeout.count()) + " ms: " + error);
        }
        return absl::UnavailableError(NotAnswering(error));
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    handles_.Release(h);
    return response;
}

absl::StatusOr<DockerEngine::Response> DockerEngine::Stream(
    std::string_view path, const std::function<bool(std::string_view)>& on_data,
    std::chrono::milliseconds idle, std::chrono::steady_clock::time_point deadline,
    bool* timed_out) {
    *timed_out = false;
    CURL* h = handles_.Acquire();
    if (h == nullptr) return absl::InternalError("curl_easy_init failed");
    CURLM* multi = curl_multi_init();
    if (multi == nullptr) {
        handles_.Release(h);
        return absl::InternalError("curl_multi_init failed");
    }
    const std::string url = "http://localhost/" + api_version_ + std::string(path);
    curl_slist* headers = curl_slist_append(nullptr, "Expect:");
    char error_buffer[CURL_ERROR_SIZE];
    Prepare(h, socket_path_, url, headers, error_buffer);
    StreamState st;
    st.handle = h;
    st.on_data = &on_data;
    st.last_data = std::chrono::steady_clock::now();
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &StreamWrite);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
    curl_multi_add_handle(multi, h);

    CURLcode result = CURLE_OK;
    bool finished = false;
    while (!finished) {
        int running = 0;
        curl_multi_perform(multi, &running);
        int queued = 0;
        while (CURLMsg* msg = curl_multi_info_read(multi, &queued)) {
            if (msg->msg == CURLMSG_DONE) {
                result = msg->data.result;
                finished = true;
            }
        }
        if (finished || running == 0) {
            finished = true;
            break;
        }
        const auto now = std::chrono::steady_clock::now();
        if (now >= deadline || now - st.last_data >= idle) {
            *timed_out = true;
            break;
        }
        const auto until_idle = st.last_data + idle - now;
        const auto until_deadline = deadline - now;
        const auto wait = std::min<std::chrono::steady_clock::duration>(
            {until_idle, until_deadline, std::chrono::milliseconds(100)});
        const int wait_ms = static_cast<int>(std::max<int64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(wait).count(), 1));
        curl_multi_poll(multi, nullptr, 0, wait_ms, nullptr);
    }
    Response response;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
    curl_multi_remove_handle(multi, h);
    curl_multi_cleanup(multi);
    curl_slist_free_all(headers);
    // A stream cut short leaves its connection unusable; a fresh handle is cheap.
    curl_easy_cleanup(h);
    if (finished && result != CURLE_OK && !st.stopped) {
        return absl::UnavailableError(NotAnswering(common::CurlErrorText(result, error_buffer)));
    }
    if (!*timed_out && response.status == 0 && !st.stopped) {
        return absl::UnavailableError(NotAnswering("no answer"));
    }
    if (response.status != 200) response.body = std::move(st.error_body);
    return response;
}

[[nodiscard]] absl::Status EngineError(std::string_view what,
                                       const DockerEngine::Response& response) {
    const std::string message = "Docker failed to " + std::string(what) + " (HTTP " +
                                std::to_string(response.status) +
                                "): " + EngineErrorMessage(response.body);
    switch (response.status) {
        case 400:
            return absl::InvalidArgumentError(message);
        case 404:
            return absl::NotFoundError(message);
        case 409:
            return absl::FailedPreconditionError(message);
        default:
            return absl::InternalError(message);
    }
}

}  // namespace wisp::invoker::docker
