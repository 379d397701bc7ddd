#include "protocol.hpp"

#include <poll.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>
#include <wisp/common/bounded_json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace wisp::proxy {
namespace {

std::string_view View(const rapidjson::Value& v) { return {v.GetString(), v.GetStringLength()}; }

std::string Compact(const rapidjson::Value& v) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    v.Accept(writer);
    return {buffer.GetString(), buffer.GetSize()};
}

// Environment text of a JSON value: strings raw, null empty, the rest compact JSON (this is what
// OpenWhisk's Go proxy and Node.js runtime export).
std::string EnvText(const rapidjson::Value& v) {
    if (v.IsString()) return std::string(View(v));
    if (v.IsNull()) return {};
    return Compact(v);
}

// The proxy parses with the platform's one bounded parser (header-only: the proxy links nothing of
// the platform). Bytes that are not UTF-8 pass through as before: the invoker replaces them.
json::JsonLimits ProxyJsonLimits() {
    json::JsonLimits limits;
    limits.validate_utf8 = false;
    return limits;
}

bool ParseDocument(std::string_view text, rapidjson::Document& doc, std::string& error) {
    std::string problem = json::ParseBounded(text, doc, ProxyJsonLimits());
    if (!problem.empty()) {
        error = "Error unmarshaling request: " + problem;
        return false;
    }
    return true;
}

// Validates a /run body and notes the type of its top-level "value" in one SAX pass.
struct RunScanner : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, RunScanner> {
    int depth = 0;
    bool top_is_object = false;
    bool next_is_value = false;
    RunScan::Value value = RunScan::Value::kMissing;

    void Note(RunScan::Value kind) {
        if (depth == 1 && next_is_value) value = kind;
        if (depth == 1) next_is_value = false;
    }
    bool Default() {
        Note(RunScan::Value::kOther);
        return true;
    }
    bool StartObject() {
        if (depth == 0) top_is_object = true;
        Note(RunScan::Value::kObject);
        ++depth;
        return true;
    }
    bool EndObject(rapidjson::SizeType) {
        --depth;
        return true;
    }
    bool StartArray() {
        Note(RunScan::Value::kArray);
        ++depth;
        return true;
    }
    bool EndArray(rapidjson::SizeType) {
        --depth;
        return true;
    }
    bool Key(const char* str, rapidjson::SizeType len, bool) {
        if (depth == 1) next_is_value = std::string_view(str, len) == "value";
        return true;
    }
};

// Accepts anything; used to validate without building a DOM.
struct NullHandler : rapidjson::BaseReaderHandler<rapidjson::UTF8<>, NullHandler> {};

}  // namespace

std::string ErrorBody(std::string_view text) {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    writer.StartObject();
    writer.Key("error");
    writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    writer.EndObject();
    return {buffer.GetString(), buffer.GetSize()};
}

Reply ErrorReply(int status, std::string_view text) { return {status, ErrorBody(text)}; }

std::optional<InitRequest> ParseInitRequest(std::string_view body, std::string& error) {
    rapidjson::Document doc;
    if (!ParseDocument(body, doc, error)) return std::nullopt;
    InitRequest req;
    if (!doc.IsObject()) {
        error = "Error unmarshaling request: the body must be a JSON object";
        return std::nullopt;
    }
    auto value_it = doc.FindMember("value");
    if (value_it == doc.MemberEnd() || value_it->value.IsNull()) return req;
    const rapidjson::Value& value = value_it->value;
    if (!value.IsObject()) {
        error = "Error unmarshaling request: 'value' must be a JSON object";
        return std::nullopt;
    }
    for (auto it = value.MemberBegin(); it != value.MemberEnd(); ++it) {
        const std::string_view key = View(it->name);
        const rapidjson::Value& v = it->value;
        if (key == "name" && v.IsString()) {
            req.name = std::string(View(v));
        } else if (key == "main" && v.IsString()) {
            if (v.GetStringLength() > 0) req.main = std::string(View(v));
        } else if (key == "binary") {
            req.binary = v.IsBool() && v.GetBool();
        } else if (key == "code") {
            if (v.IsString()) {
                req.code = std::string(View(v));
            } else if (!v.IsNull()) {
                error = "Error unmarshaling request: 'code' must be a string";
                return std::nullopt;
            }
        } else if (key == "env" && v.IsObject()) {
            for (auto e = v.MemberBegin(); e != v.MemberEnd(); ++e) {
                req.env.emplace_back(std::string(View(e->name)), EnvText(e->value));
            }
        }
    }
    return req;
}

