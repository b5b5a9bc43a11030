// Idempotency-Key and content deduplication on POST /v1/notifications, checked at the provider:
// herald-mockmail counts every call per Idempotency-Key (herald sends the notification id), so a
// second notification or a second send would show up there, whatever herald says.

#include "fixture.hpp"

#include "support/net.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace herald::test {
namespace {

using namespace std::chrono_literals;

class Idempotency : public IntegrationTest {
protected:
    // Waits until `id` is sent, then returns how many calls the provider got for it and in all.
    std::pair<std::int64_t, std::size_t> provider_calls_once_sent(HeraldPeer& herald,
                                                                  const std::string& id) {
        const auto status = herald.wait_for_status(id, {"sent", "failed"});
        EXPECT_TRUE(status && string_at(*status, "status") == "sent")
            << (status ? json_text(*status) : "no status");
        const auto counts = provider().key_counts();
        const auto found = counts.find(id);
        return {found == counts.end() ? 0 : found->second, provider().calls().size()};
    }
};

// Sends `count` copies of one POST at the same moment, each on its own connection.
std::vector<HttpResponse> post_in_parallel(HeraldPeer& herald,
                                           const std::string& body,
                                           const HeaderList& headers,
                                           int count) {
    std::vector<HttpResponse> responses(static_cast<std::size_t>(count));
    std::vector<std::thread> threads;
    std::atomic<int> ready{0};
    for (int i = 0; i < count; ++i) {
        threads.emplace_back([&, i] {
            HttpClient client = herald.client();
            ++ready;
            while (ready.load() < count) {
                std::this_thread::yield();
            }
            responses[static_cast<std::size_t>(i)] =
                client.post_json("/v1/notifications", body, headers);
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    return responses;
}

TEST_F(Idempotency, TwoRacingRequestsWithOneKeyGetOneIdAndTheProviderOneCall) {
    auto& herald = start_herald_with_provider(2000);
    const std::string body = json_body(baseline_notification());

    const auto racing = post_in_parallel(herald, body, {{"Idempotency-Key", "l3-a"}}, 2);
    const std::string first = accepted_id(racing[0]);
    const std::string second = accepted_id(racing[1]);
    ASSERT_FALSE(first.empty());
    EXPECT_EQ(first, second);
    EXPECT_NE(racing[0].headers.get("Idempotent-Replayed").has_value(),
              racing[1].headers.get("Idempotent-Replayed").has_value())
        << "exactly one of the two is the original: " << racing[0].describe() << " / "
        << racing[1].describe();

    const auto [calls_for_id, all_calls] = provider_calls_once_sent(herald, first);
    EXPECT_EQ(calls_for_id, 1);
    EXPECT_EQ(all_calls, 1U);
}

TEST_F(Idempotency, RepeatAfterTheFirstFinishedReplaysItsStatusAndBody) {
    auto& herald = start_herald_with_provider(2000);
    const std::string body = json_body(baseline_notification());
    const HeaderList key = {{"Idempotency-Key", "l3-b"}};

    const auto original = herald.post_notification(body, key);
    const std::string id = accepted_id(original);
    ASSERT_FALSE(id.empty());
    EXPECT_FALSE(original.headers.get("Idempotent-Replayed").has_value());
    provider_calls_once_sent(herald, id);

    const auto repeat = herald.post_notification(body, key);
    EXPECT_EQ(repeat.status, original.status);
    EXPECT_EQ(repeat.body, original.body);
    EXPECT_EQ(repeat.headers.get("Idempotent-Replayed"), "true") << repeat.describe();
    EXPECT_EQ(repeat.headers.get("Location"), original.headers.get("Location"));
    const auto [calls_for_id, all_calls] = provider_calls_once_sent(herald, id);
    EXPECT_EQ(calls_for_id, 1);
    EXPECT_EQ(all_calls, 1U);
}

TEST_F(Idempotency, SameKeyWithAnotherBodyIs422AndSendsNothingNew) {
    auto& herald = start_herald_with_provider(2000);
    auto body = baseline_notification();
    const HeaderList key = {{"Idempotency-Key", "l3-c"}};
    const std::string id = accepted_id(herald.post_notification(json_body(body), key));
    ASSERT_FALSE(id.empty());

    body["subject"] = "Another subject";
    const auto reused = herald.post_notification(json_body(body), key);
    EXPECT_EQ(reused.status, 422) << reused.describe();
    EXPECT_EQ(reused.headers.get("Content-Type"), "application/problem+json");
    EXPECT_EQ(problem_header(reused), "Idempotency-Key") << reused.describe();

    const auto [calls_for_id, all_calls] = provider_calls_once_sent(herald, id);
    EXPECT_EQ(calls_for_id, 1);
    EXPECT_EQ(all_calls, 1U);
}

TEST_F(Idempotency, FiftyParallelRequestsWithAFreshKeyMakeOneNotificationAndOneCall) {
    auto& herald = start_herald_with_provider(2000);
    const std::string body = json_body(baseline_notification());

    const auto responses = post_in_parallel(herald, body, {{"Idempotency-Key", "l3-d"}}, 50);
    std::set<std::string> ids;
    int originals = 0;
    for (const auto& response : responses) {
        ids.insert(accepted_id(response));
        originals += response.headers.get("Idempotent-Replayed").has_value() ? 0 : 1;
    }
    ASSERT_EQ(ids.size(), 1U);
    EXPECT_EQ(originals, 1);

    const auto [calls_for_id, all_calls] = provider_calls_once_sent(herald, *ids.begin());
    EXPECT_EQ(calls_for_id, 1);
    EXPECT_EQ(all_calls, 1U);
}

TEST_F(Idempotency, MalformedKeysAre400NamingTheHeader) {
    auto& herald = start_herald({});
    const std::string body = json_body(baseline_notification());
    const std::vector<std::pair<std::string, HeaderList>> cases = {
        {"300 characters", {{"Idempotency-Key", std::string(300, 'k')}}},
        {"256 characters", {{"Idempotency-Key", std::string(256, 'k')}}},
        {"a control character",
         {{"Idempotency-Key",
           "abc\x01"
           "def"}}},
        {"a tab", {{"Idempotency-Key", "abc\tdef"}}},
        {"non-ASCII bytes", {{"Idempotency-Key", "cl\xc3\xa9"}}},
        {"an empty quoted string", {{"Idempotency-Key", "\"\""}}},
        {"a bad escape", {{"Idempotency-Key", "\"a\\nb\""}}},
        {"two headers", {{"Idempotency-Key", "one"}, {"Idempotency-Key", "two"}}},
    };
    for (const auto& [what, headers] : cases) {
        const auto response = herald.post_notification(body, headers);
        EXPECT_EQ(response.status, 400) << what << ": " << response.describe();
        EXPECT_EQ(problem_header(response), "Idempotency-Key")
            << what << ": " << response.describe();
    }
    const auto longest =
        herald.post_notification(body, {{"Idempotency-Key", std::string(255, 'k')}});
    EXPECT_EQ(longest.status, 202) << longest.describe();
}

TEST_F(Idempotency, KeyWithCrLfIsRefusedWith400) {
    auto& herald = start_herald({});
    const std::string body = json_body(baseline_notification());
    for (const std::string key : {"ab\r\ncd", "ab\rcd", "ab\ncd"}) {
        auto connection = RawConnection::connect(herald.port());
        ASSERT_TRUE(
            connection.send_all("POST /v1/notifications HTTP/1.1\r\n"
                                "Host: 127.0.0.1\r\n"
                                "Content-Type: application/json\r\n"
                                "Idempotency-Key: " +
                                key +
                                "\r\n"
                                "Content-Length: " +
                                std::to_string(body.size()) + "\r\n\r\n" + body));
        const auto response = connection.read_response();
        ASSERT_TRUE(response.has_value());
        EXPECT_EQ(response->status, 400) << response->raw;
        // A CR or LF inside the value is named; a CRLF ends the field, leaving a line that is
        // no field at all, and that is refused without a name.
        if (key != "ab\r\ncd") {
            EXPECT_NE(response->body.find("\"header\":\"Idempotency-Key\""), std::string::npos)
                << response->raw;
        }
    }
    EXPECT_EQ(herald.client().get("/healthz").status, 200);
}

TEST_F(Idempotency, KeyOrderSpacingAndAddressSpellingDoNotChangeTheFingerprint) {
    auto& herald = start_herald({});
    const HeaderList key = {{"Idempotency-Key", "\"same-request\""}};
    const std::string first = R"({"from":"Notifier <noreply@example.com>",)"
                              R"("to":["Alice <alice@EXAMPLE.com>"],"subject":"Hello",)"
                              R"("text":"Hi","metadata":{"a":1,"b":[1,2]},)"
                              R"("headers":{"X-One":"1","X-Two":"2"}})";
    const std::string second =
        R"({ "headers" : { "x-two" : "2", "X-One" : "1" },  "metadata": {"b":[1,2], "a":1},)"
        R"( "text":"Hi", "subject":"Hello",)"
        R"( "to":[{"address":"alice@example.com","name":"Alice"}],)"
        R"( "from":{"name":"Notifier","address":"noreply@example.com"} })";

    const std::string id = accepted_id(herald.post_notification(first, key));
    ASSERT_FALSE(id.empty());
    // The bare key names the same key as its structured-field (quoted) form.
    const auto again = herald.post_notification(second, {{"Idempotency-Key", "same-request"}});
    EXPECT_EQ(again.status, 202) << again.describe();
    EXPECT_EQ(again.headers.get("Idempotent-Replayed"), "true") << again.describe();
    const auto json = again.json();
    ASSERT_TRUE(json.has_value());
    EXPECT_EQ(string_at(*json, "id"), id);
}

TEST_F(Idempotency, KeysAreScopedPerClient) {
    auto& herald =
        start_herald(with_config("[auth.api_keys]\n"
                                 "\"key-a-0123456789abcdef\" = \"client-a\"\n"
                                 "\"key-b-0123456789abcdef\" = \"client-b\"\n"));
    const std::string body = json_body(baseline_notification());
    const std::string a = accepted_id(herald.post_notification(
        body, {{"Authorization", "Bearer key-a-0123456789abcdef"}, {"Idempotency-Key", "shared"}}));
    const std::string b = accepted_id(herald.post_notification(
        body, {{"Authorization", "Bearer key-b-0123456789abcdef"}, {"Idempotency-Key", "shared"}}));
    ASSERT_FALSE(a.empty());
    ASSERT_FALSE(b.empty());
    EXPECT_NE(a, b);
}

TEST_F(Idempotency, ReplayOutlivesARestart) {
    auto& herald = start_herald({});
    const std::string body = json_body(baseline_notification());
    const HeaderList key = {{"Idempotency-Key", "durable"}};
    const auto original = herald.post_notification(body, key);
    const std::string id = accepted_id(original);
    ASSERT_FALSE(id.empty());

    herald.kill9();
    herald.start();
    const auto repeat = herald.post_notification(body, key);
    EXPECT_EQ(repeat.body, original.body);
    EXPECT_EQ(repeat.headers.get("Idempotent-Replayed"), "true") << repeat.describe();
}

TEST_F(Idempotency, ExpiredKeyStartsANewNotification) {
    HeraldOptions options;
    options.extra_args = {
        "--set", "idempotency.retention_ms=1000", "--set", "idempotency.sweep_interval_ms=1000"};
    auto& herald = start_herald(options);
    const std::string body = json_body(baseline_notification());
    const HeaderList key = {{"Idempotency-Key", "short-lived"}};
    const std::string first = accepted_id(herald.post_notification(body, key));
    ASSERT_FALSE(first.empty());

    std::this_thread::sleep_for(1500ms);
    const auto later = herald.post_notification(body, key);
    const std::string second = accepted_id(later);
    EXPECT_NE(second, first);
    EXPECT_FALSE(later.headers.get("Idempotent-Replayed").has_value()) << later.describe();
}

TEST_F(Idempotency, WithoutAKeyIdenticalRequestsAreSeparateNotificationsByDefault) {
    auto& herald = start_herald({});
    const std::string body = json_body(baseline_notification());
    const std::string first = accepted_id(herald.post_notification(body));
    const std::string second = accepted_id(herald.post_notification(body));
    ASSERT_FALSE(first.empty());
    EXPECT_NE(first, second);
}

TEST_F(Idempotency, ContentDeduplicationGivesARepeatTheFirstIdAndSaysSo) {
    auto& provider = start_mockmail({});
    HeraldOptions options;
    options.transport = provider.send_url();
    options.extra_args = {"--set", "idempotency.content_window_ms=600000"};
    auto& herald = start_herald(options);
    auto body = baseline_notification();

    const auto original = herald.post_notification(json_body(body));
    const std::string id = accepted_id(original);
    ASSERT_FALSE(id.empty());
    const auto repeat = herald.post_notification(json_body(body));
    EXPECT_EQ(repeat.status, 202) << repeat.describe();
    EXPECT_EQ(repeat.body, original.body);
    EXPECT_EQ(repeat.headers.get("Herald-Deduplicated"), "content") << repeat.describe();

    body["subject"] = "Something else";
    const std::string other = accepted_id(herald.post_notification(json_body(body)));
    EXPECT_NE(other, id);

    ASSERT_TRUE(herald.wait_for_status(other, {"sent"}).has_value());
    ASSERT_TRUE(herald.wait_for_status(id, {"sent"}).has_value());
    EXPECT_EQ(provider.calls().size(), 2U);
}

}  // namespace
}  // namespace herald::test
