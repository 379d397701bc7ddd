#pragma once
// The one JSON parser for bytes from outside the process: bounded and iterative.
//
// Every JSON text Wisp reads — REST bodies, action container answers, store documents, bus
// messages, Docker Engine answers, CLI input and server answers in `wsk` — is parsed here:
//   - the size is capped (JsonLimits::max_bytes) before any work is done;
//   - the nesting depth is capped while parsing (JsonLimits::max_depth), so no later recursive
//     walk of the document (Writer::Accept, copies, comparisons) can exhaust the stack;
//   - rapidjson's iterative parser is used, so parsing itself never recurses;
//   - the whole input must be one JSON value in valid UTF-8; a raw NUL byte anywhere is refused
//     (rapidjson would otherwise stop reading at it and ignore the rest).
//
// Header-only on purpose: the action proxy (runtimes/proxy) and the `wsk` CLI link nothing of
// the platform, yet parse with the same code. Platform code calls the absl::Status wrappers in
// <wisp/common/json.hpp> (ParseJson); this header is for those two and for SAX handlers.
//
// Calling rapidjson's own Parse/ParseStream/Reader anywhere else is rejected by
// tools/lint-json-parse.sh (run by `make test` and CI).
#include <cstddef>
#include <cstring>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

namespace wisp::json {

/// Deepest array/object nesting accepted by default.
inline constexpr int kDefaultMaxDepth = 512;
/// Largest text accepted by default (an action's code travels base64 in JSON: 48 MB of code is
/// ~64 MB of text). Callers that know a smaller bound pass it.
inline constexpr size_t kDefaultMaxBytes = 72ull << 20;

struct JsonLimits {
    size_t max_bytes = kDefaultMaxBytes;
    int max_depth = kDefaultMaxDepth;
    /// Refuse ill-formed UTF-8. Off only where OpenWhisk accepts such bytes (an action's answer,
    /// which OpenWhisk decodes with replacement characters): Wisp's writers then replace them
    /// with U+FFFD on the way out.
    bool validate_utf8 = true;
};

/// The flags every bounded parse uses (plus kParseValidateEncodingFlag unless turned off);
/// callers add e.g. kParseNumbersAsStringsFlag.
inline constexpr unsigned kBoundedParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseFullPrecisionFlag;

namespace detail {

// Forwards SAX events to `inner`, failing the parse once the nesting exceeds `max_depth`.
template <typename Inner>
struct DepthLimitedHandler {
    Inner& inner;
    int max_depth;
    int depth = 0;
    bool too_deep = false;

    bool Enter() {
        if (++depth > max_depth) {
            too_deep = true;
            return false;
        }
        return true;
    }
    bool Null() { return inner.Null(); }
    bool Bool(bool b) { return inner.Bool(b); }
    bool Int(int i) { return inner.Int(i); }
    bool Uint(unsigned u) { return inner.Uint(u); }
    bool Int64(int64_t i) { return inner.Int64(i); }
    bool Uint64(uint64_t u) { return inner.Uint64(u); }
    bool Double(double d) { return inner.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
        return inner.RawNumber(s, n, copy);
    }
    bool String(const char* s, rapidjson::SizeType n, bool copy) {
        return inner.String(s, n, copy);
    }
    bool Key(const char* s, rapidjson::SizeType n, bool copy) { return inner.Key(s, n, copy); }
    bool StartObject() { return Enter() && inner.StartObject(); }
    bool EndObject(rapidjson::SizeType n) {
        --depth;
        return inner.EndObject(n);
    }
    bool StartArray() { return Enter() && inner.StartArray(); }
    bool EndArray(rapidjson::SizeType n) {
        --depth;
        return inner.EndArray(n);
    }
};

inline std::string OffsetText(size_t offset) {
    return " (at offset " + std::to_string(offset) + ")";
}

}  // namespace detail

/// Streams `text` as SAX events into `handler` under `limits`. Returns "" on success, else a
/// one-line English description of the first problem ("The document is empty.", "JSON nesting is
/// deeper than 512 levels", "Invalid value. (at offset 3)", ...). A handler that returns false
/// stops the parse with "Terminate parsing due to Handler error. (at offset N)".
template <unsigned kExtraFlags = 0, typename Handler>
std::string ParseBoundedSax(std::string_view text, Handler& handler,
                            const JsonLimits& limits = {}) {
    if (text.size() > limits.max_bytes) {
        return "the JSON text is " + std::to_string(text.size()) +
               " bytes, more than the limit of " + std::to_string(limits.max_bytes) + " bytes";
    }
    if (const void* nul = std::memchr(text.data(), '\0', text.size()); nul != nullptr) {
        return "the JSON text contains a NUL byte" +
               detail::OffsetText(static_cast<const char*>(nul) - text.data());
    }
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
        return "The document is empty.";
    detail::DepthLimitedHandler<Handler> limited{handler, limits.max_depth};
    rapidjson::MemoryStream ms(text.data(), text.size());
    rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> is(ms);
    rapidjson::Reader reader;
    constexpr unsigned kFlags = kBoundedParseFlags | kExtraFlags;
    rapidjson::ParseResult result =
        limits.validate_utf8
            ? reader.Parse<kFlags | rapidjson::kParseValidateEncodingFlag>(is, limited)
            : reader.Parse<kFlags>(is, limited);
    if (limited.too_deep) {
        return "JSON nesting is deeper than " + std::to_string(limits.max_depth) + " levels";
    }
    if (result.IsError()) {
        return std::string(rapidjson::GetParseError_En(result.Code())) +
               detail::OffsetText(result.Offset());
    }
    return {};
}

/// Parses `text` into `doc` under `limits`. Returns "" on success, else the problem (see
/// ParseBoundedSax); `doc` is then null.
template <unsigned kExtraFlags = 0, typename Document>
std::string ParseBounded(std::string_view text, Document& doc, const JsonLimits& limits = {}) {
    std::string error;
    auto generator = [&](Document& handler) {
        error = ParseBoundedSax<kExtraFlags>(text, handler, limits);
        return error.empty();
    };
    doc.Populate(generator);
    if (!error.empty()) doc.SetNull();
    return error;
}

}  // namespace wisp::json
