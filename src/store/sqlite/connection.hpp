#pragma once

#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace herald::store::sqlite {

// A prepared statement borrowed from a Connection's cache for one use. Bind, step, read columns;
// the destructor resets the statement and clears its bindings so the next use starts clean.
// Parameter and column indexes are those of SQLite: parameters from 1, columns from 0.
// A statement that failed to prepare returns its preparation error from every step().
class Query {
public:
    Query(sqlite3_stmt* statement, int prepare_error);
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;
    ~Query();

    Query& bind(int index, std::int64_t value);
    Query& bind(int index, std::string_view text);
    Query& bind(int index, std::optional<std::int64_t> value);
    Query& bind_null(int index);

    // SQLITE_ROW, SQLITE_DONE, or an (extended) SQLite error code.
    int step();
    // Steps until SQLITE_DONE; returns SQLITE_DONE or the first error.
    int run();

    bool is_null(int column) const;
    std::int64_t int64(int column) const;
    std::string text(int column) const;

private:
    sqlite3_stmt* statement_;
    int prepare_error_;
};

// One SQLite connection, owned and used by a single store thread for its whole life (it is opened
// with SQLITE_OPEN_NOMUTEX). Prepared statements are cached by their SQL text and live as long as
// the connection. Closing happens in the destructor, on the owning thread.
class Connection {
public:
    // Opens or creates the database file, turns on extended result codes and sets the busy
    // timeout. The error string names the file and SQLite's reason.
    static boost::system::result<std::unique_ptr<Connection>, std::string> open(
        const std::string& path, std::chrono::milliseconds busy_timeout);

    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection();

    // A cached prepared statement for `sql` (one statement). At most one Query for the same SQL
    // text may be alive at a time, since they share the prepared statement.
    Query query(std::string_view sql);

    // Runs one or more statements without caching (schema, pragmas). SQLITE_OK or an error code.
    int execute(const std::string& sql);

    // True when no transaction is open: after a failed statement this means SQLite rolled the
    // whole transaction back on its own (I/O error, disk full, out of memory).
    bool in_autocommit() const;

    // Rows changed by the most recent INSERT, UPDATE or DELETE.
    std::int64_t changes() const;

    // Rows changed by every INSERT, UPDATE or DELETE since the connection opened (rolled back
    // ones included).
    std::int64_t total_changes() const;

    // SQLite's text for the most recent error on this connection.
    std::string error_message() const;

    // True when the database file this connection opened is no longer at its path (deleted,
    // renamed, or replaced by another file). SQLite keeps writing to the open file regardless,
    // so a write committed after that would be lost at the next start. Costs one stat().
    bool file_moved() const;

private:
    explicit Connection(sqlite3* handle);

    struct StatementDeleter {
        void operator()(sqlite3_stmt* statement) const;
    };

    sqlite3* handle_;
    std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, StatementDeleter>> statements_;
};

// A read transaction (one consistent snapshot) for as long as it lives: BEGIN at construction,
// COMMIT at destruction unless the connection is no longer in one. begin_result() is BEGIN's
// result code (SQLITE_DONE when it worked).
class ReadTransaction {
public:
    explicit ReadTransaction(Connection& db) : db_(db), rc_(db.query("BEGIN").run()) {}
    ReadTransaction(const ReadTransaction&) = delete;
    ReadTransaction& operator=(const ReadTransaction&) = delete;
    ~ReadTransaction() {
        if (!db_.in_autocommit()) {
            db_.query("COMMIT").run();
        }
    }

    int begin_result() const { return rc_; }

private:
    Connection& db_;
    int rc_;
};

// True for the constraint failures that mean "this row exists already".
bool is_duplicate(int rc);

}  // namespace herald::store::sqlite
