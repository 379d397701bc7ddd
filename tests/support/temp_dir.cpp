#include <wisp/testing/temp_dir.hpp>

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <system_error>
#include <vector>

namespace wisp::testing {

TempDir::TempDir(std::string_view prefix) {
    const char* tmp = std::getenv("TMPDIR");
    std::string base = (tmp != nullptr && *tmp != '\0') ? tmp : "/tmp";
    std::string pattern = base + "/" + std::string(prefix) + "XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) {
        std::fprintf(stderr, "TempDir: mkdtemp(%s) failed: %s; set TMPDIR to a writable dir\n",
                     pattern.c_str(), std::strerror(errno));
        std::abort();
    }
    path_ = buf.data();
}

TempDir::~TempDir() {
    if (std::getenv("WISP_KEEP_TEMP") != nullptr) {
        std::fprintf(stderr, "TempDir: keeping %s (WISP_KEEP_TEMP)\n", path_.c_str());
        return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string TempDir::File(std::string_view name) const { return (path_ / name).string(); }

}  // namespace wisp::testing
