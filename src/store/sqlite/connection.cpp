#include "store/sqlite/connection.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

namespace herald::store::sqlite {

Query::Query(sqlite3_stmt* statement, int prepare_error)
    : statement_(statement), prepare_error_(prepare_error) {}

Query::~Query() {
    if (statement_ == nullptr) {
        return;
    }
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
}

Query& Query::bind(int index, std::int64_t value) {
    if (statement_ != nullptr) {
        sqlite3_bind_int64(statement_, index, value);
    }
    return *this;
}

Query& Query::bind(int index, std::string_view text) {
    if (statement_ != nullptr) {
        // A default string_view has a null data(), which SQLite would bind as NULL, not ''.
        // SQLITE_TRANSIENT: SQLite copies the bytes, so the caller's string may go away.
        sqlite3_bind_text64(statement_,
                            index,
                            text.data() != nullptr ? text.data() : "",
                            static_cast<sqlite3_uint64>(text.size()),
                            SQLITE_TRANSIENT,
                            SQLITE_UTF8);
    }
    return *this;
}

Query& Query::bind(int index, std::optional<std::int64_t> value) {
    if (!value) {
        return bind_null(index);
    }
    return bind(index, *value);
}

Query& Query::bind_null(int index) {
    if (statement_ != nullptr) {
        sqlite3_bind_null(statement_, index);
    }
    return *this;
}

int Query::step() {
    if (statement_ == nullptr) {
        return prepare_error_;
    }
    return sqlite3_step(statement_);
}

int Query::run() {
    for (;;) {
        const int rc = step();
        if (rc != SQLITE_ROW) {
            return rc;
        }
    }
}

bool Query::is_null(int column) const {
    return sqlite3_column_type(statement_, column) == SQLITE_NULL;
}

std::int64_t Query::int64(int column) const {
    return sqlite3_column_int64(statement_, column);
}

std::string Query::text(int column) const {
    const auto* data = sqlite3_column_text(statement_, column);
    const int size = sqlite3_column_bytes(statement_, column);
    if (data == nullptr) {
        return {};
    }
    return std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size));
}

void Connection::StatementDeleter::operator()(sqlite3_stmt* statement) const {
    sqlite3_finalize(statement);
}

boost::system::result<std::unique_ptr<Connection>, std::string> Connection::open(
    const std::string& path, std::chrono::milliseconds busy_timeout) {
    sqlite3* handle = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &handle, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string reason = handle != nullptr ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
        sqlite3_close_v2(handle);
        return fmt::format("cannot open database '{}': {}", path, reason);
    }
    sqlite3_extended_result_codes(handle, 1);
    sqlite3_busy_timeout(handle, static_cast<int>(busy_timeout.count()));
    return std::unique_ptr<Connection>(new Connection(handle));
}

Connection::Connection(sqlite3* handle) : handle_(handle) {}

Connection::~Connection() {
    statements_.clear();  // statements must be finalized before the connection closes
    sqlite3_close_v2(handle_);
}

Query Connection::query(std::string_view sql) {
    const std::string key(sql);
    if (auto found = statements_.find(key); found != statements_.end()) {
        return Query(found->second.get(), SQLITE_OK);
    }
    sqlite3_stmt* statement = nullptr;
    const int rc = sqlite3_prepare_v3(handle_,
                                      key.data(),
                                      static_cast<int>(key.size()),
                                      SQLITE_PREPARE_PERSISTENT,
                                      &statement,
                                      nullptr);
    if (rc != SQLITE_OK || statement == nullptr) {
        sqlite3_finalize(statement);
        return Query(nullptr, rc != SQLITE_OK ? rc : SQLITE_MISUSE);
    }
    statements_.emplace(key, statement);
    return Query(statement, SQLITE_OK);
}

int Connection::execute(const std::string& sql) {
    return sqlite3_exec(handle_, sql.c_str(), nullptr, nullptr, nullptr);
}

bool Connection::in_autocommit() const {
    return sqlite3_get_autocommit(handle_) != 0;
}

std::int64_t Connection::changes() const {
    return sqlite3_changes64(handle_);
}

std::int64_t Connection::total_changes() const {
    return sqlite3_total_changes64(handle_);
}

std::string Connection::error_message() const {
    return sqlite3_errmsg(handle_);
}

bool Connection::file_moved() const {
    int moved = 0;
    const int rc = sqlite3_file_control(handle_, "main", SQLITE_FCNTL_HAS_MOVED, &moved);
    return rc == SQLITE_OK && moved != 0;
}

bool is_duplicate(int rc) {
    return rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE;
}

}  // namespace herald::store::sqlite
