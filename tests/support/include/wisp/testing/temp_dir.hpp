#pragma once
// A fresh temporary directory, removed with its contents when the object goes away.
#include <filesystem>
#include <string>
#include <string_view>

namespace wisp::testing {

class TempDir {
  public:
    /// Creates "$TMPDIR/<prefix>XXXXXX" (or under /tmp). Aborts the test binary when no
    /// directory can be created: nothing sensible can run without one.
    explicit TempDir(std::string_view prefix = "wisp-test-");
    /// Removes the directory recursively, unless WISP_KEEP_TEMP is set (for post-mortems).
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    /// `path() / name` as a string (the file is not created).
    std::string File(std::string_view name) const;

  private:
    std::filesystem::path path_;
};

}  // namespace wisp::testing
