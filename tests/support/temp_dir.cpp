#include "support/temp_dir.hpp"

#include <cstdlib>
#include <stdexcept>
#include <stdlib.h>
#include <string>
#include <system_error>

namespace herald::test {

TempDir::TempDir(std::string_view prefix) {
    std::string pattern =
        (std::filesystem::temp_directory_path() / (std::string{prefix} + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("mkdtemp failed for " + pattern);
    }
    path_ = pattern;
    // HERALD_IT_KEEP=1 keeps every test's directory (peer logs, stores) for inspection.
    const char* keep = std::getenv("HERALD_IT_KEEP");
    keep_ = keep != nullptr && std::string_view{keep} == "1";
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)), keep_(other.keep_) {
    other.path_.clear();
}

TempDir::~TempDir() {
    if (path_.empty() || keep_) {
        return;
    }
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
}

}  // namespace herald::test
