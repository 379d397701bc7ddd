#include "archive.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

using namespace wisp::proxy;
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
    auto bytes = Base64Decode(b64);
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
    CHECK(Base64Decode("aGVsbG8=") == "hello");
    CHECK(Base64Decode("aGVsbG8") == "hello");
    CHECK(Base64Decode("aGVs\nbG8h") ==
          "hell"
          "o!");
    CHECK(Base64Decode("") == "");
    CHECK_FALSE(Base64Decode("aGVs*G8="));
    CHECK_FALSE(Base64Decode("aGVsbG8=x"));
    CHECK_FALSE(Base64Decode("a"));
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
