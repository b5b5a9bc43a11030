#include "delivery/http_profiles.hpp"

#include "mockmail_process.hpp"
#include "sample_message.hpp"

#include "delivery/http_transport.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herald::delivery {
namespace {

using testing::MockMailProcess;
using testing::outbound;
using testing::sample_message;
using testing::send_and_wait;

// Everything a profile maps: UTF-8 and quoted names, an address repeated across to and cc,
// cc, bcc, one reply-to, text and html, a repeated custom header, tags and metadata.
std::shared_ptr<OutboundMessage> rich_message() {
    mail::Message m;
    m.from = {"Zoë Ünal", "noreply@example.com"};
    m.to = {{"Alice Example", "alice@example.com"}, {"", "dave@example.com"}};
    m.cc = {{"Carol, Finance", "carol@example.com"}, {"", "Alice@example.com"}};
    m.bcc = {{"", "bob@example.com"}};
    m.reply_to = {{"Support", "help@example.com"}};
    m.subject = "Résumé ready";
    m.text = "Hi Alice";
    m.html = "<p>Hi</p>";
    m.headers = {{"X-Campaign", "spring"},
                 {"x-campaign", "summer"},
                 {"List-Unsubscribe", "<https://example.com/u>"}};
    m.message_id = "n-1@herald.example";
    m.date_ms = 1764787565123;
    auto out = outbound(std::move(m), "n-1");
    out->tags = {"billing", "invoice"};
    out->metadata = {{"order", "42"}, {"amount", 12}};
    return out;
}

std::string joined(const std::vector<std::string>& fields) {
    std::string out;
    for (const auto& field : fields) {
        out += (out.empty() ? "" : "&") + field;
    }
    return out;
}

TEST(SendgridRequestBody, MapsEveryFieldInTheDocumentedShape) {
    const std::string expected =
        R"({"personalizations":[{"to":[{"email":"alice@example.com","name":"Alice Example"},)"
        R"({"email":"dave@example.com"}],"cc":[{"email":"carol@example.com",)"
        R"("name":"Carol, Finance"}],"bcc":[{"email":"bob@example.com"}]}],)"
        R"("from":{"email":"noreply@example.com","name":"Zoë Ünal"},)"
        R"("reply_to":{"email":"help@example.com","name":"Support"},)"
        R"("subject":"Résumé ready",)"
        R"("content":[{"type":"text/plain","value":"Hi Alice"},)"
        R"({"type":"text/html","value":"<p>Hi</p>"}],)"
        R"("headers":{"Message-ID":"<n-1@herald.example>","X-Campaign":"spring",)"
        R"("List-Unsubscribe":"<https://example.com/u>"},)"
        R"("categories":["billing","invoice"],)"
        R"("custom_args":{"herald_notification_id":"n-1","order":"42","amount":"12"}})";

    EXPECT_EQ(sendgrid_request_body(*rich_message()), expected);
}

TEST(SendgridRequestBody, LeavesOutEmptyListsAndUsesReplyToListForSeveral) {
    auto message = outbound(sample_message(), "n-2");
    message->message.cc.clear();
    message->message.bcc.clear();
    message->message.reply_to = {{"", "a@example.com"}, {"B", "b@example.com"}};
    message->message.text.clear();
    message->message.html = "<b>only html</b>";

    const auto body = boost::json::parse(sendgrid_request_body(*message)).as_object();

    const auto& personalization = body.at("personalizations").as_array().at(0).as_object();
    EXPECT_FALSE(personalization.contains("cc"));
    EXPECT_FALSE(personalization.contains("bcc"));
    EXPECT_FALSE(body.contains("reply_to"));
    EXPECT_EQ(body.at("reply_to_list"),
              boost::json::parse(R"([{"email":"a@example.com"},)"
                                 R"({"email":"b@example.com","name":"B"}])"));
    EXPECT_EQ(body.at("content"),
              boost::json::parse(R"([{"type":"text/html","value":"<b>only html</b>"}])"));
    EXPECT_FALSE(body.contains("categories"));
}

TEST(SendgridRequestBody, KeepsTheFirstTenTagsAndHeraldsIdOverAMetadataKey) {
    auto message = outbound(sample_message(), "n-3");
    for (int i = 0; i < 12; ++i) {
        message->tags.push_back("t" + std::to_string(i));
    }
    message->metadata = {{"herald_notification_id", "spoofed"}, {"nested", {{"a", 1}}}};

    const auto body = boost::json::parse(sendgrid_request_body(*message)).as_object();

    EXPECT_EQ(body.at("categories").as_array().size(), kMaxSendgridCategories);
    EXPECT_EQ(body.at("categories").as_array().back(), "t9");
    EXPECT_EQ(body.at("custom_args"),
              boost::json::parse(R"({"herald_notification_id":"n-3","nested":"{\"a\":1}"})"));
}

TEST(MailgunRequestBody, EncodesEveryFieldAsAForm) {
    const std::string expected = joined({
        "from=Zo%C3%AB%20%C3%9Cnal%20%3Cnoreply%40example.com%3E",
        "to=Alice%20Example%20%3Calice%40example.com%3E",
        "to=dave%40example.com",
        "cc=%22Carol%2C%20Finance%22%20%3Ccarol%40example.com%3E",
        "bcc=bob%40example.com",
        "subject=R%C3%A9sum%C3%A9%20ready",
        "text=Hi%20Alice",
        "html=%3Cp%3EHi%3C%2Fp%3E",
        "h%3AReply-To=Support%20%3Chelp%40example.com%3E",
        "h%3AMessage-Id=%3Cn-1%40herald.example%3E",
        "h%3AX-Campaign=spring",
        "h%3Ax-campaign=summer",
        "h%3AList-Unsubscribe=%3Chttps%3A%2F%2Fexample.com%2Fu%3E",
        "o%3Atag=billing",
        "o%3Atag=invoice",
        "v%3Aherald_notification_id=n-1",
        "v%3Aorder=42",
        "v%3Aamount=12",
    });

    EXPECT_EQ(mailgun_request_body(*rich_message()), expected);
}

TEST(MailgunRequestBody, SendsAtMostThreeTags) {
    auto message = outbound(sample_message(), "n-4");
    message->tags = {"a", "b", "c", "d"};

    const std::string body = mailgun_request_body(*message);

    EXPECT_NE(body.find("o%3Atag=c"), std::string::npos) << body;
    EXPECT_EQ(body.find("o%3Atag=d"), std::string::npos) << body;
}

TEST(FormEncode, KeepsOnlyUnreservedCharacters) {
    EXPECT_EQ(form_encode("aZ09-._~"), "aZ09-._~");
    EXPECT_EQ(form_encode("a b+c&d=e%f"), "a%20b%2Bc%26d%3De%25f");
    EXPECT_EQ(form_encode("line\r\nbreak"), "line%0D%0Abreak");
    EXPECT_EQ(form_encode("東京"), "%E6%9D%B1%E4%BA%AC");
    EXPECT_EQ(form_encode(std::string("\0\xff", 2)), "%00%FF");
}

TEST(MailboxText, QuotesOnlyNamesThatNeedIt) {
    EXPECT_EQ(mailbox_text({"", "a@example.com"}), "a@example.com");
    EXPECT_EQ(mailbox_text({"Ann Lee", "a@example.com"}), "Ann Lee <a@example.com>");
    EXPECT_EQ(mailbox_text({"Zoë 東京", "a@example.com"}), "Zoë 東京 <a@example.com>");
    EXPECT_EQ(mailbox_text({"=?UTF-8?B?Wm/Dqw==?=", "a@example.com"}),
              "=?UTF-8?B?Wm/Dqw==?= <a@example.com>");
    EXPECT_EQ(mailbox_text({"J. Doe", "a@example.com"}), "\"J. Doe\" <a@example.com>");
    EXPECT_EQ(mailbox_text({R"(Say "hi" \o/)", "a@example.com"}),
              R"("Say \"hi\" \\o/" <a@example.com>)");
    EXPECT_EQ(mailbox_text({" padded", "a@example.com"}), "\" padded\" <a@example.com>");
}

TEST(BuildProviderRequest, GivesEachProfileItsContentType) {
    const auto message = rich_message();
    const auto herald = build_provider_request(HttpProfile::herald, *message);
    const auto sendgrid = build_provider_request(HttpProfile::sendgrid, *message);
    const auto mailgun = build_provider_request(HttpProfile::mailgun, *message);
    ASSERT_TRUE(herald && sendgrid && mailgun);

    EXPECT_EQ(herald->content_type, "application/json");
    EXPECT_EQ(herald->body, http_request_body(*message));
    EXPECT_EQ(sendgrid->content_type, "application/json");
    EXPECT_EQ(mailgun->content_type, "application/x-www-form-urlencoded");
}

TEST(BuildProviderRequest, RefusesALineBreakInAHeaderFieldForEveryProfile) {
    for (const auto profile : {HttpProfile::herald, HttpProfile::sendgrid, HttpProfile::mailgun}) {
        auto name = rich_message();
        name->message.to[0].name = "Eve\r\nBcc: victim@example.com";
        auto header = rich_message();
        header->message.headers.emplace_back("X-Note", "a\nb");
        auto tag = rich_message();
        tag->tags.push_back("x\r");

        EXPECT_EQ(build_provider_request(profile, *name).error(),
                  "refused to send: to holds a line break");
        EXPECT_EQ(build_provider_request(profile, *header).error(),
                  "refused to send: headers holds a line break");
        EXPECT_EQ(build_provider_request(profile, *tag).error(),
                  "refused to send: tags holds a line break");
    }
}

TEST(ParseHttpProfile, KnowsTheThreeNamesOnly) {
    EXPECT_EQ(parse_http_profile("herald"), HttpProfile::herald);
    EXPECT_EQ(parse_http_profile("sendgrid"), HttpProfile::sendgrid);
    EXPECT_EQ(parse_http_profile("mailgun"), HttpProfile::mailgun);
    EXPECT_EQ(parse_http_profile("SendGrid"), std::nullopt);
    EXPECT_EQ(parse_http_profile(""), std::nullopt);
    EXPECT_EQ(to_string(HttpProfile::mailgun), "mailgun");
}

HttpTransport profile_transport(const MockMailProcess& mock,
                                const std::string& path,
                                HttpProfile profile,
                                std::string token) {
    HttpTransportOptions options;
    options.url = mock.url(path);
    options.profile = profile;
    options.token = std::move(token);
    return HttpTransport(std::move(options));
}

TEST(HttpTransportProfiles, SendgridPostsJsonWithBearerAndCountsTheEmpty202AsSent) {
    MockMailProcess mock;
    HttpTransport transport =
        profile_transport(mock, "/v3/mail/send", HttpProfile::sendgrid, "SG.key");

    const SendResult result = send_and_wait(transport, rich_message());

    EXPECT_EQ(result.outcome, AttemptOutcome::sent) << result.detail;
    EXPECT_EQ(result.status_code, 202);
    const auto call = mock.get("/calls").as_array().at(0).as_object();
    EXPECT_EQ(call.at("route"), "sendgrid");
    EXPECT_EQ(call.at("content_type"), "application/json");
    EXPECT_EQ(call.at("authorization_scheme"), "Bearer");
    EXPECT_EQ(call.at("idempotency_key"), "n-1");
    EXPECT_EQ(call.at("body").as_string(), sendgrid_request_body(*rich_message()));
    EXPECT_EQ(call.at("fields").at("from"), "Zoë Ünal <noreply@example.com>");
    EXPECT_EQ(call.at("message_id"), "<n-1@herald.example>");
}

TEST(HttpTransportProfiles, MailgunPostsAFormWithBasicAuthAsApi) {
    MockMailProcess mock;
    HttpTransport transport =
        profile_transport(mock, "/v3/mg.example.com/messages", HttpProfile::mailgun, "key-1");

    const SendResult result = send_and_wait(transport, rich_message());

    EXPECT_EQ(result.outcome, AttemptOutcome::sent) << result.detail;
    EXPECT_EQ(result.status_code, 200);
    const auto call = mock.get("/calls").as_array().at(0).as_object();
    EXPECT_EQ(call.at("route"), "mailgun");
    EXPECT_EQ(call.at("content_type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(call.at("authorization_scheme"), "Basic");
    EXPECT_EQ(call.at("authorization_user"), "api");
    const auto& fields = call.at("fields").as_object();
    EXPECT_EQ(fields.at("from"), "Zoë Ünal <noreply@example.com>");
    EXPECT_EQ(fields.at("cc"), boost::json::parse(R"(["\"Carol, Finance\" <carol@example.com>"])"));
    EXPECT_EQ(fields.at("bcc"), boost::json::parse(R"(["bob@example.com"])"));
    EXPECT_EQ(fields.at("subject"), "Résumé ready");
    EXPECT_EQ(fields.at("headers").at("X-Campaign"), "spring");
    EXPECT_EQ(fields.at("headers").at("x-campaign"), "summer");
    EXPECT_EQ(fields.at("tags"), boost::json::parse(R"(["billing","invoice"])"));
    EXPECT_EQ(call.at("message_id"), "<n-1@herald.example>");
}

TEST(HttpTransportProfiles, MapsAProviderThrottleLikeTheHeraldProfile) {
    MockMailProcess mock({"--fail-status", "429", "--fail-count", "1", "--retry-after", "3"});
    HttpTransport transport =
        profile_transport(mock, "/v3/mg.example.com/messages", HttpProfile::mailgun, "");

    const SendResult first = send_and_wait(transport, rich_message());
    const SendResult second = send_and_wait(transport, rich_message());

    EXPECT_EQ(first.outcome, AttemptOutcome::throttled);
    EXPECT_EQ(first.retry_after, std::chrono::milliseconds{3000});
    EXPECT_EQ(second.outcome, AttemptOutcome::sent);
    EXPECT_EQ(mock.get("/calls").as_array().at(1).at("authorization"), false);
}

TEST(HttpTransportProfiles, RefusesALineBreakWithoutCallingTheProvider) {
    MockMailProcess mock;
    HttpTransport transport = profile_transport(mock, "/v3/mail/send", HttpProfile::sendgrid, "");
    auto message = rich_message();
    message->message.subject = "a\r\nBcc: x@example.com";

    const SendResult result = send_and_wait(transport, message);

    EXPECT_EQ(result.outcome, AttemptOutcome::permanent);
    EXPECT_EQ(mock.get("/calls").as_array().size(), 0u);
}

}  // namespace
}  // namespace herald::delivery
