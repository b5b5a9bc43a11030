#include "store/open.hpp"

#include "store/sqlite/sqlite_store.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <system_error>

namespace herald::store {
namespace {

constexpr std::string_view kSqliteScheme = "sqlite:";

}  // namespace

boost::system::result<std::unique_ptr<Store>, std::string> open_store(std::string_view url,
                                                                      const StoreOptions& options) {
    if (!url.starts_with(kSqliteScheme)) {
        return fmt::format("unsupported store url '{}': expected sqlite:PATH", url);
    }
    const std::string path(url.substr(kSqliteScheme.size()));
    if (path.empty()) {
        return std::string("store url 'sqlite:' has no path");
    }

    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(parent, ec);
        if (ec) {
            return fmt::format("cannot create directory '{}': {}", parent.string(), ec.message());
        }
    }

    auto opened = sqlite::SqliteStore::open(path, options);
    if (!opened) {
        return opened.error();
    }
    return std::unique_ptr<Store>(std::move(*opened));
}

}  // namespace herald::store
