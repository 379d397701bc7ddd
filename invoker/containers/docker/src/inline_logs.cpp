#include "inline_logs.hpp"

#include <charconv>

#include <wisp/common/time.hpp>

namespace wisp::invoker::docker {

std::string FormatDockerTime(int64_t unix_nanos) {
    std::string t = common::FormatRfc3339Nanos(unix_nanos);  // "...:SS.nnnnnnnnnZ"
    const size_t dot = t.rfind('.');
    if (dot == std::string::npos || t.empty() || t.back() != 'Z') return t;
    size_t end = t.size() - 1;  // at 'Z'
    while (end > dot + 1 && t[end - 1] == '0') --end;
    if (end == dot + 1) end = dot;  // no fraction left: no dot either
    t.erase(end, t.size() - 1 - end);
    return t;
}

Container::Logs ParseInlineLogs(std::string_view logs, bool proxy_truncated, int64_t limit_bytes) {
    Container::Logs out;
    int64_t bytes = 0;
    while (!logs.empty() && !out.truncated) {
        const size_t nl = logs.find('\n');
        std::string_view line = logs.substr(0, nl);
        logs.remove_prefix(nl == std::string_view::npos ? logs.size() : nl + 1);
        int64_t nanos = 0;
        auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), nanos);
        if (ec != std::errc()) continue;
        line.remove_prefix(static_cast<size_t>(end - line.data()));
        std::string_view stream;
        if (line.starts_with(" stdout ")) {
            stream = "stdout";
        } else if (line.starts_with(" stderr ")) {
            stream = "stderr";
        } else {
            continue;
        }
        line.remove_prefix(8);
        if (bytes + static_cast<int64_t>(line.size()) > limit_bytes) {
            out.truncated = true;
            break;
        }
        bytes += static_cast<int64_t>(line.size());
        out.lines.push_back(
            LogLine{FormatDockerTime(nanos), std::string(stream), std::string(line)});
    }
    if (proxy_truncated) out.truncated = true;
    out.complete = true;
    return out;
}

}  // namespace wisp::invoker::docker
