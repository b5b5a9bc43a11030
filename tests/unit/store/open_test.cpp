#include "store/open.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

namespace herald::store {
namespace {

using testing::Pending;
using testing::ScratchDir;

// Runs one statement on a connection of the test's own and returns the first column of the
// first row as text ("" when there is none).
std::string query_text(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql, -1, &statement, nullptr), SQLITE_OK)
        << sqlite3_errmsg(db);
    std::string text;
    if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
        text = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return text;
}

TEST(OpenStore, CreatesMissingParentDirectories) {
    ScratchDir dir;
    const auto path = dir.path() / "var" / "lib" / "herald.db";

    auto opened = open_store("sqlite:" + path.string(), {});
    ASSERT_TRUE(opened) << opened.error();
    Pending<void> pinged;
    (*opened)->ping(pinged.callback());
    EXPECT_TRUE(pinged.get());
    EXPECT_TRUE(std::filesystem::exists(path));
}

TEST(OpenStore, MigratesANewFileToTheCurrentSchemaInWalMode) {
    ScratchDir dir;
    const std::string path = (dir.path() / "herald.db").string();

    auto opened = open_store("sqlite:" + path, {});
    ASSERT_TRUE(opened) << opened.error();
    opened->reset();

    EXPECT_EQ(query_text(path, "PRAGMA journal_mode"), "wal");
    EXPECT_EQ(query_text(path, "SELECT version FROM schema_version"), "4");
    EXPECT_EQ(query_text(path,
                         "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
                         "('notifications', 'outbox', 'attempts', 'idempotency_keys')"),
              "4");
    EXPECT_EQ(query_text(path,
                         "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                         "name = 'outbox_due_at'"),
              "1");
}

TEST(OpenStore, ReopensAMigratedFile) {
    ScratchDir dir;
    const std::string url = "sqlite:" + (dir.path() / "herald.db").string();

    ASSERT_TRUE(open_store(url, {}));
    auto reopened = open_store(url, {});
    ASSERT_TRUE(reopened) << reopened.error();
}

TEST(OpenStore, RefusesAFileFromANewerSchema) {
    ScratchDir dir;
    const std::string path = (dir.path() / "herald.db").string();
    ASSERT_TRUE(open_store("sqlite:" + path, {}));
    query_text(path, "UPDATE schema_version SET version = 99");

    auto opened = open_store("sqlite:" + path, {});
    ASSERT_FALSE(opened);
    EXPECT_NE(opened.error().find("99"), std::string::npos) << opened.error();
}

TEST(OpenStore, RefusesAnUnknownScheme) {
    auto opened = open_store("postgres://localhost/herald", {});
    ASSERT_FALSE(opened);
    EXPECT_NE(opened.error().find("postgres://localhost/herald"), std::string::npos);
}

TEST(OpenStore, RefusesAnEmptyPath) {
    EXPECT_FALSE(open_store("sqlite:", {}));
}

TEST(OpenStore, ReportsAFileThatCannotBeOpened) {
    ScratchDir dir;
    // A directory where the database file should be.
    std::filesystem::create_directories(dir.path() / "herald.db");

    auto opened = open_store("sqlite:" + (dir.path() / "herald.db").string(), {});
    ASSERT_FALSE(opened);
    EXPECT_FALSE(opened.error().empty());
}

}  // namespace
}  // namespace herald::store
