#include "archive.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <utility>
#include <vector>

#include "protocol.hpp"

namespace wisp::proxy {
namespace {

namespace fs = std::filesystem;

uint16_t U16(const unsigned char* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t U32(const unsigned char* p) {
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
           (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}
uint64_t U64(const unsigned char* p) {
    return static_cast<uint64_t>(U32(p)) | (static_cast<uint64_t>(U32(p + 4)) << 32);
}

// A relative path inside the target directory, or "" when the entry must be refused.
std::string SafeRelativePath(std::string name) {
    for (char& c : name) {
        if (c == '\\') c = '/';
    }
    if (name.empty() || name[0] == '/') return {};
    std::string out;
    size_t start = 0;
    while (start <= name.size()) {
        size_t end = name.find('/', start);
        if (end == std::string::npos) end = name.size();
        std::string_view part(name.data() + start, end - start);
        if (part == "..") return {};
        if (!part.empty() && part != ".") {
            if (!out.empty()) out += '/';
            out += part;
        }
        start = end + 1;
    }
    return out;
}

// Writes the entries of one archive in archive order (symlinks deferred to Finish()). Every
// entry is refused when a directory on its way (or, for a directory, the entry itself) is a
// symlink: neither a symlink from the archive nor one already in `dir` is ever followed.
struct Writer {
    std::string dir;
    std::string_view archive;  // "zip" / "tar", for messages
    struct Symlink {
        std::string name, rel, target;
    };
    std::vector<Symlink> symlinks;

    // The first symlink among the components of `rel` (the last one only when `self`), or "".
    std::string SymlinkOnTheWay(const std::string& rel, bool self) const {
        std::string path = dir;
        for (size_t start = 0; start < rel.size();) {
            size_t end = rel.find('/', start);
            const bool last = end == std::string::npos;
            if (last) end = rel.size();
            if (last && !self) break;
            path += '/';
            path.append(rel, start, end - start);
            struct stat st {};
            if (::lstat(path.c_str(), &st) != 0) break;  // missing: nothing below exists either
            if (S_ISLNK(st.st_mode)) return rel.substr(0, end);
            start = end + 1;
        }
        return {};
    }

    std::string Refuse(const std::string& name, const std::string& rel, bool self) const {
        std::string link = SymlinkOnTheWay(rel, self);
        if (link.empty()) return {};
        return "The " + std::string(archive) + " entry '" + name + "' lies behind the symlink '" +
               link + "'; entries are not written through symlinks.";
    }

    std::string Directory(const std::string& name, const std::string& rel, mode_t mode) {
        if (std::string err = Refuse(name, rel, true); !err.empty()) return err;
        std::error_code ec;
        fs::path path = fs::path(dir) / rel;
        fs::create_directories(path, ec);
        if (ec) return "cannot create directory " + path.string() + ": " + ec.message();
        if (mode != 0) ::chmod(path.c_str(), (mode & 0777) | 0700);
        return {};
    }

    std::string File(const std::string& name, const std::string& rel, std::string_view data,
                     mode_t mode) {
        if (std::string err = Refuse(name, rel, false); !err.empty()) return err;
        fs::path path = fs::path(dir) / rel;
        std::error_code ec;
        fs::create_directories(path.parent_path(), ec);
        if (ec) return "cannot create directory " + path.parent_path().string();
        ::unlink(path.c_str());
        mode_t perms = mode == 0 ? 0644 : ((mode & 0777) | 0600);
        int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perms);
        if (fd < 0) return "cannot create " + path.string() + ": " + std::strerror(errno);
        bool ok = WriteAll(fd, data);
        ok = ::fchmod(fd, perms) == 0 && ok;
        ok = ::close(fd) == 0 && ok;
        if (!ok) return "cannot write " + path.string() + ": " + std::strerror(errno);
        return {};
    }

    // Creates the symlinks in archive order; one behind an earlier one (a chain) is refused.
    std::string Finish() {
        for (const auto& link : symlinks) {
            if (std::string err = Refuse(link.name, link.rel, false); !err.empty()) return err;
            fs::path path = fs::path(dir) / link.rel;
            std::error_code ec;
            fs::create_directories(path.parent_path(), ec);
            ::unlink(path.c_str());
            if (::symlink(link.target.c_str(), path.c_str()) != 0) {
                return "cannot create symlink " + path.string() + ": " + std::strerror(errno);
            }
        }
        return {};
    }
};

// The most raw deflate data can expand: 1032:1 (zlib's technical details) plus slack for the
// block headers of a tiny stream.
constexpr uint64_t kMaxDeflateRatio = 1032;
constexpr uint64_t kDeflateSlack = 1024;

// Inflates raw deflate data (zip method 8) into exactly `size` bytes.
bool InflateRaw(std::string_view in, uint64_t size, std::string& out) {
    if (size > std::numeric_limits<uInt>::max() || in.size() > std::numeric_limits<uInt>::max()) {
        return false;
    }
    out.assign(static_cast<size_t>(size), '\0');
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return false;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&zs, Z_FINISH);
    bool ok = (rc == Z_STREAM_END || (rc == Z_BUF_ERROR && size == 0)) && zs.total_out == size;
    inflateEnd(&zs);
    return ok;
}

// Inflates a gzip stream (possibly several members) completely; false when it is corrupt or
// expands to more than `max` bytes (`too_large` tells which).
bool Gunzip(std::string_view in, uint64_t max, std::string& out, bool& too_large) {
    too_large = false;
    z_stream zs{};
    if (inflateInit2(&zs, MAX_WBITS + 32) != Z_OK) return false;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(std::min<size_t>(in.size(), std::numeric_limits<uInt>::max()));
    std::array<char, 1 << 16> chunk;
    bool ok = true;
    for (;;) {
        zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
        zs.avail_out = static_cast<uInt>(chunk.size());
        int rc = inflate(&zs, Z_NO_FLUSH);
        const size_t produced = chunk.size() - zs.avail_out;
        if (produced > max - std::min<uint64_t>(max, out.size())) {
            too_large = true;
            ok = false;
            break;
        }
        out.append(chunk.data(), produced);
        if (rc == Z_STREAM_END) {
            if (zs.avail_in == 0) break;
            if (inflateReset(&zs) != Z_OK) {  // another gzip member follows
                ok = false;
                break;
            }
            continue;
        }
        if (rc != Z_OK) {
            ok = false;
            break;
        }
        if (zs.avail_in == 0 && zs.avail_out != 0) {  // truncated
            ok = false;
            break;
        }
    }
    inflateEnd(&zs);
    return ok;
}

std::string CString(const unsigned char* p, size_t max) {
    size_t n = 0;
    while (n < max && p[n] != 0) ++n;
    return {reinterpret_cast<const char*>(p), n};
}

bool TarNumber(const unsigned char* p, size_t len, uint64_t& value) {
    value = 0;
    if (p[0] & 0x80) {  // GNU base-256
        value = p[0] & 0x7f;
        for (size_t i = 1; i < len; ++i) value = (value << 8) | p[i];
        return true;
    }
    size_t i = 0;
    while (i < len && (p[i] == ' ' || p[i] == 0)) ++i;
    for (; i < len && p[i] >= '0' && p[i] <= '7'; ++i) value = value * 8 + (p[i] - '0');
    return true;
}

// "LEN key=value\n" records of a pax extended header.
void PaxRecords(std::string_view data, std::string& path, std::string& linkpath) {
    while (!data.empty()) {
        size_t space = data.find(' ');
        if (space == std::string_view::npos) return;
        size_t len = 0;
        for (size_t i = 0; i < space; ++i) {
            if (data[i] < '0' || data[i] > '9') return;
            len = len * 10 + static_cast<size_t>(data[i] - '0');
        }
        if (len <= space + 1 || len > data.size()) return;
        std::string_view record = data.substr(space + 1, len - space - 2);  // without '\n'
        size_t eq = record.find('=');
        if (eq != std::string_view::npos) {
            std::string_view key = record.substr(0, eq);
            std::string value(record.substr(eq + 1));
            if (key == "path") path = std::move(value);
            if (key == "linkpath") linkpath = std::move(value);
        }
        data.remove_prefix(len);
    }
}

}  // namespace

ArchiveType DetectArchive(std::string_view bytes) {
    if (bytes.size() >= 4 && bytes.substr(0, 2) == "PK" &&
        (bytes.substr(2, 2) == "\x03\x04" || bytes.substr(2, 2) == "\x05\x06")) {
        return ArchiveType::kZip;
    }
    if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0x1f &&
        static_cast<unsigned char>(bytes[1]) == 0x8b) {
        return ArchiveType::kTarGz;
    }
    return ArchiveType::kUnknown;
}

