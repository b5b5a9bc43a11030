// herald end to end through each transport: what arrives at the provider, and what herald's
// status endpoint says about it.

#include "fixture.hpp"

#include "support/mime_checks.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

namespace herald::test {
namespace {

class Delivery : public IntegrationTest {};

TEST_F(Delivery, MaildirTransportWritesOneMessageFileAndReportsSent) {
    auto& herald = start_herald({});
    auto body = baseline_notification();
    body["subject"] = "Maildir delivery check";
    const auto response = herald.post_notification(json_body(body));
    const std::string id = accepted_id(response);
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(response.headers.get("Location"), "/v1/notifications/" + id);
    const auto accepted = response.json();
    ASSERT_TRUE(accepted.has_value());
    EXPECT_EQ(string_at(*accepted, "status"), "queued");
    EXPECT_FALSE(string_at(*accepted, "created_at").empty());

    const auto new_dir = herald.maildir() / "new";
    ASSERT_TRUE(wait_until([&] { return !files_in(new_dir).empty(); }))
        << "no file appeared in " << new_dir;
    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
    EXPECT_EQ(int_at(*status, "attempts", -1), 1) << json_text(*status);

    const auto files = files_in(new_dir);
    ASSERT_EQ(files.size(), 1U);
    const std::string raw = read_file(files[0]);
    const auto mail = parse_mail(raw);
    EXPECT_EQ(mail.subject, "Maildir delivery check");
    ASSERT_EQ(mail.to.size(), 1U);
    EXPECT_EQ(mail.to[0].address, "alice@example.com");
    EXPECT_TRUE(body_matches(mail.text.value_or(""), "Hi")) << mail.text.value_or("<none>");
    EXPECT_EQ(bare_message_id(mail.message_id.value_or("")),
              bare_message_id(string_at(*status, "message_id")));
    EXPECT_TRUE(only_crlf_line_ends(raw));
}

TEST_F(Delivery, SmtpTransportDeliversToMaildevWithTheReportedMessageId) {
    auto& maildev = start_maildev();
    auto& herald = start_smtp_herald(maildev);
    const boost::json::object body{
        {"from", boost::json::object{{"name", "Billing Team"}, {"address", "billing@example.com"}}},
        {"to", boost::json::array{"Alice Example <alice@example.com>", "bob@example.com"}},
        {"subject", "Your invoice is ready"},
        {"text", "Dear Alice,\nyour invoice is attached.\nRegards"},
        {"html", "<p>Dear Alice,</p>\n<p>your invoice is <b>attached</b>.</p>"}};
    const auto delivered = deliver(herald, maildev, json_body(body));
    ASSERT_TRUE(delivered.has_value());
    const auto& mail = delivered->mail;

    EXPECT_EQ(mail.subject, "Your invoice is ready");
    ASSERT_EQ(mail.from.size(), 1U);
    EXPECT_EQ(mail.from[0], (MailAddress{"Billing Team", "billing@example.com"}));
    ASSERT_EQ(mail.to.size(), 2U);
    EXPECT_EQ(mail.to[0], (MailAddress{"Alice Example", "alice@example.com"}));
    EXPECT_EQ(mail.to[1], (MailAddress{"", "bob@example.com"}));
    EXPECT_TRUE(
        body_matches(mail.text.value_or(""), "Dear Alice,\nyour invoice is attached.\nRegards"))
        << mail.text.value_or("<none>");
    EXPECT_TRUE(body_matches(mail.html.value_or(""),
                             "<p>Dear Alice,</p>\n<p>your invoice is <b>attached</b>.</p>"))
        << mail.html.value_or("<none>");
    const std::string reported = string_at(delivered->status, "message_id");
    EXPECT_FALSE(reported.empty()) << json_text(delivered->status);
    EXPECT_EQ(bare_message_id(mail.message_id.value_or("")), bare_message_id(reported));
    EXPECT_EQ(int_at(delivered->status, "attempts", -1), 1);

    const auto* envelope_to = find_path(delivered->message, "envelope.to");
    ASSERT_NE(envelope_to, nullptr);
    ASSERT_EQ(envelope_to->as_array().size(), 2U);
    EXPECT_EQ(string_at(envelope_to->as_array()[0], "address"), "alice@example.com");
    EXPECT_EQ(string_at(envelope_to->as_array()[1], "address"), "bob@example.com");
    EXPECT_EQ(string_at(*find_path(delivered->message, "envelope.from"), "address"),
              "billing@example.com");
}

TEST_F(Delivery, HttpTransportCallsTheProviderOnceWithTheNotificationIdAsIdempotencyKey) {
    auto& mockmail = start_mockmail();
    auto& herald = start_herald(with_transport(mockmail.send_url()));
    auto body = baseline_notification();
    body["subject"] = "Sent through the HTTP API";
    body["html"] = "<p>Hi</p>";
    const std::string id = accepted_id(herald.post_notification(json_body(body)));
    ASSERT_FALSE(id.empty());
    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
    EXPECT_EQ(int_at(*status, "attempts", -1), 1);

    const auto calls = mockmail.calls();
    ASSERT_EQ(calls.size(), 1U) << json_text(calls);
    const auto& call = calls[0];
    EXPECT_EQ(string_at(call, "idempotency_key"), id) << json_text(call);
    EXPECT_EQ(string_at(call, "subject"), "Sent through the HTTP API") << json_text(call);
    EXPECT_NE(json_text(call).find("alice@example.com"), std::string::npos) << json_text(call);
    EXPECT_NE(json_text(call).find("noreply@example.com"), std::string::npos) << json_text(call);
    EXPECT_EQ(bare_message_id(string_at(call, "message_id")),
              bare_message_id(string_at(*status, "message_id")))
        << json_text(call);
}

}  // namespace
}  // namespace herald::test
