#include <wisp/common/curl_handle_pool.hpp>

namespace wisp::common {

CurlHandlePool::CurlHandlePool(size_t max_idle) : max_idle_(max_idle) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

CurlHandlePool::~CurlHandlePool() {
    for (CURL* h : idle_) curl_easy_cleanup(h);
}

CURL* CurlHandlePool::Acquire() {
    {
        std::lock_guard lock(mu_);
        if (!idle_.empty()) {
            CURL* h = idle_.back();
            idle_.pop_back();
            return h;
        }
    }
    return curl_easy_init();
}

void CurlHandlePool::Release(CURL* handle) {
    if (handle == nullptr) return;
    {
        std::lock_guard lock(mu_);
        if (idle_.size() < max_idle_) {
            idle_.push_back(handle);
            return;
        }
    }
    curl_easy_cleanup(handle);
}

size_t CurlHandlePool::IdleCount() const {
    std::lock_guard lock(mu_);
    return idle_.size();
}

size_t CurlAppendToString(char* data, size_t size, size_t nmemb, void* user) {
    static_cast<std::string*>(user)->append(data, size * nmemb);
    return size * nmemb;
}

std::string CurlErrorText(CURLcode code, const char* error_buffer) {
    std::string out = curl_easy_strerror(code);
    if (error_buffer != nullptr && error_buffer[0] != '\0') {
        out += " (";
        out += error_buffer;
        out += ")";
    }
    return out;
}

}  // namespace wisp::common
