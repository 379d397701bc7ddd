#pragma once
// The OpenWhisk action protocol as data: request parsing, env naming, result validation and the
// exact texts OpenWhisk's runtimes answer with (wire §5). Pure functions, no I/O except
// WriteSentinels.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace wisp::proxy {

/// Written to stdout AND stderr after every activation; the invoker cuts logs there.
inline constexpr std::string_view kSentinel = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX\n";

// Texts of OpenWhisk's runtimes (Go actionloop proxy, Node.js runtime, dockerskeleton).
inline constexpr std::string_view kReinitText = "Cannot initialize the action more than once.";
inline constexpr std::string_view kMissingCodeText = "Missing main/no code to execute.";
inline constexpr std::string_view kNotInitializedText = "no action defined yet";
inline constexpr std::string_view kNotDictionaryText =
    "The action did not return a dictionary or array.";
inline constexpr std::string_view kExitedDuringInitText =
    "cannot start action: Command exited abruptly during initialization.";
inline constexpr std::string_view kNativeInitFailedText =
    "The action failed to generate or locate a binary. See logs for details.";
inline constexpr std::string_view kNativeMissingBinaryText =
    "The action failed to locate a binary. See logs for details.";
inline constexpr std::string_view kArgumentNotObjectText =
    "The action did not receive a dictionary or array as an argument.";
/// OpenWhisk's invoker text for an action process that died during /run.
inline constexpr std::string_view kAbnormalRunText =
    "The action did not produce a valid response and exited unexpectedly.";

/// A result line longer than the proxy reads (Launcher's max_line_bytes).
inline std::string ResultTooLongText(size_t max_bytes) {
    return "The action produced a response that exceeded the allowed length: more than " +
           std::to_string(max_bytes) + " bytes.";
}

/// An HTTP answer of the proxy: status and a JSON body.
struct Reply {
    int status = 200;
    std::string body;
    /// /run with `X-Wisp-Logs: inline`: the activation's lines (EncodeLogs), sent after the
    /// body with the headers X-Wisp-Result-Length and X-Wisp-Logs-Truncated.
    std::optional<std::string> logs;
    bool logs_truncated = false;
};

/// {"error":"<text>"} with the text JSON-escaped.
std::string ErrorBody(std::string_view text);
Reply ErrorReply(int status, std::string_view text);
inline Reply OkReply() { return {200, "{\"ok\":true}"}; }

/// The `value` of POST /init.
struct InitRequest {
    std::string name;
    std::string main = "main";  // "main" when absent or empty
    bool binary = false;
    std::optional<std::string> code;  // absent (or null) for a blackbox without code
    /// `env` as NAME=value pairs: strings raw, null -> "", anything else compact JSON.
    std::vector<std::pair<std::string, std::string>> env;
};

/// Parses a /init body. On failure returns nullopt and sets `error` (Go: "Error unmarshaling
/// request: ...").
std::optional<InitRequest> ParseInitRequest(std::string_view body, std::string& error);

/// What a /run body holds, from one validating pass without building a DOM.
struct RunScan {
    enum class Value { kMissing, kObject, kArray, kOther };
    bool valid_json = false;
    bool is_object = false;
    Value value = Value::kMissing;
    std::string error;  // why valid_json or is_object is false
};
RunScan ScanRunRequest(std::string_view body);

/// A parsed /run body for kinds that need the pieces (native): the `value` as compact JSON and
/// the other keys as `__OW_<UPPER>` environment pairs.
struct RunRequest {
    std::string value_json = "{}";
    std::vector<std::pair<std::string, std::string>> env;
};
std::optional<RunRequest> ParseRunRequest(std::string_view body, std::string& error);

/// "action_name" -> "__OW_ACTION_NAME".
std::string ActivationEnvName(std::string_view key);

/// Removes '\n' and '\r' in place (valid JSON carries them only as whitespace) and appends one
/// '\n': the request becomes one line of the launcher protocol.
void MakeOneLine(std::string& json);

/// True when `text` (surrounding whitespace allowed) is one valid JSON object or array.
bool IsJsonObjectOrArray(std::string_view text);

/// The launcher's ready line: {"ok":true} -> nullopt; {"ok":false,"error":"x"} -> "x";
/// anything else -> a description.
std::optional<std::string> CheckAck(std::string_view line);

/// Native (dockerskeleton) output split: the last line of stdout is the result, the rest logs.
struct NativeOutput {
    std::string_view logs;    // everything before the last line, with its final newline
    std::string_view result;  // the last line, whitespace-trimmed
    bool too_long = false;    // the last line was longer than the limit (LastLineSplitter)
};
NativeOutput SplitNativeOutput(std::string_view out);

/// Streams native stdout: every line but the last is a log line and can be forwarded at once;
/// the last one is kept until EOF.
/// Memory stays bounded: a line longer than `max_line_bytes` is forwarded as logs as it streams
/// in; when it turns out to be the last line, the result is too long (Finish().too_long).
class LastLineSplitter {
  public:
    explicit LastLineSplitter(size_t max_line_bytes = size_t{64} << 20)
        : max_line_bytes_(max_line_bytes) {}
    /// Appends a chunk of stdout; returns the bytes now known to be logs.
    std::string Feed(std::string_view chunk);
    /// At EOF: the remaining logs and the result line (OpenWhisk's rule, SplitNativeOutput).
    NativeOutput Finish() const {
        if (!too_long_) return SplitNativeOutput(pending_);
        NativeOutput out;
        out.logs = "\n";  // ends the long line that was forwarded as logs
        out.too_long = true;
        return out;
    }

  private:
    size_t max_line_bytes_;
    std::string pending_;
    bool too_long_ = false;  // the line being read is over the limit (forwarded as logs)
};

/// Writes kSentinel to both descriptors (retrying short writes).
void WriteSentinels(int out_fd, int err_fd);
/// Writes all of `data` to `fd`, retrying on EINTR/short writes; false on error.
bool WriteAll(int fd, std::string_view data);

}  // namespace wisp::proxy
