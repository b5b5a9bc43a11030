#pragma once

#include <filesystem>
#include <string_view>

namespace herald::test {

// A fresh directory under the system temp dir (mkdtemp), removed with everything in it when the
// object is destroyed unless keep() was called (tests keep it on failure as evidence) or the
// environment has HERALD_IT_KEEP=1.
// Not thread-safe; move-only. Throws std::runtime_error when the directory cannot be made.
class TempDir {
public:
    explicit TempDir(std::string_view prefix = "herald-it");
    ~TempDir();
    TempDir(TempDir&& other) noexcept;
    TempDir& operator=(TempDir&&) = delete;
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }
    void keep() { keep_ = true; }

private:
    std::filesystem::path path_;
    bool keep_ = false;
};

}  // namespace herald::test
