// Accepted means delivered, across crashes (shared/cases/lifecycle.md L4), and a provider that
// reads the request and then drops the connection (L7). herald delivers over its http transport
// to herald-mockmail, which records every call with its Idempotency-Key: each test checks what
// arrived there, herald's own view (GET) and, for the take-back at start, herald's start-up line.

#include "fixture.hpp"

#include "support/metrics_text.hpp"
#include "support/net.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <set>
#include <signal.h>
#include <sstream>
#include <string>
#include <vector>

namespace herald::test {
namespace {

// How long the provider holds a send it delays. Only the kill has to land inside it (the tests
// kill as soon as the provider has the request), and a resend is answered at once, so the hold
// costs no test time.
constexpr int kHoldMs = 10000;

class LifecycleCrash : public IntegrationTest {
protected:
    // herald posting to `url` with quick retries. The lease is far longer than any wait here, so
    // an interrupted notification can become due again in time only through herald's own
    // take-back at start (after kill -9) or its release on SIGTERM, never through expiry.
    static HeraldOptions towards(std::string url) {
        HeraldOptions options;
        options.transport = std::move(url);
        options.env["HERALD_DELIVERY_LEASE_MS"] = "3600000";
        options.env["HERALD_DELIVERY_BACKOFF_BASE_MS"] = "100";
        options.env["HERALD_DELIVERY_BACKOFF_MAX_MS"] = "500";
        options.env["HERALD_DELIVERY_MAX_ATTEMPTS"] = "1000";
        options.env["HERALD_DELIVERY_POLL_INTERVAL_MS"] = "100";
        return options;
    }

    // A provider that holds the first `held` sends kHoldMs before answering 200 and answers every
    // later send (the resends) at once.
    MockmailPeer& start_holding_provider(int held) {
        MockmailOptions options;
        options.latency_ms = kHoldMs;
        options.latency_count = held;
        return start_mockmail(options);
    }

    std::string post_accepted(HeraldPeer& herald, const std::string& subject) {
        auto body = baseline_notification();
        body["subject"] = subject;
        return accepted_id(herald.post_notification(json_body(body)));
    }

    // herald's GET body once it reports `id` sent; a test failure (and null) otherwise.
    static boost::json::value expect_sent(HeraldPeer& herald, const std::string& id) {
        auto status = herald.wait_for_status(id, {"sent", "failed"});
        if (!status || string_at(*status, "status") != "sent") {
            ADD_FAILURE() << "notification " << id << " was not sent: "
                          << (status ? json_text(*status) : std::string{"no status"});
            return nullptr;
        }
        return std::move(*status);
    }

    // The provider's calls that carried Idempotency-Key `key`.
    static std::vector<boost::json::value> calls_with_key(const boost::json::array& calls,
                                                          const std::string& key) {
        std::vector<boost::json::value> out;
        for (const auto& call : calls) {
            if (string_at(call, "idempotency_key") == key) {
                out.push_back(call);
            }
        }
        return out;
    }

    // Every call carrying `id` as its key names the notification and carries the Message-ID herald
    // reports for it: a resend is recognisable downstream as the same email.
    static void expect_same_message(const std::vector<boost::json::value>& calls,
                                    const std::string& id,
                                    const boost::json::value& status) {
        for (const auto& call : calls) {
            EXPECT_EQ(string_at(call, "id"), id) << json_text(call);
            EXPECT_EQ(bare_message_id(string_at(call, "message_id")),
                      bare_message_id(string_at(status, "message_id")))
                << json_text(call);
        }
    }

    // The "count" of each "leases taken over at start" line herald wrote to stderr after its
    // first `offset` bytes: one per start.
    static std::vector<std::int64_t> takeover_counts(const HeraldPeer& herald, std::size_t offset) {
        const std::string text = read_file(herald.dir() / "herald.err");
        std::istringstream lines(offset < text.size() ? text.substr(offset) : std::string{});
        std::vector<std::int64_t> counts;
        for (std::string line; std::getline(lines, line);) {
            if (line.find("\"msg\":\"leases taken over at start\"") == std::string::npos) {
                continue;
            }
            const auto json = parse_json(line);
            counts.push_back(json ? int_at(*json, "count", -1) : -1);
        }
        return counts;
    }

    static std::size_t stderr_size(const HeraldPeer& herald) {
        return read_file(herald.dir() / "herald.err").size();
    }

