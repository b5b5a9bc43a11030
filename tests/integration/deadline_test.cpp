// Request deadlines end to end: timeout headers, work never started after its deadline, and
// clients that leave before their notification is stored. What was stored is read from the
// SQLite file itself; what was sent, from the maildir or herald-mockmail.
//
// HERALD_DEBUG_STORE_WRITE_DELAY_MS makes herald's store writer sleep before each batch: a slow
// disk on demand, so requests queue in front of the store.

#include "fixture.hpp"

#include "support/metrics_text.hpp"
#include "support/net.hpp"
#include "support/store_probe.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace herald::test {
namespace {

using namespace std::chrono_literals;

class Deadline : public IntegrationTest {
protected:
    static std::string body() { return json_body(baseline_notification()); }

    static HeraldOptions with_slow_store(int delay_ms, HeraldOptions options = {}) {
        options.env["HERALD_DEBUG_STORE_WRITE_DELAY_MS"] = std::to_string(delay_ms);
        return options;
    }

    static std::int64_t stored(HeraldPeer& herald) {
        return count_rows(herald.store_path(), "notifications");
    }
};

TEST_F(Deadline, EveryTimeoutHeaderFormatIsAccepted) {
    auto& herald = start_herald({});
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"X-Request-Timeout-Ms", "5000"},
        {"grpc-timeout", "5S"},
        {"grpc-timeout", "5000m"},
        {"grpc-timeout", "5000000u"},
        {"grpc-timeout", "1M"},
        {"grpc-timeout", "1H"},
        {"x-envoy-expected-rq-timeout-ms", "5000"},
    };
    for (const auto& [name, value] : headers) {
        SCOPED_TRACE(name + ": " + value);
        const auto response = herald.post_notification(body(), {{name, value}});
        EXPECT_EQ(response.status, 202) << response.describe();
    }
    EXPECT_EQ(stored(herald), static_cast<std::int64_t>(headers.size()));
}

TEST_F(Deadline, MalformedTimeoutHeadersAre400NamingTheHeaderAndStoreNothing) {
    auto& herald = start_herald({});
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"X-Request-Timeout-Ms", "soon"},
        {"X-Request-Timeout-Ms", "-1"},
        {"X-Request-Timeout-Ms", "1.5"},
        {"grpc-timeout", "5"},
        {"grpc-timeout", "5s"},
        {"grpc-timeout", "123456789S"},
        {"x-envoy-expected-rq-timeout-ms", "abc"},
    };
    for (const auto& [name, value] : headers) {
        SCOPED_TRACE(name + ": " + value);
        const auto response = herald.post_notification(body(), {{name, value}});
        EXPECT_EQ(response.status, 400) << response.describe();
        EXPECT_EQ(problem_header(response), name) << response.describe();
    }
    EXPECT_EQ(stored(herald), 0);
    EXPECT_EQ(herald.post_notification(body()).status, 202);
}

TEST_F(Deadline, ABudgetAlreadySpentIsAnswered504WithoutAnyWork) {
    auto& herald = start_herald({});

    const auto response = herald.post_notification(body(), {{"X-Request-Timeout-Ms", "0"}});

    EXPECT_EQ(response.status, 504) << response.describe();
    EXPECT_EQ(stored(herald), 0);
    EXPECT_EQ(intake_count(herald, "deadline_expired"), 0);  // refused before the handler ran
}

TEST_F(Deadline, RequestWhoseDeadlinePassesWhileQueuedNeverReachesTheStore) {
    auto& herald = start_herald(with_slow_store(600));

    const auto expired = herald.post_notification(body(), {{"X-Request-Timeout-Ms", "200"}});

    EXPECT_EQ(expired.status, 503) << expired.describe();
    EXPECT_TRUE(expired.headers.get("Retry-After").has_value()) << expired.describe();
    const auto problem = expired.json();
    ASSERT_TRUE(problem.has_value()) << expired.describe();
    EXPECT_EQ(string_at(*problem, "type"), "/problems/deadline-expired");
    EXPECT_EQ(stored(herald), 0);
    EXPECT_EQ(intake_count(herald, "deadline_expired"), 1);

    // A request with time enough is stored by the same slow writer.
    const auto patient = herald.post_notification(body(), {{"X-Request-Timeout-Ms", "5000"}});
    EXPECT_EQ(patient.status, 202) << patient.describe();
    EXPECT_EQ(stored(herald), 1);
}

