#include "api/validate.hpp"

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

namespace herald::api {
namespace {

const char* kBaseline = R"({"from":"Notifier <noreply@example.com>","to":["alice@example.com"],)"
                        R"("subject":"Hello","text":"Hi"})";

// The baseline body with `key` replaced by `value` (a JSON text).
boost::json::value with(std::string_view key, std::string_view value) {
    auto body = boost::json::parse(kBaseline).as_object();
    body[key] = boost::json::parse(value);
    return body;
}

std::vector<http::FieldProblem> problems_of(const boost::json::value& body) {
    auto result = validate_notification(body, IntakeLimits{}, nullptr);
    if (result) {
        return {};
    }
    return result.error();
}

bool names_field(const std::vector<http::FieldProblem>& problems, std::string_view pointer) {
    for (const auto& p : problems) {
        if (p.pointer == pointer) {
            return true;
        }
    }
    return false;
}

void expect_refused(const boost::json::value& body, std::string_view pointer) {
    const auto problems = problems_of(body);
    ASSERT_FALSE(problems.empty()) << "accepted: " << boost::json::serialize(body);
    EXPECT_TRUE(names_field(problems, pointer))
        << "expected a problem at " << pointer << ", got " << problems.front().pointer;
    for (const auto& p : problems) {
        EXPECT_EQ(p.detail.find("spy@example.net"), std::string::npos);
        EXPECT_EQ(p.detail.find('\n'), std::string::npos);
    }
}

TEST(ValidateNotification, AcceptsTheBaseline) {
    auto result = validate_notification(boost::json::parse(kBaseline), IntakeLimits{}, nullptr);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->message.from.name, "Notifier");
    EXPECT_EQ(result->message.from.address, "noreply@example.com");
    ASSERT_EQ(result->message.to.size(), 1u);
    EXPECT_EQ(result->message.subject, "Hello");
}

TEST(ValidateNotification, ReadsAnExpiryAsAskedForByTimeOrByAge) {
    auto at = validate_notification(with("expires_at", R"("2030-01-01T00:00:00Z")"), {}, nullptr);
    ASSERT_TRUE(at);
    EXPECT_EQ(at->expiry.expires_at, 1893456000000);
    EXPECT_FALSE(at->expiry.max_age_s.has_value());

    auto age = validate_notification(with("max_age_s", "3600"), {}, nullptr);
    ASSERT_TRUE(age);
    EXPECT_EQ(age->expiry.max_age_s, 3600);
    EXPECT_FALSE(age->expiry.expires_at.has_value());

    auto none = validate_notification(with("max_age_s", "null"), {}, nullptr);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->expiry.max_age_s.has_value());
}

TEST(ValidateNotification, RefusesExpiresAtAndMaxAgeTogether) {
    auto body = with("max_age_s", "60").as_object();
    body["expires_at"] = "2030-01-01T00:00:00Z";
    expect_refused(body, "#/max_age_s");
}

TEST(ValidateNotification, RefusesAnExpiresAtThatIsNotAnRfc3339DateTime) {
    expect_refused(with("expires_at", R"("tomorrow")"), "#/expires_at");
    expect_refused(with("expires_at", R"("2030-01-01T00:00:00")"), "#/expires_at");
    expect_refused(with("expires_at", "1893456000"), "#/expires_at");
}

TEST(ValidateNotification, RefusesAMaxAgeThatIsNotAWholeNumberOfSeconds) {
    expect_refused(with("max_age_s", "1.5"), "#/max_age_s");
    expect_refused(with("max_age_s", "1e3"), "#/max_age_s");
    expect_refused(with("max_age_s", R"("60")"), "#/max_age_s");
    expect_refused(with("max_age_s", "true"), "#/max_age_s");
}

TEST(ValidateNotification, RefusesAZeroOrNegativeMaxAge) {
    expect_refused(with("max_age_s", "0"), "#/max_age_s");
    expect_refused(with("max_age_s", "-60"), "#/max_age_s");
}

TEST(ValidateNotification, RefusesAMaxAgeBeyondThirtyDays) {
    expect_refused(with("max_age_s", "2592001"), "#/max_age_s");
    expect_refused(with("max_age_s", "18446744073709551615"), "#/max_age_s");
    EXPECT_TRUE(validate_notification(with("max_age_s", "2592000"), {}, nullptr));
}

// The expiry resolve_expiry() gives, or -1 when it refuses.
std::optional<core::UnixMs> resolved(RequestedExpiry requested,
                                     core::UnixMs now,
                                     std::int64_t default_max_age_s) {
    auto result = resolve_expiry(requested, now, default_max_age_s);
    return result ? *result : std::optional<core::UnixMs>{-1};
}

