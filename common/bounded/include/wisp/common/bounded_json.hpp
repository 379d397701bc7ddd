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
//     (rapidjson would otherwise stop reading at it and ignore the rest);
//   - numbers are converted here, not by rapidjson: rapidjson 1.1.0's full-precision strtod
//     (StrtodDiyFp) reads out of bounds on decimals far below 1e-300 written with many digits
//     (`0.` and 360 zeros crashed the process). rapidjson reads each number as its text
//     (kParseNumbersAsStringsFlag, which still checks the grammar and refuses exponents past
//     308) and std::from_chars converts it, correctly rounded; what underflows is 0, a value
//     past the largest double is refused as "Number too big to be stored in double.". The
//     handler gets the same calls rapidjson makes: Uint/Int/Uint64/Int64 for integers that fit
//     (-0 is Int 0), Double otherwise.
//
// Header-only on purpose: the action proxy (runtimes/proxy) and the `wsk` CLI link nothing of
// the platform, yet parse with the same code. Platform code calls the absl::Status wrappers in
// <wisp/common/json.hpp> (ParseJson); this header is for those two and for SAX handlers.
//
// Calling rapidjson's own Parse/ParseStream/Reader anywhere else is rejected by
// tools/lint-json-parse.sh (run by `make test` and CI).
#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>

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
/// callers add e.g. kParseNumbersAsStringsFlag (their handler then gets RawNumber calls).
inline constexpr unsigned kBoundedParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag;

namespace detail {

/// How a JSON number's text (already checked against the grammar) converts.
enum class NumberKind { kUint, kInt, kUint64, kInt64, kDouble, kTooBig };
struct ConvertedNumber {
    NumberKind kind = NumberKind::kDouble;
    uint64_t u = 0;  // kUint, kUint64: the value; kInt, kInt64: the magnitude
    double d = 0;    // kDouble
};

/// Converts the text of a JSON number as rapidjson's full-precision parse would, without its
/// out-of-bounds read: integers by size (Uint up to 2^32-1, Int down to -2^31, then Uint64 /
/// Int64, then Double), everything else correctly rounded to a double; underflow gives (signed)
/// zero, overflow kTooBig.
inline ConvertedNumber ConvertNumber(std::string_view text) {
    ConvertedNumber out;
    const bool minus = !text.empty() && text.front() == '-';
    const std::string_view digits = minus ? text.substr(1) : text;
    // Integers (the common case: timestamps, counts) in one pass; up to 19 digits cannot
    // overflow 64 bits, longer ones go through from_chars.
    uint64_t m = 0;
    size_t n = 0;
    for (; n < digits.size() && n < 19; ++n) {
        const unsigned digit = static_cast<unsigned char>(digits[n]) - unsigned{'0'};
        if (digit > 9) break;
        m = m * 10 + digit;
    }
    bool integer = n == digits.size();
    if (!integer && n == 19 && digits.find_first_of(".eE", n) == std::string_view::npos) {
        auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), m);
        integer = ec == std::errc() && ptr == digits.data() + digits.size();
    }
    if (integer) {
        out.u = m;
        if (!minus) {
            out.kind =
                m <= std::numeric_limits<uint32_t>::max() ? NumberKind::kUint : NumberKind::kUint64;
            return out;
        }
        if (m <= uint64_t{1} << 31) {
            out.kind = NumberKind::kInt;
            return out;
        }
        if (m <= uint64_t{1} << 63) {
            out.kind = NumberKind::kInt64;
            return out;
        }
    }
    // Larger than 64 bits: a double, as rapidjson does.
    double d = 0;
    auto [ptr, ec] =
        std::from_chars(text.data(), text.data() + text.size(), d, std::chars_format::general);
    if (ec == std::errc::result_out_of_range) {
        // Underflow or overflow: the decimal exponent of the first non-zero digit decides.
        const size_t mantissa_end = std::min(text.find_first_of("eE"), text.size());
        const std::string_view mantissa = text.substr(0, mantissa_end);
        const size_t point = std::min(mantissa.find('.'), mantissa.size());
        const size_t first = mantissa.find_first_of("123456789");
        long long magnitude = 0;  // the power of ten of the first non-zero digit
        if (first != std::string_view::npos) {
            magnitude = first < point ? static_cast<long long>(point - first) - 1
                                      : -static_cast<long long>(first - point);
        }
        if (mantissa_end < text.size()) {
            std::string_view e = text.substr(mantissa_end + 1);
            const bool e_minus = !e.empty() && e.front() == '-';
            if (!e.empty() && (e.front() == '-' || e.front() == '+')) e.remove_prefix(1);
            long long exponent = 0;
            for (char c : e) {
                exponent = std::min(exponent * 10 + (c - '0'), 1000000000LL);
            }
            magnitude += e_minus ? -exponent : exponent;
        }
        if (first == std::string_view::npos || magnitude < 0) {
            out.d = minus ? -0.0 : 0.0;
            return out;
        }
        out.kind = NumberKind::kTooBig;
        return out;
    }
    if (ec != std::errc() || ptr != text.data() + text.size()) {
        out.kind = NumberKind::kTooBig;  // cannot happen for text rapidjson accepted
        return out;
    }
    out.d = d;
    return out;
}

// Forwards SAX events to `inner`, failing the parse once the nesting exceeds `max_depth`.
// Numbers arrive as text (RawNumber); unless the caller asked for that too (`kRawNumbers`), they
// are converted here and forwarded as Uint/Int/Uint64/Int64/Double.
template <typename Inner, bool kRawNumbers = false>
struct DepthLimitedHandler {
    Inner& inner;
    int max_depth;
    int depth = 0;
    bool too_deep = false;
    bool too_big = false;

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
        if constexpr (kRawNumbers) {
            return inner.RawNumber(s, n, copy);
        } else {
            const ConvertedNumber c = ConvertNumber(std::string_view(s, n));
            switch (c.kind) {
                case NumberKind::kUint:
                    return inner.Uint(static_cast<unsigned>(c.u));
                case NumberKind::kInt:
                    return inner.Int(
                        static_cast<int>(static_cast<int64_t>(0) - static_cast<int64_t>(c.u)));
                case NumberKind::kUint64:
                    return inner.Uint64(c.u);
                case NumberKind::kInt64:
                    return inner.Int64(static_cast<int64_t>(~c.u + 1));
                case NumberKind::kDouble:
                    return inner.Double(c.d);
                case NumberKind::kTooBig:
                    break;
            }
            too_big = true;
            return false;
        }
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
    constexpr bool kRawNumbers = (kExtraFlags & rapidjson::kParseNumbersAsStringsFlag) != 0;
    detail::DepthLimitedHandler<Handler, kRawNumbers> limited{handler, limits.max_depth};
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
    if (limited.too_big) {
        return std::string(rapidjson::GetParseError_En(rapidjson::kParseErrorNumberTooBig)) +
               detail::OffsetText(result.Offset());
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
