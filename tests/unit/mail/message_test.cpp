#include "mail/message.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

namespace herald::mail {
namespace {

Message full_message() {
    Message message;
    message.from = {"Notifier", "noreply@example.com"};
    message.to = {{"Alice Example", "alice@example.com"}, {"", "bob@example.com"}};
    message.cc = {{"Zo\xc3\xab \xc3\x9cnl\xc3\xbc", "zoe@xn--bcher-kva.example.com"}};
    message.bcc = {{"", "audit@example.com"}};
    message.reply_to = {{"Support", "support@example.com"}};
    message.subject = "R\xc3\xa9sum\xc3\xa9 \xf0\x9f\x8e\x89";
    message.text = "line one\r\n.\r\nline two";
    message.html = "<p>Hi</p>";
    message.headers = {{"X-Campaign", "spring"}, {"X-Tag", "a"}, {"X-Tag", "b"}};
    message.message_id = "0190d7f0-0000-7000-8000-000000000001@herald.example";
    message.date_ms = 1764787565123;
    return message;
}

TEST(MessageJson, RoundTripsEveryField) {
    const Message message = full_message();
    const boost::json::object json = to_json(message);
    const auto back = message_from_json(json);
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(back->from, message.from);
    EXPECT_EQ(back->to, message.to);
    EXPECT_EQ(back->cc, message.cc);
    EXPECT_EQ(back->bcc, message.bcc);
    EXPECT_EQ(back->reply_to, message.reply_to);
    EXPECT_EQ(back->subject, message.subject);
    EXPECT_EQ(back->text, message.text);
    EXPECT_EQ(back->html, message.html);
    EXPECT_EQ(back->headers, message.headers);
    EXPECT_EQ(back->message_id, message.message_id);
    EXPECT_EQ(back->date_ms, message.date_ms);
}

TEST(MessageJson, RoundTripsThroughSerializedText) {
    const Message message = full_message();
    const std::string text = boost::json::serialize(to_json(message));
    const auto back = message_from_json(boost::json::parse(text));
    ASSERT_TRUE(back) << back.error();
    EXPECT_EQ(boost::json::serialize(to_json(*back)), text);
}

TEST(MessageJson, WritesTheCanonicalShape) {
    const boost::json::object json = to_json(full_message());
    const std::vector<std::string> expected_keys{"from",
                                                 "to",
                                                 "cc",
                                                 "bcc",
                                                 "reply_to",
                                                 "subject",
                                                 "text",
                                                 "html",
                                                 "headers",
                                                 "message_id",
                                                 "date_ms"};
    std::vector<std::string> keys;
    for (const auto& entry : json) {
        keys.emplace_back(entry.key());
    }
    EXPECT_EQ(keys, expected_keys);
    EXPECT_EQ(json.at("from").at("name"), "Notifier");
    EXPECT_EQ(json.at("from").at("address"), "noreply@example.com");
    EXPECT_EQ(json.at("headers").at(2).at(0), "X-Tag");
    EXPECT_EQ(json.at("headers").at(2).at(1), "b");
    EXPECT_EQ(json.at("date_ms").as_int64(), 1764787565123);
}

TEST(MessageJson, ReadsAbsentOptionalFieldsAsEmpty) {
    const auto json = boost::json::parse(R"({"from":{"address":"a@example.com"},
        "to":[{"name":"B","address":"b@example.com"}],"subject":"s","message_id":"m@x",
        "date_ms":5})");
    const auto message = message_from_json(json);
    ASSERT_TRUE(message) << message.error();
    EXPECT_EQ(message->from.name, "");
    EXPECT_TRUE(message->cc.empty());
    EXPECT_TRUE(message->headers.empty());
    EXPECT_EQ(message->text, "");
    EXPECT_EQ(message->date_ms, 5);
}

TEST(MessageJson, RefusesMissingOrMistypedFields) {
    const char* bad[] = {
        R"([])",
        R"({"to":[],"subject":"s","message_id":"m","date_ms":1})",
        R"({"from":{"address":"a@x"},"subject":"s","message_id":"m","date_ms":1})",
        R"({"from":{"address":"a@x"},"to":[],"message_id":"m","date_ms":1})",
        R"({"from":{"address":"a@x"},"to":[],"subject":"s","date_ms":1})",
        R"({"from":{"address":"a@x"},"to":[],"subject":"s","message_id":"m"})",
        R"({"from":"a@x","to":[],"subject":"s","message_id":"m","date_ms":1})",
        R"({"from":{"name":"n"},"to":[],"subject":"s","message_id":"m","date_ms":1})",
        R"({"from":{"address":"a@x","name":3},"to":[],"subject":"s","message_id":"m",
            "date_ms":1})",
        R"({"from":{"address":"a@x"},"to":{},"subject":"s","message_id":"m","date_ms":1})",
        R"({"from":{"address":"a@x"},"to":[],"cc":["c@x"],"subject":"s","message_id":"m",
            "date_ms":1})",
        R"({"from":{"address":"a@x"},"to":[],"subject":1,"message_id":"m","date_ms":1})",
        R"({"from":{"address":"a@x"},"to":[],"subject":"s","message_id":"m","date_ms":1.5})",
        R"({"from":{"address":"a@x"},"to":[],"subject":"s","message_id":"m","date_ms":"1"})",
        R"({"from":{"address":"a@x"},"to":[],"subject":"s","message_id":"m","date_ms":1,
            "headers":{"X":"y"}})",
        R"({"from":{"address":"a@x"},"to":[],"subject":"s","message_id":"m","date_ms":1,
            "headers":[["X"]]})",
        R"({"from":{"address":"a@x"},"to":[],"subject":"s","message_id":"m","date_ms":1,
            "headers":[["X",1]]})",
    };
    for (const char* text : bad) {
        const auto message = message_from_json(boost::json::parse(text));
        EXPECT_FALSE(message) << text;
        if (!message) {
            EXPECT_FALSE(message.error().empty());
            EXPECT_EQ(message.error().find('\n'), std::string::npos);
        }
    }
}

TEST(MessageRecipients, ListsToThenCcThenBccEachOnce) {
    Message message = full_message();
    message.cc.push_back({"Alice again", "alice@example.com"});
    EXPECT_EQ(message.recipients(),
              (std::vector<std::string>{"alice@example.com",
                                        "bob@example.com",
                                        "zoe@xn--bcher-kva.example.com",
                                        "audit@example.com"}));
}

TEST(MessageRecipients, KeepsSixtyDistinctRecipients) {
    Message message;
    for (int i = 0; i < 60; ++i) {
        message.to.push_back({"", "user" + std::to_string(i) + "@example.com"});
    }
    EXPECT_EQ(message.recipients().size(), 60u);
}

TEST(MailboxNeedsSmtputf8, IsTrueOnlyForANonAsciiAddress) {
    EXPECT_TRUE((Mailbox{"", "j\xc3\xbcrgen@example.com"}.needs_smtputf8()));
    EXPECT_FALSE((Mailbox{"J\xc3\xbcrgen", "juergen@example.com"}.needs_smtputf8()));
    EXPECT_FALSE((Mailbox{"", "user@xn--bcher-kva.example.com"}.needs_smtputf8()));
}

}  // namespace
}  // namespace herald::mail