    // Waits for the start-up line of the run that began after `offset` and expects it, and the
    // run's herald_outbox_leases_taken_over_total, to count `expected` notifications taken over.
    static void expect_takeover_logged(HeraldPeer& herald,
                                       std::size_t offset,
                                       std::int64_t expected) {
        std::vector<std::int64_t> counts;
        wait_until([&] {
            counts = takeover_counts(herald, offset);
            return !counts.empty();
        });
        ASSERT_EQ(counts.size(), 1U) << herald.logs();
        EXPECT_EQ(counts[0], expected) << herald.logs();
        const auto scraped = herald.client().get("/metrics");
        EXPECT_EQ(metric_value(scraped.body, "herald_outbox_leases_taken_over_total"),
                  static_cast<double>(expected))
            << scraped.body;
    }
};

// L4 (a): the provider holds the send; kill -9 lands while herald waits for the answer.
TEST_F(LifecycleCrash, AcceptedNotificationIsDeliveredAfterKillDuringSend) {
    auto& provider = start_holding_provider(1);
    auto& herald = start_herald(towards(provider.send_url()));
    const std::string id = post_accepted(herald, "Kill -9 during the send");
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(wait_until([&] { return provider.calls().size() == 1; }));
    const auto killed = herald.kill9();
    EXPECT_EQ(killed.signal, SIGKILL) << killed.describe();

    const std::size_t offset = stderr_size(herald);
    herald.start();
    const auto status = expect_sent(herald, id);
    ASSERT_FALSE(status.is_null());
    // The interrupted attempt never got an outcome: the only one recorded is the resend's.
    EXPECT_EQ(int_at(status, "attempts", -1), 1) << json_text(status);

    const auto calls = provider.calls();
    const auto mine = calls_with_key(calls, id);
    EXPECT_EQ(calls.size(), 2U) << json_text(calls);
    EXPECT_EQ(mine.size(), 2U) << json_text(calls);
    expect_same_message(mine, id, status);
    // A provider that deduplicates by key shows one email.
    EXPECT_EQ(provider.key_counts().size(), 1U);
    expect_takeover_logged(herald, offset, 1);
}

// L4 (b): SIGTERM while the provider holds the send; the drain gives up before the provider
// answers, herald gives the lease back and exits 0, and the restart sends again at once.
TEST_F(LifecycleCrash, AcceptedNotificationIsDeliveredAfterSigtermWithDrainShorterThanSend) {
    auto& provider = start_holding_provider(1);
    auto options = towards(provider.send_url());
    options.env["HERALD_SERVER_DRAIN_TIMEOUT_MS"] = "300";
    auto& herald = start_herald(options);
    const std::string id = post_accepted(herald, "SIGTERM during the send");
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(wait_until([&] { return provider.calls().size() == 1; }));
    const auto stopped = herald.terminate();
    ASSERT_TRUE(stopped.has_value()) << "herald did not exit after SIGTERM\n" << herald.logs();
    EXPECT_TRUE(stopped->exited && stopped->code == 0) << stopped->describe();
    const std::string first_run = read_file(herald.dir() / "herald.err");
    EXPECT_NE(first_run.find("\"msg\":\"drain timed out\",\"abandoned\":1"), std::string::npos)
        << herald.logs();

    herald.start();
    const auto status = expect_sent(herald, id);
    ASSERT_FALSE(status.is_null());
    const auto calls = provider.calls();
    const auto mine = calls_with_key(calls, id);
    EXPECT_EQ(calls.size(), 2U) << json_text(calls);
    EXPECT_EQ(mine.size(), 2U) << json_text(calls);
    expect_same_message(mine, id, status);
    EXPECT_EQ(provider.key_counts().size(), 1U);
}

// L4 (c): nothing listens at the provider's port yet. The first run is paused, so the kill
// certainly comes before any attempt; the restarted herald is refused (connection refused) until
// the provider starts on that port, and then delivers.
TEST_F(LifecycleCrash, AcceptedNotificationIsDeliveredAfterKillBeforeAnyAttemptWhileRefused) {
    const std::uint16_t port = free_port();
    auto options = towards("http://127.0.0.1:" + std::to_string(port) + "/v1/send");
    options.env["HERALD_DELIVERY_PAUSED"] = "true";
    auto& herald = start_herald(options);
    const std::string id = post_accepted(herald, "Kill -9 before any attempt");
    ASSERT_FALSE(id.empty());
    const auto killed = herald.kill9();
    EXPECT_EQ(killed.signal, SIGKILL) << killed.describe();

    herald.options().env.erase("HERALD_DELIVERY_PAUSED");
    herald.start();
    // The provider stays away until herald has been refused at least once.
    ASSERT_TRUE(wait_until([&] {
        const auto json = herald.get_notification(id).json();
        const auto* log = json ? find_at(*json, "attempt_log") : nullptr;
        return log != nullptr && log->is_array() && !log->as_array().empty();
    })) << herald.logs();
    MockmailOptions on_port;
    on_port.port = port;
    auto& provider = start_mockmail(on_port);

    const auto status = expect_sent(herald, id);
    ASSERT_FALSE(status.is_null());
    const auto* log = find_at(status, "attempt_log");
    ASSERT_TRUE(log != nullptr && log->is_array() && log->as_array().size() >= 2U)
        << json_text(status);
    EXPECT_EQ(string_at(log->as_array().front(), "outcome"), "transient") << json_text(status);
    EXPECT_EQ(string_at(log->as_array().back(), "outcome"), "sent") << json_text(status);
    const auto calls = provider.calls();
    ASSERT_EQ(calls.size(), 1U) << json_text(calls);
    EXPECT_EQ(string_at(calls[0], "idempotency_key"), id);
    expect_same_message({calls[0]}, id, status);
}

// L4 (d): (a) with twenty notifications in flight at once.
TEST_F(LifecycleCrash, TwentyAcceptedNotificationsAreDeliveredOnceEachAfterKillDuringSends) {
    constexpr int kCount = 20;
    auto& provider = start_holding_provider(kCount);
    auto options = towards(provider.send_url());
    options.env["HERALD_DELIVERY_CONCURRENCY"] = "32";  // all twenty in flight together
    auto& herald = start_herald(options);
    std::vector<std::string> ids;
    for (int i = 0; i < kCount; ++i) {
        ids.push_back(post_accepted(herald, "Kill -9 during sends #" + std::to_string(i)));
        ASSERT_FALSE(ids.back().empty());
    }
    ASSERT_TRUE(wait_until([&] { return provider.calls().size() == kCount; }))
        << json_text(provider.calls());
    const auto killed = herald.kill9();
    EXPECT_EQ(killed.signal, SIGKILL) << killed.describe();

    const std::size_t offset = stderr_size(herald);
    herald.start();
    std::map<std::string, boost::json::value> statuses;
    for (const auto& id : ids) {
        statuses[id] = expect_sent(herald, id);
        ASSERT_FALSE(statuses[id].is_null());
    }

    const auto calls = provider.calls();
    const auto counts = provider.key_counts();
    // Downstream, deduplicated by key: twenty emails, each exactly one of ours.
    EXPECT_EQ(counts.size(), static_cast<std::size_t>(kCount));
    std::set<std::string> delivered;
    for (const auto& id : ids) {
        const auto mine = calls_with_key(calls, id);
        if (!mine.empty()) {
            delivered.insert(id);
        }
        // Raw: the interrupted call and its resend, nothing more.
        EXPECT_EQ(mine.size(), 2U) << id;
        expect_same_message(mine, id, statuses[id]);
    }
    EXPECT_EQ(delivered.size(), static_cast<std::size_t>(kCount));
    expect_takeover_logged(herald, offset, kCount);
}

// L7: the provider reads the whole request and closes the connection without a word. herald
// cannot know whether it was acted on: the attempt is recorded as ambiguous and the retry carries
// the same Idempotency-Key and Message-ID.
TEST_F(LifecycleCrash, RetryAfterDroppedConnectionCarriesSameKeyAndMessageId) {
    MockmailOptions dropping;
    dropping.drop_count = 1;
    auto& provider = start_mockmail(dropping);
    auto& herald = start_herald(towards(provider.send_url()));
    const std::string id = post_accepted(herald, "Dropped after reading");
    ASSERT_FALSE(id.empty());

    const auto status = expect_sent(herald, id);
    ASSERT_FALSE(status.is_null());
    const auto* log = find_at(status, "attempt_log");
    ASSERT_TRUE(log != nullptr && log->is_array() && log->as_array().size() == 2U)
        << json_text(status);
    EXPECT_EQ(string_at(log->as_array()[0], "outcome"), "ambiguous") << json_text(status);
    EXPECT_EQ(string_at(log->as_array()[1], "outcome"), "sent") << json_text(status);

    const auto calls = provider.calls();
    ASSERT_EQ(calls.size(), 2U) << json_text(calls);
    EXPECT_EQ(int_at(calls[0], "answer", -1), 0) << json_text(calls);  // dropped
    EXPECT_EQ(int_at(calls[1], "answer", -1), 200) << json_text(calls);
    const auto mine = calls_with_key(calls, id);
    EXPECT_EQ(mine.size(), 2U) << json_text(calls);
    expect_same_message(mine, id, status);
    EXPECT_EQ(provider.key_counts().size(), 1U);
}

}  // namespace
}  // namespace herald::test