RunScan ScanRunRequest(std::string_view body) {
    RunScan scan;
    RunScanner scanner;
    std::string problem = json::ParseBoundedSax(body, scanner, ProxyJsonLimits());
    if (!problem.empty()) {
        scan.error = "Error unmarshaling request: " + problem;
        return scan;
    }
    scan.valid_json = true;
    scan.is_object = scanner.top_is_object;
    scan.value = scanner.value;
    if (!scan.is_object) scan.error = "Error unmarshaling request: the body must be a JSON object";
    return scan;
}

std::optional<RunRequest> ParseRunRequest(std::string_view body, std::string& error) {
    rapidjson::Document doc;
    if (!ParseDocument(body, doc, error)) return std::nullopt;
    if (!doc.IsObject()) {
        error = "Error unmarshaling request: the body must be a JSON object";
        return std::nullopt;
    }
    RunRequest req;
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
        const std::string_view key = View(it->name);
        if (key == "value") {
            if (it->value.IsNull()) continue;
            if (!it->value.IsObject() && !it->value.IsArray()) {
                error = std::string(kArgumentNotObjectText);
                return std::nullopt;
            }
            req.value_json = Compact(it->value);
        } else {
            req.env.emplace_back(ActivationEnvName(key), EnvText(it->value));
        }
    }
    return req;
}

std::string ActivationEnvName(std::string_view key) {
    std::string name = "__OW_";
    name.reserve(5 + key.size());
    for (char c : key) {
        name += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    }
    return name;
}

void MakeOneLine(std::string& json) {
    std::erase_if(json, [](char c) { return c == '\n' || c == '\r'; });
    json += '\n';
}

bool IsJsonObjectOrArray(std::string_view text) {
    size_t first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos || (text[first] != '{' && text[first] != '[')) {
        return false;
    }
    NullHandler handler;
    return json::ParseBoundedSax(text, handler, ProxyJsonLimits()).empty();
}

std::optional<std::string> CheckAck(std::string_view line) {
    static constexpr std::string_view kNotInitialized = "The action did not initialize properly.";
    rapidjson::Document doc;
    std::string ignored;
    if (!ParseDocument(line, doc, ignored) || !doc.IsObject()) return std::string(kNotInitialized);
    auto ok = doc.FindMember("ok");
    if (ok != doc.MemberEnd() && ok->value.IsBool() && ok->value.GetBool()) return std::nullopt;
    auto err = doc.FindMember("error");
    if (err != doc.MemberEnd() && err->value.IsString() && err->value.GetStringLength() > 0) {
        return std::string(View(err->value));
    }
    return std::string(kNotInitialized);
}

NativeOutput SplitNativeOutput(std::string_view out) {
    // OpenWhisk's dockerskeleton: the last newline before the final character splits logs from
    // the result line.
    NativeOutput split;
    size_t last_newline = out.size() < 2 ? std::string_view::npos : out.rfind('\n', out.size() - 2);
    std::string_view line = out;
    if (last_newline != std::string_view::npos) {
        split.logs = out.substr(0, last_newline + 1);
        line = out.substr(last_newline + 1);
    }
    size_t b = line.find_first_not_of(" \t\r\n\v\f");
    size_t e = line.find_last_not_of(" \t\r\n\v\f");
    split.result = b == std::string_view::npos ? std::string_view{} : line.substr(b, e - b + 1);
    return split;
}

std::string LastLineSplitter::Feed(std::string_view chunk) {
    std::string logs;
    if (too_long_ && pending_.empty()) {
        // The over-long line goes on: its bytes are logs (it cannot be the result any more).
        const size_t nl = chunk.find('\n');
        if (nl == std::string_view::npos) return std::string(chunk);
        logs.assign(chunk.substr(0, nl));
        pending_.assign(chunk.substr(nl));
    } else {
        pending_.append(chunk);
    }
    // Everything up to the last newline that is not the final character is certainly logs.
    const size_t cut =
        pending_.size() < 2 ? std::string::npos : pending_.rfind('\n', pending_.size() - 2);
    if (cut != std::string::npos) {
        too_long_ = false;  // a line after the long one: that one was a log line
        logs.append(pending_, 0, cut + 1);
        pending_.erase(0, cut + 1);
    }
    // What is left is (part of) one line, plus maybe its newline: over the limit, it is
    // forwarded as logs now and only its newline is kept, so memory stays bounded.
    if (!too_long_ && pending_.size() > max_line_bytes_ + 1) {
        too_long_ = true;
        const bool ended = pending_.back() == '\n';
        logs.append(pending_, 0, pending_.size() - (ended ? 1 : 0));
        pending_ = ended ? "\n" : "";
    }
    return logs;
}

bool WriteAll(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                pollfd pfd{fd, POLLOUT, 0};
                (void)::poll(&pfd, 1, -1);
                continue;
            }
            return false;
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

void WriteSentinels(int out_fd, int err_fd) {
    (void)WriteAll(out_fd, kSentinel);
    (void)WriteAll(err_fd, kSentinel);
}

}  // namespace wisp::proxy
