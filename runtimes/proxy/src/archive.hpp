#pragma once
// Action archives sent to /init with "binary":true: zip (also jar) and tar.gz. Their base64 is
// read by wisp::common::Base64Decode (<wisp/common/base64.hpp>, mode kLineWrapped).
// Implemented on zlib so that the runtime images need no unzip/tar tools.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace wisp::proxy {

enum class ArchiveType { kZip, kTarGz, kUnknown };

/// By the leading bytes: "PK\x03\x04" (or an empty zip "PK\x05\x06") -> zip, 1f 8b -> gzip.
ArchiveType DetectArchive(std::string_view bytes);

/// Bounds of one extraction. Sizes an archive declares are believed only up to what its bytes
/// can hold and up to these limits, so a small hostile archive cannot make the proxy allocate
/// (or write) more.
struct ExtractLimits {
    /// The bytes of all entries together (for tar.gz: the uncompressed tar stream).
    uint64_t max_total_bytes = uint64_t{512} << 20;
};

/// Extracts every entry under `dir` (created when missing). Entry paths that are absolute or
/// contain ".." are refused, and so is any entry that would be created through a symlink (one
/// from the archive or one already in `dir`): nothing is ever written outside `dir`. Unix
/// permission bits and symlinks are kept (symlinks are created after all files so that no file
/// is written through one). Returns "" on success, otherwise a sentence saying what is wrong
/// with the archive.
std::string ExtractZip(std::string_view zip, const std::string& dir,
                       const ExtractLimits& limits = {});
std::string ExtractTarGz(std::string_view tgz, const std::string& dir,
                         const ExtractLimits& limits = {});

}  // namespace wisp::proxy
