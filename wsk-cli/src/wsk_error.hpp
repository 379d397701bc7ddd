#pragma once
// The error every wsk operation can end in, modelled on what users see: a message, the process
// exit code (HTTP status - 256 for API failures, 1 general, 2 usage, 3 network, 149 not
// allowed, 202 blocking invoke still running), and whether "Run 'wsk --help' for usage." follows.
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace wsk {

inline constexpr int kExitGeneral = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNetwork = 3;
inline constexpr int kExitNotAllowed = 149;
inline constexpr int kExitTimedOut = 202;

struct WskError {
    std::string message;
    int exit_code = kExitGeneral;
    bool display_usage = false;
    /// False when the output was already printed (application errors, blocking timeouts).
    bool display_msg = true;
    bool application_error = false;
    bool timed_out = false;

    static WskError General(std::string msg, bool usage = false) {
        return WskError{std::move(msg), kExitGeneral, usage};
    }
    static WskError Usage(std::string msg) { return WskError{std::move(msg), kExitUsage, true}; }

    /// "<context>: <message>" keeping the exit code and flags of this error; `usage` adds the
    /// usage hint (the Go CLI's MakeWskErrorFromWskError semantics).
    WskError Wrap(const std::string& context, bool usage = false) const {
        WskError e = *this;
        e.message = context + ": " + message;
        e.display_usage = display_usage || usage;
        e.display_msg = true;
        return e;
    }
};

/// A value or a WskError.
template <class T>
class Result {
  public:
    Result(T value) : v_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
    Result(WskError error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
    bool ok() const { return v_.index() == 0; }
    T& value() { return std::get<0>(v_); }
    const T& value() const { return std::get<0>(v_); }
    T& operator*() { return value(); }
    T* operator->() { return &value(); }
    const WskError& error() const { return std::get<1>(v_); }

  private:
    std::variant<T, WskError> v_;
};

/// Success or a WskError.
using Status = std::optional<WskError>;

}  // namespace wsk