TEST(ResolveExpiry, CountsAMaxAgeFromNowAndKeepsAnExpiresAt) {
    const core::UnixMs now = 1'800'000'000'000;
    EXPECT_EQ(resolved({std::nullopt, 60}, now, 86400), now + 60'000);
    EXPECT_EQ(resolved({now + 5, std::nullopt}, now, 86400), now + 5);
    EXPECT_EQ(resolved({}, now, 86400), now + 86'400'000);
    EXPECT_EQ(resolved({}, now, 0), std::nullopt);
}

TEST(ResolveExpiry, RefusesAnExpiresAtThatIsNotAhead) {
    const core::UnixMs now = 1'800'000'000'000;
    EXPECT_EQ(resolve_expiry({now, std::nullopt}, now, 0).error().pointer, "#/expires_at");
    EXPECT_EQ(resolve_expiry({now - 1, std::nullopt}, now, 0).error().pointer, "#/expires_at");
    const core::UnixMs too_far = now + kMaxAgeLimitSeconds * 1000 + 1;
    EXPECT_EQ(resolve_expiry({too_far, std::nullopt}, now, 0).error().pointer, "#/expires_at");
}

TEST(ValidateNotification, RefusesLineBreaksInTheSubject) {
    expect_refused(with("subject", R"("Invoice ready\r\nBcc: spy@example.net")"), "#/subject");
    expect_refused(with("subject", R"("Hi\n\nbody starts here")"), "#/subject");
    expect_refused(with("subject", R"("A\rBcc: spy@example.net")"), "#/subject");
}

TEST(ValidateNotification, RefusesInjectionThroughCustomHeaders) {
    expect_refused(with("headers", R"({"X-Campaign":"spring\r\nBcc: spy@example.net"})"),
                   "#/headers/X-Campaign");
    expect_refused(with("headers", R"({"X-Ok\r\nBcc":"x"})"), "#/headers/X-Ok\r\nBcc");
    expect_refused(with("headers", R"({"X Bad Name":"v"})"), "#/headers/X Bad Name");
    expect_refused(with("headers", R"({"Bcc":"spy@example.net"})"), "#/headers/Bcc");
}

TEST(ValidateNotification, RefusesInjectionThroughAddresses) {
    expect_refused(
        with("to", R"([{"name":"Alice\r\nBcc: spy@example.net","address":"alice@example.com"}])"),
        "#/to/0/name");
    expect_refused(with("to", R"(["alice@example.com\r\nBcc: spy@example.net"])"), "#/to/0");
    expect_refused(with("cc", R"(["bob@example.com\nX-Injected: 1"])"), "#/cc/0");
    expect_refused(with("from", R"("Support\r\nReply-To: spy@example.net <noreply@example.com>")"),
                   "#/from");
}

TEST(ValidateNotification, AcceptsAMailboxObjectWithADisplayName) {
    auto result = validate_notification(
        with("to", R"([{"name":"Alice Example","address":"alice@example.com"}])"),
        IntakeLimits{},
        nullptr);
    ASSERT_TRUE(result);
    EXPECT_EQ(result->message.to[0].name, "Alice Example");
}

TEST(ValidateNotification, RequiresFromToAndABody) {
    auto body = boost::json::parse(R"({"subject":"x"})");
    const auto problems = problems_of(body);
    EXPECT_TRUE(names_field(problems, "#/from"));
    EXPECT_TRUE(names_field(problems, "#/to"));
    EXPECT_TRUE(names_field(problems, "#/text"));
}

TEST(ValidateNotification, ReportsEveryBadFieldAtOnce) {
    auto body = boost::json::parse(
        R"({"from":"bad","to":["also bad"],"subject":"a\nb","text":"x","colour":"red"})");
    const auto problems = problems_of(body);
    EXPECT_TRUE(names_field(problems, "#/from"));
    EXPECT_TRUE(names_field(problems, "#/to/0"));
    EXPECT_TRUE(names_field(problems, "#/subject"));
    EXPECT_TRUE(names_field(problems, "#/colour"));
}

TEST(ValidateNotification, RefusesMoreRecipientsThanTheLimit) {
    IntakeLimits limits;
    limits.max_recipients = 2;
    auto body = with("to", R"(["a@example.com","b@example.com","c@example.com"])");
    auto result = validate_notification(body, limits, nullptr);
    ASSERT_FALSE(result);
    EXPECT_TRUE(names_field(result.error(), "#/to"));
}

TEST(ValidateNotification, RendersAnInlineTemplateEscapingOnlyHtml) {
    auto body = boost::json::parse(
        R"({"from":"noreply@example.com","to":["alice@example.com"],)"
        R"("template":{"subject":"Hi {{name}}","text":"Dear {{name}}","html":"<p>{{name}}</p>"},)"
        R"("data":{"name":"A & B"}})");
    auto result = validate_notification(body, IntakeLimits{}, nullptr);
    ASSERT_TRUE(result) << result.error().front().pointer << ": " << result.error().front().detail;
    EXPECT_EQ(result->message.subject, "Hi A & B");
    EXPECT_EQ(result->message.text, "Dear A & B");
    EXPECT_EQ(result->message.html, "<p>A &amp; B</p>");
}

TEST(ValidateNotification, RefusesATemplateWhoseDataInjectsALineBreakIntoTheSubject) {
    auto body = boost::json::parse(R"({"from":"noreply@example.com","to":["alice@example.com"],)"
                                   R"("template":{"subject":"Hi {{name}}","text":"x"},)"
                                   R"("data":{"name":"x\r\nBcc: spy@example.net"}})");
    // The template renders the injected line break into the subject: refused, naming the template.
    expect_refused(body, "#/template");
}

TEST(ValidateNotification, RefusesAnUnknownTemplateName) {
    auto body = boost::json::parse(
        R"({"from":"noreply@example.com","to":["alice@example.com"],"template":"welcome"})");
    expect_refused(body, "#/template");
}

TEST(ValidateNotification, RefusesNulInBodies) {
    expect_refused(with("text", R"("a\u0000b")"), "#/text");
}

TEST(ValidateNotification, RefusesNumbersNoDoubleCanHold) {
    expect_refused(with("metadata", R"({"a":1e999})"), "#/metadata/a");
    expect_refused(with("data", R"({"list":[1,-1e400]})"), "#/data/list/1");
}

TEST(ValidateNotification, ChecksTagsAndMetadata) {
    expect_refused(with("tags", R"([""])"), "#/tags/0");
    expect_refused(with("metadata", R"([1,2])"), "#/metadata");
    auto ok = validate_notification(
        with("metadata", R"({"order":42,"nested":{"a":[1,2]}})"), IntakeLimits{}, nullptr);
    EXPECT_TRUE(ok);
}

}  // namespace
}  // namespace herald::api
