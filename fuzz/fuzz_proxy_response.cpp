// The invoker's parser of action proxy answers (invoker/src/proxy_client.cpp, ResponseParser):
// status line, headers, Content-Length / chunked / read-until-close bodies, chunk extensions and
// trailers, 1xx interim answers — from arbitrary bytes, as an action image could send them.
//
// The parser lives in proxy_client.cpp's anonymous namespace, so this file compiles that source
// itself (and does not link wisp::invoker). Input: byte 0 picks how the bytes arrive (the
// client calls Parse() again after every read, over the grown buffer), the rest is the answer.
// Properties: the parser stops (complete, malformed or too large) once the peer closes; a
// complete answer has a final status and a body within the limit; reading in pieces gives the
// same answer as reading everything at once.
#include "proxy_client.cpp"  // NOLINT: the parser under test is internal to this file

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

namespace {

using wisp::invoker::ResponseParser;
using Result = ResponseParser::Result;

constexpr size_t kMaxBody = 4096;

struct Outcome {
    Result result = Result::kNeedMore;
    int status = 0;
    std::string body;
    bool keep_alive = false;
};

// Feeds `response` in pieces whose sizes come from `pattern`, then signals EOF.
Outcome ParseInPieces(std::string_view response, uint8_t pattern) {
    ResponseParser parser(kMaxBody);
    std::string buf;
    Outcome out;
    size_t fed = 0;
    unsigned step = 0;
    while (fed < response.size()) {
        // 1..16 bytes (small pieces split every token) or everything at once.
        size_t n = pattern == 0 ? response.size() : 1 + ((pattern + step * 7) % 16);
        ++step;
        n = std::min(n, response.size() - fed);
        buf.append(response.substr(fed, n));
        fed += n;
        out.result = parser.Parse(buf, false);  // lint-json: not JSON (HTTP)
        if (out.result != Result::kNeedMore) break;
    }
    if (out.result == Result::kNeedMore) {
        out.result = parser.Parse(buf, true);  // lint-json: not JSON (HTTP)
    }
    // Once the peer closed, the parser must decide.
    FUZZ_ASSERT(out.result != Result::kNeedMore);
    if (out.result == Result::kComplete) {
        out.status = parser.status();
        out.body = parser.body();
        out.keep_alive = parser.keep_alive();
        (void)parser.has_trailing_bytes(buf);
        FUZZ_ASSERT(out.status >= 200 && out.status <= 999);
        FUZZ_ASSERT(out.body.size() <= kMaxBody);
        FUZZ_ASSERT(out.body.size() <= buf.size());
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t pattern = data[0];
    const std::string_view response(reinterpret_cast<const char*>(data) + 1, size - 1);

    const Outcome whole = ParseInPieces(response, 0);
    const Outcome pieces = ParseInPieces(response, pattern);
    if (whole.result == Result::kComplete && pieces.result == Result::kComplete) {
        FUZZ_ASSERT(whole.status == pieces.status);
        FUZZ_ASSERT(whole.body == pieces.body);
    }
    return 0;
}
