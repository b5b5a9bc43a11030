// The http transport's provider profiles end to end: the real herald posts in SendGrid's or
// Mailgun's shape to the real herald-mockmail, and the test reads what arrived at the peer.

#include "fixture.hpp"

#include <gtest/gtest.h>

#include <string>

namespace herald::test {
namespace {

class ProviderProfiles : public IntegrationTest {
protected:
    // A mock provider and a herald posting to `path` on it with the profile; the token comes
    // from the environment, as secrets must.
    HeraldPeer& start_profile(const std::string& profile, const std::string& path) {
        auto& mock = start_mockmail();
        provider_ = &mock;
        HeraldOptions options;
        options.transport = mock.base_url() + path;
        options.env["HERALD_HTTP_PROFILE"] = profile;
        options.env["HERALD_HTTP_TOKEN"] = "test-api-key";
        return start_herald(std::move(options));
    }

    // POSTs the rich notification, waits for `sent`, and returns the one call the mock got.
    boost::json::value deliver_one(HeraldPeer& herald) {
        const std::string id = accepted_id(herald.post_notification(json_body(rich_body())));
        if (id.empty()) {
            return nullptr;
        }
        id_ = id;
        const auto status = herald.wait_for_status(id, {"sent", "failed"});
        if (!status || string_at(*status, "status") != "sent") {
            ADD_FAILURE() << "not sent: " << (status ? json_text(*status) : "no status");
            return nullptr;
        }
        message_id_ = string_at(*status, "message_id");
        const auto calls = provider_->calls();
        if (calls.size() != 1) {
            ADD_FAILURE() << "expected one call: " << json_text(calls);
            return nullptr;
        }
        return calls[0];
    }

    static boost::json::object rich_body() {
        return boost::json::object{
            {"from", boost::json::object{{"name", "Zoë Ünal"}, {"address", "noreply@example.com"}}},
            {"to", boost::json::array{"Alice Example <alice@example.com>"}},
            {"cc", boost::json::array{"carol@example.com"}},
            {"bcc", boost::json::array{"bob@example.com"}},
            {"reply_to", "help@example.com"},
            {"subject", "Résumé ready"},
            {"text", "Hi Alice"},
            {"html", "<p>Hi</p>"},
            {"headers", boost::json::object{{"X-Campaign", "spring"}}},
            {"tags", boost::json::array{"billing"}},
            {"metadata", boost::json::object{{"order", "42"}}}};
    }

    MockmailPeer* provider_ = nullptr;
    std::string id_;
    std::string message_id_;
};

// The checks both provider shapes share, on the mock's parsed fields.
void expect_rich_fields(const boost::json::value& call, const std::string& id) {
    const auto& fields = call.at("fields");
    EXPECT_EQ(fields.at("from"), "Zoë Ünal <noreply@example.com>") << json_text(call);
    EXPECT_EQ(fields.at("to"), boost::json::array{"Alice Example <alice@example.com>"});
    EXPECT_EQ(fields.at("cc"), boost::json::array{"carol@example.com"});
    EXPECT_EQ(fields.at("bcc"), boost::json::array{"bob@example.com"});
    EXPECT_EQ(fields.at("reply_to"), boost::json::array{"help@example.com"});
    EXPECT_EQ(fields.at("subject"), "Résumé ready");
    EXPECT_EQ(fields.at("text"), "Hi Alice");
    EXPECT_EQ(fields.at("html"), "<p>Hi</p>");
    EXPECT_EQ(fields.at("headers").at("X-Campaign"), "spring");
    EXPECT_EQ(fields.at("tags"), boost::json::array{"billing"});
    EXPECT_EQ(fields.at("variables").at("order"), "42");
    EXPECT_EQ(string_at(fields.at("variables"), "herald_notification_id"), id);
    // Bcc goes to the provider as a recipient, never as a header.
    for (const auto& [name, value] : fields.at("headers").as_object()) {
        EXPECT_NE(name, "Bcc");
        EXPECT_EQ(json_text(value).find("bob@example.com"), std::string::npos) << name;
    }
    EXPECT_EQ(string_at(call, "idempotency_key"), id);
}

TEST_F(ProviderProfiles, SendgridProfilePostsV3JsonAndCountsThe202AsSent) {
    auto& herald = start_profile("sendgrid", "/v3/mail/send");
    const auto call = deliver_one(herald);
    ASSERT_TRUE(call.is_object());

    EXPECT_EQ(string_at(call, "route"), "sendgrid") << json_text(call);
    EXPECT_EQ(string_at(call, "content_type"), "application/json");
    EXPECT_EQ(string_at(call, "authorization_scheme"), "Bearer");
    EXPECT_EQ(int_at(call, "answer", 0), 202);
    expect_rich_fields(call, id_);
    EXPECT_EQ(bare_message_id(string_at(call, "message_id")), bare_message_id(message_id_));
    EXPECT_EQ(string_at(call, "body").find("test-api-key"), std::string::npos);
}

TEST_F(ProviderProfiles, MailgunProfilePostsAFormWithBasicAuth) {
    auto& herald = start_profile("mailgun", "/v3/mg.example.com/messages");
    const auto call = deliver_one(herald);
    ASSERT_TRUE(call.is_object());

    EXPECT_EQ(string_at(call, "route"), "mailgun") << json_text(call);
    EXPECT_EQ(string_at(call, "content_type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(string_at(call, "authorization_scheme"), "Basic");
    EXPECT_EQ(string_at(call, "authorization_user"), "api");
    EXPECT_EQ(int_at(call, "answer", 0), 200);
    expect_rich_fields(call, id_);
    EXPECT_EQ(bare_message_id(string_at(call, "message_id")), bare_message_id(message_id_));
}

TEST_F(ProviderProfiles, ASendgridThrottleIsRetriedWithTheSameKeyAndMessageId) {
    MockmailOptions mock;
    mock.fail_status = 429;
    mock.fail_count = 1;
    provider_ = &start_mockmail(mock);
    HeraldOptions options;
    options.transport = provider_->base_url() + "/v3/mail/send";
    options.env["HERALD_HTTP_PROFILE"] = "sendgrid";
    options.env["HERALD_DELIVERY_BACKOFF_BASE_MS"] = "10";
    auto& herald = start_herald(std::move(options));

    const std::string id = accepted_id(herald.post_notification(json_body(rich_body())));
    ASSERT_FALSE(id.empty());
    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
    EXPECT_EQ(int_at(*status, "attempts", -1), 2) << json_text(*status);
    const auto calls = provider_->calls();
    ASSERT_EQ(calls.size(), 2U) << json_text(calls);
    EXPECT_EQ(int_at(calls[0], "answer", 0), 429);
    EXPECT_EQ(int_at(calls[1], "answer", 0), 202);
    EXPECT_EQ(string_at(calls[0], "message_id"), string_at(calls[1], "message_id"));
    EXPECT_EQ(provider_->key_counts().at(id), 2);
}

}  // namespace
}  // namespace herald::test