std::string ExtractZip(std::string_view zip, const std::string& dir, const ExtractLimits& limits) {
    const auto* data = reinterpret_cast<const unsigned char*>(zip.data());
    const size_t size = zip.size();
    if (size < 22) return "The zip file is truncated.";
    // End of central directory: the last "PK\5\6" within the final 64 KiB + 22 bytes.
    size_t eocd = std::string_view::npos;
    size_t lowest = size > 22 + 65535 ? size - 22 - 65535 : 0;
    for (size_t pos = size - 22 + 1; pos-- > lowest;) {
        if (U32(data + pos) == 0x06054b50) {
            eocd = pos;
            break;
        }
    }
    if (eocd == std::string_view::npos) return "The zip file has no central directory.";
    uint64_t entries = U16(data + eocd + 10);
    uint64_t cd_size = U32(data + eocd + 12);
    uint64_t cd_offset = U32(data + eocd + 16);
    if (entries == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) {
        // Zip64: the locator sits right before the classic record.
        if (eocd < 20 || U32(data + eocd - 20) != 0x07064b50) {
            return "The zip64 file has no end-of-central-directory locator.";
        }
        uint64_t eocd64 = U64(data + eocd - 20 + 8);
        if (size < 56 || eocd64 > size - 56 || U32(data + eocd64) != 0x06064b50) {
            return "The zip64 end-of-central-directory record is invalid.";
        }
        entries = U64(data + eocd64 + 32);
        cd_size = U64(data + eocd64 + 40);
        cd_offset = U64(data + eocd64 + 48);
    }
    if (cd_offset > size || cd_size > size - cd_offset) {
        return "The zip central directory lies outside the file.";
    }
    Writer writer{dir, "zip", {}};
    if (std::string err = writer.Directory(".", ".", 0); !err.empty()) return err;
    uint64_t budget = limits.max_total_bytes;  // what the entries may still expand to
    size_t pos = static_cast<size_t>(cd_offset);
    const size_t cd_end = static_cast<size_t>(cd_offset + cd_size);
    std::string inflated;
    for (uint64_t i = 0; i < entries; ++i) {
        if (pos + 46 > cd_end || U32(data + pos) != 0x02014b50) {
            return "The zip central directory is corrupt.";
        }
        const unsigned char* h = data + pos;
        uint16_t made_by = U16(h + 4);
        uint16_t flags = U16(h + 8);
        uint16_t method = U16(h + 10);
        uint32_t crc = U32(h + 16);
        uint64_t csize = U32(h + 20);
        uint64_t usize = U32(h + 24);
        uint16_t name_len = U16(h + 28);
        uint16_t extra_len = U16(h + 30);
        uint16_t comment_len = U16(h + 32);
        uint32_t external = U32(h + 38);
        uint64_t local = U32(h + 42);
        if (pos + 46 + name_len + extra_len + comment_len > cd_end) {
            return "The zip central directory is corrupt.";
        }
        std::string name(reinterpret_cast<const char*>(h + 46), name_len);
        // Zip64 sizes/offset in extra field 0x0001, in this order, each only when saturated.
        const unsigned char* extra = h + 46 + name_len;
        for (size_t e = 0; e + 4 <= extra_len;) {
            uint16_t id = U16(extra + e);
            uint16_t len = U16(extra + e + 2);
            if (e + 4 + len > extra_len) break;
            if (id == 0x0001) {
                const unsigned char* f = extra + e + 4;
                size_t left = len;
                auto take = [&](uint64_t& field) {
                    if (field == 0xffffffff && left >= 8) {
                        field = U64(f);
                        f += 8;
                        left -= 8;
                    }
                };
                take(usize);
                take(csize);
                take(local);
            }
            e += 4 + len;
        }
        pos += 46 + name_len + extra_len + comment_len;

        if (flags & 0x1)
            return "The zip entry '" + name + "' is encrypted; encryption is not supported.";
        std::string rel = SafeRelativePath(name);
        if (rel.empty()) {
            if (name == "./" || name == "/" || name.empty()) continue;
            return "The zip entry '" + name + "' points outside the action directory.";
        }
        mode_t mode = 0;
        if ((made_by >> 8) == 3) mode = static_cast<mode_t>(external >> 16);  // Unix
        const bool is_dir = name.back() == '/' || name.back() == '\\' || S_ISDIR(mode);
        if (is_dir) {
            if (std::string err = writer.Directory(name, rel, mode); !err.empty()) return err;
            continue;
        }
        if (size < 30 || local > size - 30 || U32(data + local) != 0x04034b50) {
            return "The zip entry '" + name + "' has no local header.";
        }
        uint64_t data_start = local + 30 + U16(data + local + 26) + U16(data + local + 28);
        if (data_start > size || csize > size - data_start) {
            return "The zip entry '" + name + "' is truncated.";
        }
        // Believe the declared size only as far as the compressed bytes can hold it.
        if (method == 8 && usize > csize * kMaxDeflateRatio + kDeflateSlack) {
            return "The zip entry '" + name + "' declares " + std::to_string(usize) +
                   " bytes, more than its " + std::to_string(csize) + " compressed bytes can hold.";
        }
        if (usize > budget) {
            return "The zip file expands to more than " + std::to_string(limits.max_total_bytes) +
                   " bytes.";
        }
        budget -= usize;
        std::string_view raw(zip.data() + data_start, static_cast<size_t>(csize));
        std::string_view content;
        if (method == 0) {
            if (csize != usize) return "The zip entry '" + name + "' is corrupt.";
            content = raw;
        } else if (method == 8) {
            if (!InflateRaw(raw, usize, inflated)) {
                return "The zip entry '" + name + "' cannot be decompressed.";
            }
            content = inflated;
        } else {
            return "The zip entry '" + name + "' uses compression method " +
                   std::to_string(method) + "; only stored and deflate are supported.";
        }
        uLong actual = crc32(0L, reinterpret_cast<const Bytef*>(content.data()),
                             static_cast<uInt>(content.size()));
        if (actual != crc) return "The zip entry '" + name + "' fails its CRC check.";
        if (S_ISLNK(mode)) {
            writer.symlinks.push_back({name, rel, std::string(content)});
            continue;
        }
        if (std::string err = writer.File(name, rel, content, mode); !err.empty()) return err;
    }
    return writer.Finish();
}