TEST_F(Deadline, ClientThatLeavesBeforeTheCommitLeavesNothingStoredAndNothingSent) {
    auto& herald = start_herald(with_slow_store(800));
    const std::string payload = body();
    const std::string request =
        "POST /v1/notifications HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\n"
        "Content-Length: " +
        std::to_string(payload.size()) + "\r\n\r\n" + payload;

    for (const bool reset : {true, false}) {
        SCOPED_TRACE(reset ? "reset" : "close");
        auto connection = RawConnection::connect(herald.port());
        ASSERT_TRUE(connection.send_all(request));
        std::this_thread::sleep_for(200ms);
        if (reset) {
            connection.reset();
        } else {
            connection.close();
        }
    }

    ASSERT_TRUE(wait_until([&] { return intake_count(herald, "client_gone") == 2; }))
        << herald.logs();
    EXPECT_EQ(stored(herald), 0);
    EXPECT_EQ(intake_count(herald, "accepted"), 0);
    // The writer is still healthy: the next request is stored and delivered.
    const std::string id = accepted_id(herald.post_notification(payload));
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(herald.wait_for_status(id, {"sent"}).has_value());
    EXPECT_EQ(stored(herald), 1);
    EXPECT_EQ(entries_in(herald.maildir() / "new"), 1u);
}

TEST_F(Deadline, PreferWaitIsAnswered202BeforeAShortDeadline) {
    auto& herald = start_herald_with_provider(3000);

    const auto response =
        herald.post_notification(body(), {{"Prefer", "wait=10"}, {"X-Request-Timeout-Ms", "1500"}});

    ASSERT_EQ(response.status, 202) << response.describe();
    EXPECT_EQ(response.headers.get("Preference-Applied"), "wait=1");
    const auto json = response.json();
    ASSERT_TRUE(json.has_value());
    const auto status = herald.wait_for_status(string_at(*json, "id"), {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(string_at(*status, "status"), "sent");
}

// A repeat of an Idempotency-Key waits for the first request; if its own deadline passes first,
// it is told to try again (409 with Retry-After), and the try gets the first one's replay.
TEST_F(Deadline, RepeatWhoseDeadlinePassesWhileTheFirstIsStoredIs409AndItsRetryTheReplay) {
    auto& herald = start_herald(with_slow_store(600));
    const HeaderList key = {{"Idempotency-Key", "slow-first"}};
    HttpResponse first;
    std::thread first_client([&] { first = herald.post_notification(body(), key); });
    std::this_thread::sleep_for(100ms);

    HeaderList impatient = key;
    impatient.emplace_back("X-Request-Timeout-Ms", "200");
    const auto repeat = herald.post_notification(body(), impatient);
    first_client.join();

    EXPECT_EQ(repeat.status, 409) << repeat.describe();
    EXPECT_TRUE(repeat.headers.get("Retry-After").has_value()) << repeat.describe();
    EXPECT_EQ(problem_header(repeat), "Idempotency-Key") << repeat.describe();
    const std::string id = accepted_id(first);
    ASSERT_FALSE(id.empty());
    const auto retry = herald.post_notification(body(), key);
    EXPECT_EQ(retry.status, 202) << retry.describe();
    EXPECT_EQ(retry.headers.get("Idempotent-Replayed"), "true");
    const auto json = retry.json();
    ASSERT_TRUE(json.has_value());
    EXPECT_EQ(string_at(*json, "id"), id);
    EXPECT_EQ(stored(herald), 1);
}

// A pipelined request's deadline runs from when its bytes arrived, not from when herald gets to
// it: one that waited behind a long request past its budget is answered 504 and never stored.
TEST_F(Deadline, PipelinedRequestThatWaitedPastItsDeadlineIsNotStored) {
    auto& herald = start_herald_with_provider(3000);
    const std::string payload = body();
    auto post = [&](const std::string& extra) {
        return "POST /v1/notifications HTTP/1.1\r\nHost: herald\r\n"
               "Content-Type: application/json\r\n" +
               extra + "Content-Length: " + std::to_string(payload.size()) + "\r\n\r\n" + payload;
    };
    auto connection = RawConnection::connect(herald.port());
    ASSERT_TRUE(
        connection.send_all(post("Prefer: wait=2\r\n") + post("X-Request-Timeout-Ms: 500\r\n")));

    const auto waited = connection.read_response();
    ASSERT_TRUE(waited.has_value());
    EXPECT_EQ(waited->status, 202) << waited->raw;
    const auto late = connection.read_response();
    ASSERT_TRUE(late.has_value());
    EXPECT_EQ(late->status, 504) << late->raw;
    EXPECT_EQ(stored(herald), 1);
}

}  // namespace
}  // namespace herald::test
