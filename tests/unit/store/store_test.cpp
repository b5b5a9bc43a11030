#include "store/store.hpp"

#include <gtest/gtest.h>

namespace herald::store {
namespace {

TEST(Status, RoundTripsThroughItsName) {
    for (Status status : {Status::queued,
                          Status::sending,
                          Status::sent,
                          Status::retrying,
                          Status::failed,
                          Status::expired,
                          Status::cancelled}) {
        EXPECT_EQ(parse_status(to_string(status)), status);
    }
    EXPECT_EQ(to_string(Status::retrying), "retrying");
}

TEST(Status, UnknownNameParsesToNothing) {
    EXPECT_FALSE(parse_status("Sent").has_value());
    EXPECT_FALSE(parse_status("").has_value());
}

TEST(StoreError, ConvertsToAnErrorCodeOfTheStoreCategory) {
    const boost::system::error_code ec = StoreError::stale_lease;
    EXPECT_EQ(ec.category().name(), std::string("herald.store"));
    EXPECT_EQ(ec, StoreError::stale_lease);
    EXPECT_NE(ec, StoreError::not_found);
    EXPECT_FALSE(ec.message().empty());
    EXPECT_NE(make_error_code(StoreError::overloaded).message(),
              make_error_code(StoreError::shutting_down).message());
}

}  // namespace
}  // namespace herald::store
