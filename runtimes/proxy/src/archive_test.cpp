#include "archive.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <wisp/common/base64.hpp>

using namespace wisp::proxy;
using wisp::common::Base64Mode;
namespace fs = std::filesystem;

namespace {

// Made with Python's zipfile/tarfile (see the test names for what they hold).
constexpr const char* kZip =
    "UEsDBBQAAAAIAAAAIVgq5HVVNQAAAJMAAAALAAAAX19tYWluX18ucHlLSU1TyE3MzNNILEov1rTiUgCCotSS0qI8hW"
    "ql9KLU1JLMvHQlKwWljNScnHylWq4UmmsAAFBLAwQUAAAACAAAACFYAAAAAAIAAAAAAAAABAAAAGJpbi8DAFBLAwQU"
    "AAAAAAAAACFYU/AU2RIAAAASAAAACAAAAGJpbi9leGVjIyEvYmluL3NoCmVjaG8ge30KUEsDBBQAAAAAAAAAIVhreH"
    "tICwAAAAsAAAAEAAAAbGlua19fbWFpbl9fLnB5UEsBAhQDFAAAAAgAAAAhWCrkdVU1AAAAkwAAAAsAAAAAAAAAAAAA"
    "AKSBAAAAAF9fbWFpbl9fLnB5UEsBAhQDFAAAAAgAAAAhWAAAAAACAAAAAAAAAAQAAAAAAAAAAAAAAP1BXgAAAGJpbi"
    "9QSwECFAMUAAAAAAAAACFYU/AU2RIAAAASAAAACAAAAAAAAAAAAAAA7YGCAAAAYmluL2V4ZWNQSwECFAMUAAAAAAAA"
    "ACFYa3h7SAsAAAALAAAABAAAAAAAAAAAAAAA/6G6AAAAbGlua1BLBQYAAAAABAAEANMAAADnAAAAAAA=";
constexpr const char* kEvilZip =
    "UEsDBBQAAAAIAAAAIViDFtyMAwAAAAEAAAALAAAALi4vZXZpbC50eHSrAABQSwECFAMUAAAACAAAACFYgxbcjAMAAA"
    "ABAAAACwAAAAAAAAAAAAAApIEAAAAALi4vZXZpbC50eHRQSwUGAAAAAAEAAQA5AAAALAAAAAAA";
constexpr const char* kZip64LocalHeader =
    "UEsDBC0AAAAIAAAAIVhjZ/if//////////8HABQAYmlnLnR4dAEAEAAOAAAAAAAAABAAAAAAAAAAq8osMDNRSM7PK0"
    "nNK+ECAFBLAQItAy0AAAAIAAAAIVhjZ/ifEAAAAA4AAAAHAAAAAAAAAAAAAACkgQAAAABiaWcudHh0UEsFBgAAAAAB"
    "AAEANQAAAEkAAAAAAA==";
constexpr const char* kTarGz =
    "H4sIANIsBGsC/+3YwWrDIBwGcM97Cscu7UWjNmYwMnbcca/gqDTpWhuiBWHs3Wd3GEw6djKB5ftdFC85fHz+kwxvO04K"
    "q5Kmrr/WJF+v7HUtNaE1mcDZBzOmR5JlGlL+vdvayPa+ZP56s/k9f6V+5i8qoRtCK+RfnI3DaQyeHU3vaEtXa9o+0tX7"
    "x/rhhsAy+j+eHfPdjPe/kNn932gt0f8p3N3y195x36Hui8Q4408vJj5bs7Vjuf5f6f1352Xef5GOKkIj+l+cUPd0MKFr"
    "L4PAzYSFGHD/zDb/S8f75/t/3n+lpBSY/1M4nNyOOnO06N9i+28OvfFzfv/neyH0Zf7L0j8m0H8AAAAAAAAAAAD4xz4B"
    "AP/jrQAoAAA=";

std::string Decode(const char* b64) {
    auto bytes = wisp::common::Base64Decode(b64, Base64Mode::kLineWrapped);
    REQUIRE(bytes);
    return *bytes;
}

std::string Slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

mode_t Mode(const fs::path& path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st.st_mode;
}

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "wisp-archive-XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

}  // namespace

TEST_CASE("Base64Decode", "[archive]") {
    // The proxy reads the code of a binary action with the one base64, in its line-wrapped mode.
    using wisp::common::Base64Decode;
    constexpr auto kMode = Base64Mode::kLineWrapped;
    CHECK(Base64Decode("aGVsbG8=", kMode) == "hello");
    CHECK(Base64Decode("aGVsbG8", kMode) == "hello");
    CHECK(Base64Decode("aGVs\nbG8h", kMode) ==
          "hell"
          "o!");
    CHECK(Base64Decode("", kMode) == "");
    CHECK_FALSE(Base64Decode("aGVs*G8=", kMode));
    CHECK_FALSE(Base64Decode("aGVsbG8=x", kMode));
    CHECK_FALSE(Base64Decode("a", kMode));
}

