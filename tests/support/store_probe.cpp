#include "support/store_probe.hpp"

#include <sqlite3.h>

#include <memory>
#include <stdexcept>

namespace herald::test {

std::int64_t count_rows(const std::filesystem::path& database, const std::string& table) {
    sqlite3* raw = nullptr;
    const int opened = sqlite3_open_v2(database.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr);
    std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
    if (opened != SQLITE_OK) {
        throw std::runtime_error("cannot open " + database.string());
    }
    sqlite3_busy_timeout(db.get(), 5000);
    const std::string sql = "SELECT count(*) FROM " + table;
    sqlite3_stmt* raw_statement = nullptr;
    if (sqlite3_prepare_v2(db.get(), sql.c_str(), -1, &raw_statement, nullptr) != SQLITE_OK) {
        throw std::runtime_error(std::string{"cannot read "} + table + ": " +
                                 sqlite3_errmsg(db.get()));
    }
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> statement(raw_statement,
                                                                         &sqlite3_finalize);
    if (sqlite3_step(statement.get()) != SQLITE_ROW) {
        throw std::runtime_error(std::string{"cannot count "} + table);
    }
    return sqlite3_column_int64(statement.get(), 0);
}

}  // namespace herald::test
