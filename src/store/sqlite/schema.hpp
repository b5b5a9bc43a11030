#pragma once

#include "store/sqlite/connection.hpp"

#include <boost/system/result.hpp>

#include <string>

namespace herald::store::sqlite {

// The newest schema version this build knows.
inline constexpr int kSchemaVersion = 4;

// Sets the per-connection settings every store connection needs: WAL journal, synchronous=FULL
// (a commit returns only once it is durable), foreign keys on.
boost::system::result<void, std::string> configure(Connection& db);

// Brings the database to kSchemaVersion in one transaction, recording the version in the
// schema_version table. Fails, changing nothing, when the file was written by a newer herald.
// Run on the writer's connection before any other connection prepares statements.
boost::system::result<void, std::string> migrate(Connection& db);

}  // namespace herald::store::sqlite