TEST_CASE("DetectArchive by magic bytes", "[archive]") {
    CHECK(DetectArchive(Decode(kZip)) == ArchiveType::kZip);
    CHECK(DetectArchive(Decode(kTarGz)) == ArchiveType::kTarGz);
    CHECK(DetectArchive("\x7f"
                        "ELF....") == ArchiveType::kUnknown);
    CHECK(DetectArchive("") == ArchiveType::kUnknown);
}

TEST_CASE("ExtractZip keeps content, modes, directories and symlinks", "[archive]") {
    TempDir dir;
    REQUIRE(ExtractZip(Decode(kZip), dir.path / "action") == "");
    fs::path root = dir.path / "action";
    std::string main_py;
    for (int i = 0; i < 3; ++i)
        main_py += "def main(args):\n    return {\"greeting\": \"hello\"}\n";
    CHECK(Slurp(root / "__main__.py") == main_py);
    CHECK(Slurp(root / "bin/exec") == "#!/bin/sh\necho {}\n");
    CHECK((Mode(root / "bin/exec") & 0777) == 0755);
    CHECK((Mode(root / "__main__.py") & 0777) == 0644);
    CHECK(S_ISDIR(Mode(root / "bin")));
    CHECK(S_ISLNK(Mode(root / "link")));
    CHECK(fs::read_symlink(root / "link") == "__main__.py");
}

TEST_CASE("ExtractZip refuses entries outside the directory and bad input", "[archive]") {
    TempDir dir;
    CHECK(ExtractZip(Decode(kEvilZip), dir.path / "a") ==
          "The zip entry '../evil.txt' points outside the action directory.");
    CHECK_FALSE(fs::exists(dir.path / "evil.txt"));
    CHECK(ExtractZip("PK\x03\x04 is not really a zip file", dir.path / "b") ==
          "The zip file has no central directory.");
    std::string corrupt = Decode(kZip);
    corrupt[45] ^= 0x55;  // inside the deflated __main__.py
    CHECK_FALSE(ExtractZip(corrupt, dir.path / "c").empty());
}

TEST_CASE("ExtractZip reads a zip64 local header", "[archive]") {
    TempDir dir;
    REQUIRE(ExtractZip(Decode(kZip64LocalHeader), dir.path) == "");
    CHECK(Slurp(dir.path / "big.txt") == "zip64 content\n");
}

TEST_CASE("ExtractTarGz handles pax long names, modes and symlinks", "[archive]") {
    TempDir dir;
    REQUIRE(ExtractTarGz(Decode(kTarGz), dir.path.string()) == "");
    CHECK(Slurp(dir.path / "pkg/index.js") == "exports.main = () => ({});\n");
    CHECK((Mode(dir.path / "pkg/run.sh") & 0777) == 0755);
    CHECK(Slurp(dir.path / ("pkg/" + std::string(120, 'n') + ".txt")) == "long name\n");
    CHECK(fs::read_symlink(dir.path / "pkg/alias.js") == "index.js");
    CHECK(ExtractTarGz("\x1f\x8b garbage", dir.path.string()) ==
          "The tar.gz file cannot be decompressed.");
}

// ---- hostile archives, built byte by byte --------------------------------------------------