std::string ExtractTarGz(std::string_view tgz, const std::string& dir,
                         const ExtractLimits& limits) {
    std::string tar;
    bool too_large = false;
    if (!Gunzip(tgz, limits.max_total_bytes, tar, too_large)) {
        if (too_large) {
            return "The tar.gz file expands to more than " +
                   std::to_string(limits.max_total_bytes) + " bytes.";
        }
        return "The tar.gz file cannot be decompressed.";
    }
    Writer writer{dir, "tar", {}};
    if (std::string err = writer.Directory(".", ".", 0); !err.empty()) return err;
    const auto* data = reinterpret_cast<const unsigned char*>(tar.data());
    size_t pos = 0;
    std::string long_name, long_link;
    struct Hardlink {
        std::string name, rel, target;
    };
    std::vector<Hardlink> hardlinks;
    while (pos + 512 <= tar.size()) {
        const unsigned char* h = data + pos;
        bool zero = true;
        for (int i = 0; i < 512 && zero; ++i) zero = h[i] == 0;
        if (zero) break;
        uint64_t mode_bits = 0, size = 0;
        TarNumber(h + 100, 8, mode_bits);
        TarNumber(h + 124, 12, size);
        char type = static_cast<char>(h[156]);
        std::string name = CString(h, 100);
        std::string link = CString(h + 157, 100);
        if (std::memcmp(h + 257, "ustar", 5) == 0) {
            std::string prefix = CString(h + 345, 155);
            if (!prefix.empty()) name = prefix + "/" + name;
        }
        pos += 512;
        if (size > tar.size() - pos) return "The tar file is truncated.";
        std::string_view content(tar.data() + pos, static_cast<size_t>(size));
        pos += static_cast<size_t>((size + 511) / 512 * 512);
        if (type == 'L' || type == 'K' || type == 'x') {
            if (type == 'L')
                long_name =
                    CString(reinterpret_cast<const unsigned char*>(content.data()), content.size());
            if (type == 'K')
                long_link =
                    CString(reinterpret_cast<const unsigned char*>(content.data()), content.size());
            if (type == 'x') PaxRecords(content, long_name, long_link);
            continue;
        }
        if (!long_name.empty()) name = std::exchange(long_name, {});
        if (!long_link.empty()) link = std::exchange(long_link, {});
        if (type == 'g') continue;
        std::string rel = SafeRelativePath(name);
        if (rel.empty()) {
            if (name == "./" || name == "." || name == "/") continue;
            return "The tar entry '" + name + "' points outside the action directory.";
        }
        auto mode = static_cast<mode_t>(mode_bits & 07777);
        if (type == '5') {
            if (std::string err = writer.Directory(name, rel, mode); !err.empty()) return err;
        } else if (type == '0' || type == '\0' || type == '7') {
            if (std::string err = writer.File(name, rel, content, mode); !err.empty()) return err;
        } else if (type == '2') {
            writer.symlinks.push_back({name, rel, link});
        } else if (type == '1') {
            std::string target = SafeRelativePath(link);
            if (target.empty())
                return "The tar entry '" + name + "' links outside the action directory.";
            hardlinks.push_back({name, rel, target});
        }  // devices, fifos: skipped
    }
    for (const auto& [name, rel, target] : hardlinks) {
        if (std::string err = writer.Refuse(name, rel, false); !err.empty()) return err;
        if (std::string err = writer.Refuse(name, target, true); !err.empty()) return err;
        fs::path path = fs::path(dir) / rel;
        ::unlink(path.c_str());
        if (::link((fs::path(dir) / target).c_str(), path.c_str()) != 0) {
            return "cannot create hard link " + path.string() + ": " + std::strerror(errno);
        }
    }
    return writer.Finish();
}

}  // namespace wisp::proxy
