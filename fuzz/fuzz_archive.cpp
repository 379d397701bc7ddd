// libFuzzer target: the action proxy's archive extraction (runtimes/proxy/src/archive.cpp), the
// code that unpacks a user's zip or tar.gz inside the action container.
//
// Each input is extracted as a zip and as a tar.gz into a fresh scratch folder, with a small
// total limit. Properties: no crash; nothing is ever created beside the target folder (no
// entry escapes through "..", an absolute path or a symlink, chains included); the regular
// files written hold no more bytes than the limit.
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include <wisp/common/base64.hpp>

#include "archive.hpp"
#include "fuzz_check.hpp"

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kLimit = 1 << 20;

const fs::path& Scratch() {
    static const fs::path root = [] {
        char tmpl[] = "/tmp/wisp-fuzz-archive-XXXXXX";
        const char* made = ::mkdtemp(tmpl);
        FUZZ_ASSERT(made != nullptr);
        return fs::path(made);
    }();
    return root;
}

// Bytes of the regular files under `dir`, never following a symlink.
uint64_t WrittenBytes(const fs::path& dir) {
    uint64_t total = 0;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_symlink(ec)) continue;
        if (it->is_regular_file(ec)) total += it->file_size(ec);
    }
    return total;
}

template <typename Extract>
void Check(std::string_view bytes, Extract extract) {
    const fs::path box = Scratch() / "box";
    std::error_code ec;
    fs::remove_all(box, ec);
    fs::create_directories(box, ec);
    FUZZ_ASSERT(!ec);
    const fs::path target = box / "action";
    wisp::proxy::ExtractLimits limits;
    limits.max_total_bytes = kLimit;
    (void)extract(bytes, target.string(), limits);
    // Only the target folder may exist in the box (and nothing beside the box in the scratch).
    for (const auto& entry : fs::directory_iterator(box, ec)) {
        FUZZ_ASSERT(entry.path().filename() == "action");
    }
    for (const auto& entry : fs::directory_iterator(Scratch(), ec)) {
        FUZZ_ASSERT(entry.path().filename() == "box");
    }
    if (fs::is_directory(fs::symlink_status(target, ec))) {
        FUZZ_ASSERT(WrittenBytes(target) <= kLimit);
    }
    fs::remove_all(box, ec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    Check(bytes, [](std::string_view b, const std::string& dir, const auto& limits) {
        return wisp::proxy::ExtractZip(b, dir, limits);
    });
    Check(bytes, [](std::string_view b, const std::string& dir, const auto& limits) {
        return wisp::proxy::ExtractTarGz(b, dir, limits);
    });
    (void)wisp::proxy::DetectArchive(bytes);
    (void)wisp::common::Base64Decode(bytes, wisp::common::Base64Mode::kLineWrapped);
    return 0;
}
