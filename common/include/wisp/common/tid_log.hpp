#pragma once
// The one way to log on a request path: every line names the transaction id of the request it
// belongs to, so `grep <tid>` over the controller's and the invokers' logs follows one
// activation end to end. Lines that belong to no request (start-up, pool housekeeping) use
// spdlog directly.
//
//   common::TidLog(call->tid).error("storing activation {} failed: {}", id, msg);
//
// The prefix is "[<tid>] "; an empty transaction id logs "[-] " so every request line has the
// same shape. The tid is the controller's (or the client's bounded X-Request-ID), never free text.
#include <string_view>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace wisp::common {

class TidLog {
  public:
    explicit TidLog(std::string_view tid) : tid_(tid.empty() ? std::string_view("-") : tid) {}

    template <class... Args>
    void debug(fmt::format_string<Args...> f, Args&&... args) const {
        Log(spdlog::level::debug, f, std::forward<Args>(args)...);
    }
    template <class... Args>
    void info(fmt::format_string<Args...> f, Args&&... args) const {
        Log(spdlog::level::info, f, std::forward<Args>(args)...);
    }
    template <class... Args>
    void warn(fmt::format_string<Args...> f, Args&&... args) const {
        Log(spdlog::level::warn, f, std::forward<Args>(args)...);
    }
    template <class... Args>
    void error(fmt::format_string<Args...> f, Args&&... args) const {
        Log(spdlog::level::err, f, std::forward<Args>(args)...);
    }

    std::string_view tid() const { return tid_; }

  private:
    template <class... Args>
    void Log(spdlog::level::level_enum level, fmt::format_string<Args...> f, Args&&... args) const {
        if (!spdlog::should_log(level)) return;  // no formatting for filtered lines
        spdlog::log(level, "[{}] {}", tid_, fmt::format(f, std::forward<Args>(args)...));
    }

    std::string_view tid_;
};

}  // namespace wisp::common