namespace {

void Put16(std::string& out, uint32_t v) {
    out += static_cast<char>(v & 0xff);
    out += static_cast<char>((v >> 8) & 0xff);
}
void Put32(std::string& out, uint32_t v) {
    Put16(out, v & 0xffff);
    Put16(out, v >> 16);
}
void Put64(std::string& out, uint64_t v) {
    Put32(out, static_cast<uint32_t>(v));
    Put32(out, static_cast<uint32_t>(v >> 32));
}

struct ZipEntry {
    std::string name;
    std::string data;              // stored as is (method 0) unless `method` says otherwise
    uint32_t unix_mode = 0100644;  // S_IFLNK | 0777 makes a symlink whose target is `data`
    uint16_t method = 0;
    std::optional<uint32_t> usize;  // the declared uncompressed size (default: data's size)
};

// A zip with "made by Unix" entries, local headers, central directory and end record.
std::string MakeZip(const std::vector<ZipEntry>& entries) {
    std::string out, cd;
    for (const auto& e : entries) {
        const uint32_t crc = static_cast<uint32_t>(crc32(
            0L, reinterpret_cast<const Bytef*>(e.data.data()), static_cast<uInt>(e.data.size())));
        const uint32_t csize = static_cast<uint32_t>(e.data.size());
        const uint32_t usize = e.usize.value_or(csize);
        const auto local = static_cast<uint32_t>(out.size());
        Put32(out, 0x04034b50);
        Put16(out, 20);
        Put16(out, 0);
        Put16(out, e.method);
        Put32(out, 0);  // time, date
        Put32(out, crc);
        Put32(out, csize);
        Put32(out, usize);
        Put16(out, static_cast<uint32_t>(e.name.size()));
        Put16(out, 0);
        out += e.name;
        out += e.data;

        Put32(cd, 0x02014b50);
        Put16(cd, (3 << 8) | 20);  // made by Unix
        Put16(cd, 20);
        Put16(cd, 0);
        Put16(cd, e.method);
        Put32(cd, 0);
        Put32(cd, crc);
        Put32(cd, csize);
        Put32(cd, usize);
        Put16(cd, static_cast<uint32_t>(e.name.size()));
        Put16(cd, 0);  // extra
        Put16(cd, 0);  // comment
        Put16(cd, 0);  // disk
        Put16(cd, 0);  // internal attributes
        Put32(cd, e.unix_mode << 16);
        Put32(cd, local);
        cd += e.name;
    }
    const auto cd_offset = static_cast<uint32_t>(out.size());
    out += cd;
    Put32(out, 0x06054b50);
    Put32(out, 0);
    Put16(out, static_cast<uint32_t>(entries.size()));
    Put16(out, static_cast<uint32_t>(entries.size()));
    Put32(out, static_cast<uint32_t>(cd.size()));
    Put32(out, cd_offset);
    Put16(out, 0);
    return out;
}

struct TarEntry {
    std::string name;
    char type = '0';  // '0' file, '2' symlink, '5' directory
    std::string data;
    std::string link;
};

std::string Gzip(std::string_view data) {
    z_stream zs{};
    REQUIRE(deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, MAX_WBITS + 16, 8, Z_DEFAULT_STRATEGY) ==
            Z_OK);
    std::string out(deflateBound(&zs, data.size()) + 64, '\0');
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    zs.avail_in = static_cast<uInt>(data.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

std::string MakeTarGz(const std::vector<TarEntry>& entries) {
    std::string tar;
    for (const auto& e : entries) {
        std::string h(512, '\0');
        std::snprintf(h.data(), 100, "%s", e.name.c_str());
        std::snprintf(h.data() + 100, 8, "%07o", e.type == '5' ? 0755 : 0644);
        std::snprintf(h.data() + 124, 12, "%011o", static_cast<unsigned>(e.data.size()));
        h[156] = e.type;
        std::snprintf(h.data() + 157, 100, "%s", e.link.c_str());
        std::memcpy(h.data() + 257,
                    "ustar\0"
                    "00",
                    8);
        tar += h;
        tar += e.data;
        tar.append((512 - e.data.size() % 512) % 512, '\0');
    }
    tar.append(1024, '\0');
    return Gzip(tar);
}

}  // namespace

TEST_CASE("ExtractZip: a symlink entry behind an extracted symlink is refused", "[archive]") {
    TempDir dir;
    const fs::path outside = dir.path / "outside";
    fs::create_directory(outside);
    const fs::path action = dir.path / "action";

    // "a" -> the outside directory, then "a/pwned": creating it would follow "a".
    std::string zip =
        MakeZip({{"a", outside.string(), 0120777}, {"a/pwned", "/etc/passwd", 0120777}});
    CHECK(ExtractZip(zip, action.string()) ==
          "The zip entry 'a/pwned' lies behind the symlink 'a'; entries are not written through "
          "symlinks.");
    CHECK_FALSE(fs::exists(fs::symlink_status(outside / "pwned")));

    // A chain: "b" -> "c", "c" -> outside, then "b/x/y".
    fs::remove_all(action);
    zip = MakeZip({{"b", "c", 0120777}, {"c", outside.string(), 0120777}, {"b/x/y", "z", 0120777}});
    CHECK(ExtractZip(zip, action.string()) ==
          "The zip entry 'b/x/y' lies behind the symlink 'b'; entries are not written through "
          "symlinks.");
    CHECK(fs::is_empty(outside));
}

TEST_CASE("ExtractZip/TarGz never write through a symlink already in the directory", "[archive]") {
    TempDir dir;
    const fs::path outside = dir.path / "outside";
    const fs::path action = dir.path / "action";
    fs::create_directories(outside);
    fs::create_directories(action);
    fs::create_directory_symlink(outside, action / "lib");

    CHECK(ExtractZip(MakeZip({{"lib/evil.txt", "x"}}), action.string()) ==
          "The zip entry 'lib/evil.txt' lies behind the symlink 'lib'; entries are not written "
          "through symlinks.");
    CHECK(ExtractZip(MakeZip({{"lib/", "", 040755}}), action.string()) ==
          "The zip entry 'lib/' lies behind the symlink 'lib'; entries are not written through "
          "symlinks.");
    CHECK(ExtractTarGz(MakeTarGz({{"lib/sub", '5'}}), action.string()) ==
          "The tar entry 'lib/sub' lies behind the symlink 'lib'; entries are not written through "
          "symlinks.");
    CHECK(ExtractTarGz(MakeTarGz({{"l", '2', "", outside.string()}, {"l/evil", '2', "", "x"}}),
                       action.string()) ==
          "The tar entry 'l/evil' lies behind the symlink 'l'; entries are not written through "
          "symlinks.");
    CHECK(fs::is_empty(outside));

    // Symlinks themselves (also absolute ones) are fine when nothing goes through them.
    fs::remove(action / "lib");
    REQUIRE(ExtractTarGz(MakeTarGz({{"d", '5'},
                                    {"d/f", '0', "hi"},
                                    {"d/abs", '2', "", "/etc"},
                                    {"rel", '2', "", "d/f"}}),
                         action.string()) == "");
    CHECK(Slurp(action / "rel") == "hi");
    CHECK(fs::read_symlink(action / "d/abs") == "/etc");
}

TEST_CASE("ExtractZip: a declared size is believed only as far as the data can hold it",
          "[archive]") {
    TempDir dir;
    // 16 deflated bytes claiming 200 MB: today's code allocated (and zeroed) all of it first.
    ZipEntry bomb{"big.txt", std::string(16, 'x'), 0100644, 8, 200u << 20};
    CHECK(ExtractZip(MakeZip({bomb}), dir.path.string()) ==
          "The zip entry 'big.txt' declares 209715200 bytes, more than its 16 compressed bytes "
          "can hold.");

    // Within the ratio, but over the total extraction limit.
    ExtractLimits small;
    small.max_total_bytes = 1000;
    ZipEntry stored{"a.txt", std::string(600, 'a')};
    ZipEntry stored2{"b.txt", std::string(600, 'b')};
    CHECK(ExtractZip(MakeZip({stored, stored2}), dir.path.string(), small) ==
          "The zip file expands to more than 1000 bytes.");
    CHECK(ExtractZip(MakeZip({stored}), (dir.path / "ok").string(), small) == "");
}

TEST_CASE("ExtractTarGz: a gzip bomb stops at the extraction limit", "[archive]") {
    TempDir dir;
    const std::string tgz = MakeTarGz({{"zeros", '0', std::string(4 << 20, '\0')}});
    CHECK(tgz.size() < 64 * 1024);
    ExtractLimits small;
    small.max_total_bytes = 1 << 20;
    CHECK(ExtractTarGz(tgz, dir.path.string(), small) ==
          "The tar.gz file expands to more than 1048576 bytes.");
    CHECK_FALSE(fs::exists(dir.path / "zeros"));
    CHECK(ExtractTarGz(tgz, (dir.path / "big").string()) == "");  // the default allows it
    CHECK(fs::file_size(dir.path / "big/zeros") == 4u << 20);
}

TEST_CASE("ExtractZip: a tiny zip64 end record cannot make offsets underflow", "[archive]") {
    TempDir dir;
    // A zip64 locator pointing far away, then an end record saying "see zip64": 42 bytes, less
    // than a zip64 end record (56). `size - 56` wrapped around and the far offset was read.
    std::string zip;
    Put32(zip, 0x07064b50);
    Put32(zip, 0);
    Put64(zip, uint64_t{1} << 46);
    Put32(zip, 1);
    Put32(zip, 0x06054b50);
    Put32(zip, 0);
    Put16(zip, 0xffff);
    Put16(zip, 0xffff);
    Put32(zip, 0xffffffff);
    Put32(zip, 0xffffffff);
    Put16(zip, 0);
    REQUIRE(zip.size() == 42);
    CHECK(ExtractZip(zip, dir.path.string()) ==
          "The zip64 end-of-central-directory record is invalid.");
    // Every length below the end record: truncated, never a read before the data.
    for (size_t n = 0; n < 22; ++n) {
        CHECK(ExtractZip(zip.substr(zip.size() - n), dir.path.string()) ==
              "The zip file is truncated.");
    }
}
