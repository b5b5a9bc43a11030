#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <set>

namespace herald::core {
namespace {

TEST(NewUuidV7, HasVersionSevenAndTheRfcVariant) {
    const std::string id = new_uuid_v7();
    ASSERT_TRUE(looks_like_uuid(id)) << id;
    EXPECT_EQ(id[14], '7');
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos);
}

TEST(NewUuidV7, IsUniqueAndSortsByCreationMillisecond) {
    std::set<std::string> seen;
    std::string previous;
    for (int i = 0; i < 10000; ++i) {
        const std::string id = new_uuid_v7();
        EXPECT_TRUE(seen.insert(id).second);
        // The first 48 bits are the millisecond timestamp, so prefixes never go backwards.
        EXPECT_GE(id.substr(0, 13), previous.substr(0, std::min<std::size_t>(13, previous.size())));
        previous = id;
    }
}

TEST(LooksLikeUuid, RefusesOtherShapes) {
    EXPECT_FALSE(looks_like_uuid(""));
    EXPECT_FALSE(looks_like_uuid("../../etc/passwd"));
    EXPECT_FALSE(looks_like_uuid("01A23D50-588E-77FE-A3D1-47358E2A0EB0"));
    EXPECT_FALSE(looks_like_uuid("01a23d50-588e-77fe-a3d1-47358e2a0eb"));
    EXPECT_TRUE(looks_like_uuid("01a23d50-588e-77fe-a3d1-47358e2a0eb0"));
}

}  // namespace
}  // namespace herald::core
