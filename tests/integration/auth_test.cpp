// API keys: no key is 401, and one client cannot read another client's notification.

#include "fixture.hpp"

#include <gtest/gtest.h>

#include <string>

namespace herald::test {
namespace {

constexpr const char* kConfig =
    "[auth.api_keys]\n"
    "\"key-a-0123456789abcdef\" = \"client-a\"\n"
    "\"key-b-0123456789abcdef\" = \"client-b\"\n";

const HeaderList kClientA = {{"Authorization", "Bearer key-a-0123456789abcdef"}};
const HeaderList kClientB = {{"Authorization", "Bearer key-b-0123456789abcdef"}};

class Auth : public IntegrationTest {};

TEST_F(Auth, RequestsWithoutAValidKeyAre401) {
    auto& herald = start_herald(with_config(kConfig));
    const std::string body = json_body(baseline_notification());

    const auto anonymous = herald.post_notification(body);
    EXPECT_EQ(anonymous.status, 401) << anonymous.describe();
    EXPECT_NE(anonymous.headers.get("WWW-Authenticate").value_or("").find("Bearer"),
              std::string::npos)
        << anonymous.describe();
    const auto wrong = herald.post_notification(body, {{"Authorization", "Bearer not-a-key"}});
    EXPECT_EQ(wrong.status, 401) << wrong.describe();

    const auto accepted = herald.post_notification(body, kClientA);
    const std::string id = accepted_id(accepted);
    ASSERT_FALSE(id.empty());
    const auto anonymous_get = herald.get_notification(id);
    EXPECT_EQ(anonymous_get.status, 401) << anonymous_get.describe();
    EXPECT_EQ(herald.client().get("/healthz").status, 200);
}

TEST_F(Auth, ClientCannotReadAnotherClientsNotification) {
    auto& herald = start_herald(with_config(kConfig));
    const std::string id =
        accepted_id(herald.post_notification(json_body(baseline_notification()), kClientA));
    ASSERT_FALSE(id.empty());

    const auto own = herald.get_notification(id, kClientA);
    EXPECT_EQ(own.status, 200) << own.describe();
    const auto other = herald.get_notification(id, kClientB);
    EXPECT_EQ(other.status, 404) << other.describe();
    EXPECT_EQ(other.body.find("client-a"), std::string::npos) << other.describe();
}

}  // namespace
}  // namespace herald::test
