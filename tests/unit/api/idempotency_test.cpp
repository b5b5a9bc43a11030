#include "api/idempotency.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include <string>

namespace herald::api {
namespace {

http::Request request_with_keys(std::initializer_list<std::string> keys) {
    http::Request request;
    for (const auto& key : keys) {
        request.insert("Idempotency-Key", key);
    }
    return request;
}

ValidNotification valid(std::string_view body) {
    auto result = validate_notification(boost::json::parse(body), IntakeLimits{}, nullptr);
    EXPECT_TRUE(result) << body;
    return result ? std::move(*result) : ValidNotification{};
}

// The key read from one header holding `value`; "<refused>" or "<absent>" otherwise.
std::string key_of(const std::string& value) {
    const auto key = read_idempotency_key(request_with_keys({value}));
    if (!key) {
        return "<refused>";
    }
    return key->value_or("<absent>");
}

TEST(ReadIdempotencyKey, AbsentHeaderIsNoKey) {
    const auto key = read_idempotency_key(request_with_keys({}));
    ASSERT_TRUE(key);
    EXPECT_FALSE(key->has_value());
}

TEST(ReadIdempotencyKey, BareAndQuotedFormsNameTheSameKey) {
    EXPECT_EQ(key_of("order-42"), "order-42");
    EXPECT_EQ(key_of("\"order-42\""), "order-42");
    EXPECT_EQ(key_of(R"("a\"b\\c")"), R"(a"b\c)");
}

TEST(ReadIdempotencyKey, AcceptsUpTo255PrintableBytes) {
    const std::string longest(kMaxIdempotencyKeyBytes, '~');
    EXPECT_EQ(key_of(longest), longest);
    EXPECT_EQ(key_of("with space"), "with space");
}

TEST(ReadIdempotencyKey, RefusesEachKindOfBadKeyNamingTheHeader) {
    const std::vector<std::string> bad = {
        std::string(kMaxIdempotencyKeyBytes + 1, 'k'),  // too long
        "\"\"",                                         // empty once unquoted
        "a\x01"
        "b",  // control character
        "a\x7f"
        "b",            // DEL
        "caf\xc3\xa9",  // not ASCII
        "\"a\\nb\"",    // an escape other than of a quote or a backslash
        "\"a\"b\"",     // unescaped quote inside
    };
    for (const auto& value : bad) {
        const auto key = read_idempotency_key(request_with_keys({value}));
        ASSERT_FALSE(key) << value;
        EXPECT_EQ(key.error().header, "Idempotency-Key");
        EXPECT_TRUE(key.error().pointer.empty());
        EXPECT_FALSE(key.error().detail.empty());
    }
}

TEST(ReadIdempotencyKey, RefusesARepeatedHeader) {
    EXPECT_FALSE(read_idempotency_key(request_with_keys({"one", "two"})));
}

TEST(CanonicalJson, SortsKeysAtEveryLevelAndDropsSpacing) {
    EXPECT_EQ(canonical_json(boost::json::parse(R"({ "b" : [ {"d":1, "c":2} ], "a" : "x" })")),
              R"({"a":"x","b":[{"c":2,"d":1}]})");
}

TEST(RequestFingerprint, IgnoresKeyOrderHeaderOrderAndAddressSpelling) {
    const auto a = valid(R"({"from":"Notifier <noreply@example.com>","to":["alice@example.com"],)"
                         R"("subject":"Hello","text":"Hi","headers":{"X-A":"1","X-B":"2"},)"
                         R"("metadata":{"k":1,"j":2}})");
    const auto b = valid(R"({"metadata":{"j":2,"k":1},"headers":{"x-b":"2","X-A":"1"},)"
                         R"("text":"Hi","subject":"Hello","to":[{"address":"alice@example.com"}],)"
                         R"("from":{"name":"Notifier","address":"noreply@example.com"}})");
    EXPECT_EQ(request_fingerprint(a), request_fingerprint(b));
    EXPECT_EQ(request_fingerprint(a).size(), 64U);
}

TEST(RequestFingerprint, ChangesWithAnythingThatChangesTheEmail) {
    const std::string base = R"({"from":"n@example.com","to":["alice@example.com"],)"
                             R"("subject":"Hello","text":"Hi"})";
    const std::string fingerprint = request_fingerprint(valid(base));
    const std::vector<std::string> others = {
        R"({"from":"n@example.com","to":["bob@example.com"],"subject":"Hello","text":"Hi"})",
        R"({"from":"n@example.com","to":["alice@example.com"],"subject":"Hello!","text":"Hi"})",
        R"({"from":"n@example.com","to":["alice@example.com"],"subject":"Hello","text":"Hi."})",
        R"({"from":"n@example.com","to":["alice@example.com"],"bcc":["c@example.com"],)"
        R"("subject":"Hello","text":"Hi"})",
        R"({"from":"n@example.com","to":["alice@example.com"],"subject":"Hello","text":"Hi",)"
        R"("tags":["x"]})",
        R"({"from":"n@example.com","to":["alice@example.com"],"subject":"Hello","text":"Hi",)"
        R"("metadata":{"order":1}})",
    };
    for (const auto& other : others) {
        EXPECT_NE(request_fingerprint(valid(other)), fingerprint) << other;
    }
}

TEST(RequestFingerprint, TakesTheExpiryAsAskedIntoAccount) {
    const std::string head = R"({"from":"n@example.com","to":["alice@example.com"],)"
                             R"("subject":"Hello","text":"Hi")";
    const std::string none = request_fingerprint(valid(head + "}"));
    const std::string minute = request_fingerprint(valid(head + R"(,"max_age_s":60})"));
    const std::string at =
        request_fingerprint(valid(head + R"(,"expires_at":"2030-01-01T00:00:00Z"})"));

    // Asking for no expiry is what it always was: fingerprints stored before expiry existed hold.
    EXPECT_EQ(request_fingerprint(valid(head + R"(,"max_age_s":null})")), none);
    EXPECT_NE(minute, none);
    EXPECT_NE(at, none);
    EXPECT_NE(minute, at);
    EXPECT_NE(request_fingerprint(valid(head + R"(,"max_age_s":61})")), minute);
    // The same instant spelt another way is the same request.
    EXPECT_EQ(request_fingerprint(valid(head + R"(,"expires_at":"2030-01-01T01:00:00+01:00"})")),
              at);
}

}  // namespace
}  // namespace herald::api
