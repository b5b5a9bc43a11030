#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace herald::test {

// The number of rows in `table` of the SQLite store at `database`, read on a read-only
// connection of its own (WAL lets it read beside a running herald). Throws std::runtime_error
// when the file or table cannot be read.
std::int64_t count_rows(const std::filesystem::path& database, const std::string& table);

}  // namespace herald::test
