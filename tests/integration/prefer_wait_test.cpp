// Prefer: wait (RFC 7240) and clients that leave while herald waits for their delivery. What
// reached the provider is read back from herald-mockmail, which counts calls per
// Idempotency-Key (the notification id); intake outcomes are read from GET /metrics.

#include "fixture.hpp"

#include "support/metrics_text.hpp"
#include "support/net.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace herald::test {
namespace {

using namespace std::chrono_literals;

class PreferWait : public IntegrationTest {
protected:
    static std::string body() { return json_body(baseline_notification()); }

    // The provider's calls for notification `id`.
    std::int64_t calls_for(const std::string& id) {
        const auto counts = provider().key_counts();
        const auto found = counts.find(id);
        return found == counts.end() ? 0 : found->second;
    }
};

std::size_t log_lines_with(HeraldPeer& herald, const std::string& text) {
    std::ifstream file(herald.dir() / "herald.err");
    std::size_t count = 0;
    for (std::string line; std::getline(file, line);) {
        count += line.find(text) != std::string::npos ? 1 : 0;
    }
    return count;
}

TEST_F(PreferWait, DeliveryWithinTheWaitIsAnswered200WithTheSentStatus) {
    auto& herald = start_herald_with_provider(0);

    const auto response = herald.post_notification(body(), {{"Prefer", "wait=5"}});

    ASSERT_EQ(response.status, 200) << response.describe();
    EXPECT_EQ(response.headers.get("Preference-Applied"), "wait=5");
    const auto json = response.json();
    ASSERT_TRUE(json.has_value()) << response.describe();
    const std::string id = string_at(*json, "id");
    EXPECT_EQ(string_at(*json, "status"), "sent") << response.describe();
    EXPECT_EQ(response.headers.get("Location"), "/v1/notifications/" + id);
    EXPECT_EQ(calls_for(id), 1);
}

TEST_F(PreferWait, DeliverySlowerThanTheWaitIsAnswered202AndStillDelivered) {
    auto& herald = start_herald_with_provider(3000);

    const auto response = herald.post_notification(body(), {{"Prefer", "respond-async, wait=1"}});

    ASSERT_EQ(response.status, 202) << response.describe();
    EXPECT_EQ(response.headers.get("Preference-Applied"), "wait=1");
    const auto json = response.json();
    ASSERT_TRUE(json.has_value()) << response.describe();
    EXPECT_EQ(string_at(*json, "status"), "queued");
    const std::string id = string_at(*json, "id");
    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(string_at(*status, "status"), "sent");
    EXPECT_EQ(calls_for(id), 1);
}

TEST_F(PreferWait, WaitLongerThanTheServerMaximumIsCappedAndSaysSo) {
    auto& herald = start_herald_with_provider(3000, with_config("[server]\nmax_wait_ms = 1000\n"));

    const auto response = herald.post_notification(body(), {{"Prefer", "wait=30"}});

    ASSERT_EQ(response.status, 202) << response.describe();
    EXPECT_EQ(response.headers.get("Preference-Applied"), "wait=1");
}

TEST_F(PreferWait, UnusableWaitPreferencesAreIgnored) {
    auto& herald = start_herald_with_provider(0);
    for (const char* prefer : {"wait=abc", "wait=-1", "wait=", "wait=0", "respond-async", "wait"}) {
        SCOPED_TRACE(prefer);
        const auto response = herald.post_notification(body(), {{"Prefer", prefer}});
        EXPECT_EQ(response.status, 202) << response.describe();
        EXPECT_FALSE(response.headers.get("Preference-Applied").has_value()) << response.describe();
    }
}

// L2: the client leaves while herald waits for the provider; its retry gets the same id, and
// the provider sees one send.
void client_leaves_then_retries(HeraldPeer& herald, MockmailPeer& provider, bool with_reset) {
    const std::string key = with_reset ? "l2-1" : "l2-2";
    const std::string payload = json_body(baseline_notification());
    const std::string request =
        "POST /v1/notifications HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\n"
        "Prefer: wait=10\r\nIdempotency-Key: " +
        key + "\r\nContent-Length: " + std::to_string(payload.size()) + "\r\n\r\n" + payload;

    auto connection = RawConnection::connect(herald.port());
    ASSERT_TRUE(connection.send_all(request));
    std::this_thread::sleep_for(200ms);
    if (with_reset) {
        connection.reset();
    } else {
        connection.close();
    }

    ASSERT_TRUE(wait_until([&] { return intake_count(herald, "client_gone") == 1; }))
        << herald.logs();
    ASSERT_TRUE(wait_until([&] { return provider.calls().size() == 1; }));
    EXPECT_EQ(herald.client().get("/healthz").status, 200);

    const auto retry =
        herald.post_notification(payload, {{"Idempotency-Key", key}, {"Prefer", "wait=10"}});
    ASSERT_EQ(retry.status, 202) << retry.describe();
    EXPECT_EQ(retry.headers.get("Idempotent-Replayed"), "true");
    const auto json = retry.json();
    ASSERT_TRUE(json.has_value());
    const std::string id = string_at(*json, "id");
    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(string_at(*status, "status"), "sent");

    const auto calls = provider.calls();
    ASSERT_EQ(calls.size(), 1u);
    EXPECT_EQ(string_at(calls[0], "idempotency_key"), id);
    EXPECT_EQ(intake_count(herald, "client_gone"), 1);
    // One outcome per request: the first left before its answer, the retry was a replay.
    EXPECT_EQ(intake_count(herald, "accepted"), 0);
    EXPECT_EQ(intake_count(herald, "replayed"), 1);
    EXPECT_EQ(log_lines_with(herald, "\"msg\":\"client gone\""), 1u);
    EXPECT_TRUE(herald.running());
}

TEST_F(PreferWait, ClientThatResetsWhileWaitingIsCountedOnceAndItsRetryGetsTheSameSend) {
    auto& herald = start_herald_with_provider(2000);
    client_leaves_then_retries(herald, provider(), true);
}

TEST_F(PreferWait, ClientThatClosesWhileWaitingIsCountedOnceAndItsRetryGetsTheSameSend) {
    auto& herald = start_herald_with_provider(2000);
    client_leaves_then_retries(herald, provider(), false);
}

TEST_F(PreferWait, PipelinedRequestBehindAWaitingOneIsAnsweredInOrder) {
    auto& herald = start_herald_with_provider(300);
    const std::string payload = body();
    const std::string post =
        "POST /v1/notifications HTTP/1.1\r\nHost: herald\r\nContent-Type: application/json\r\n"
        "Prefer: wait=5\r\nContent-Length: " +
        std::to_string(payload.size()) + "\r\n\r\n" + payload;
    const std::string health = "GET /healthz HTTP/1.1\r\nHost: herald\r\n\r\n";

    auto connection = RawConnection::connect(herald.port());
    ASSERT_TRUE(connection.send_all(post + health));

    const auto first = connection.read_response();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->status, 200) << first->raw;
    const auto second = connection.read_response();
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->status, 200) << second->raw;
    EXPECT_NE(second->body.find("\"ok\""), std::string::npos) << second->raw;
}

// L1: one slow provider call must not stall the rest. The provider holds every send 3 s; 20
// clients wait for their delivery while probes hit /healthz and /metrics every 100 ms. The
// sends go out in parallel (the provider sees them in flight at once, so the burst takes one
// provider delay, not twenty), every probe is answered, and no event loop stalls. Timing itself
// is not asserted: parallelism is read from the provider's peak of sends in flight.
TEST_F(PreferWait, L1SlowProviderCallsRunInParallelWhileProbesAreAnsweredAndNoLoopStalls) {
    // A stall here is a loop held for a large part of the provider's 3 s, not scheduling noise of
    // a busy test machine: the threshold is 1 s.
    auto& herald = start_herald_with_provider(
        3000, with_config("[delivery]\nconcurrency = 20\n[server]\nstall_threshold_ms = 1000\n"));
    constexpr int kClients = 20;
    std::atomic<bool> burst_done{false};
    std::atomic<int> probes{0};
    std::atomic<int> failed_probes{0};
    std::thread prober([&] {
        HttpClient client = herald.client();
        while (!burst_done.load()) {
            for (const char* target : {"/healthz", "/metrics"}) {
                ++probes;
                failed_probes += client.get(target).status == 200 ? 0 : 1;
            }
            std::this_thread::sleep_for(100ms);
        }
    });

    std::vector<HttpResponse> answers(kClients);
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.emplace_back([&, i] {
            answers[static_cast<std::size_t>(i)] = herald.client().post_json(
                "/v1/notifications",
                body(),
                {{"Prefer", "wait=10"}, {"Idempotency-Key", "l1-" + std::to_string(i)}});
        });
    }
    for (auto& thread : clients) {
        thread.join();
    }
    burst_done = true;
    prober.join();

    for (const auto& answer : answers) {
        EXPECT_EQ(answer.status, 200) << answer.describe();
        EXPECT_EQ(answer.headers.get("Preference-Applied"), "wait=8") << answer.describe();
    }
    const auto stats = provider().stats();
    EXPECT_EQ(int_at(stats, "calls", -1), kClients) << json_text(stats);
    EXPECT_EQ(int_at(stats, "peak_in_flight", -1), kClients) << json_text(stats);
    EXPECT_GT(probes.load(), 0);
    EXPECT_EQ(failed_probes.load(), 0);
    const auto scraped = herald.client().get("/metrics");
    double stalls = 0;
    for (const char* thread : {"io-0", "io-1", "io-2", "io-3"}) {
        stalls +=
            metric_value(scraped.body,
                         std::string{"herald_event_loop_stalls_total{thread=\""} + thread + "\"}")
                .value_or(0);
    }
    EXPECT_EQ(stalls, 0) << scraped.body;
    EXPECT_NE(scraped.body.find("herald_event_loop_stalls_total{thread=\"io-0\"}"),
              std::string::npos)
        << scraped.body;
}

long threads_of(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("Threads:", 0) == 0) {
            return std::stol(line.substr(8));
        }
    }
    return -1;
}

// L1, variant: the provider accepts TCP and never answers. Each round of 20 waiting requests
// with a 2 s deadline is answered 202 (still queued) with the wait cut to fit the deadline, and
// nothing accumulates: requests in flight and waiters back to 0, the same descriptors and threads
// after round 5 as after round 2 (by round 2 every delivery slot holds its hanging connection;
// after round 1 the last of them may still be opening).
TEST_F(PreferWait, L1ProviderThatNeverAnswersLeavesNothingBehindRoundAfterRound) {
    SilentListener provider;
    HeraldOptions options =
        with_config("[delivery]\nattempt_timeout_ms = 600000\nlease_ms = 700000\n");
    options.transport = "http://127.0.0.1:" + std::to_string(provider.port()) + "/v1/send";
    auto& herald = start_herald(std::move(options));
    const auto fd_dir = std::filesystem::path("/proc") / std::to_string(herald.pid()) / "fd";

    std::size_t descriptors_after_second = 0;
    long threads_after_second = 0;
    for (int round = 1; round <= 5; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        std::vector<HttpResponse> answers(20);
        std::vector<std::thread> clients;
        for (std::size_t i = 0; i < answers.size(); ++i) {
            clients.emplace_back([&, i] {
                answers[i] = herald.client().post_json(
                    "/v1/notifications",
                    body(),
                    {{"Prefer", "wait=10"}, {"X-Request-Timeout-Ms", "2000"}});
            });
        }
        for (auto& thread : clients) {
            thread.join();
        }
        for (const auto& answer : answers) {
            ASSERT_EQ(answer.status, 202) << answer.describe();
            EXPECT_EQ(answer.headers.get("Preference-Applied"), "wait=1") << answer.describe();
        }
        const auto scraped = herald.client().get("/metrics");
        EXPECT_EQ(metric_value(scraped.body, "herald_http_requests_in_flight"), 0.0);
        EXPECT_EQ(metric_value(scraped.body, "herald_intake_waiters"), 0.0);
        if (round == 2) {
            // Client connections close a moment after their answers: count once it settles.
            descriptors_after_second = entries_in(fd_dir);
            wait_until(
                [&] {
                    const std::size_t now = entries_in(fd_dir);
                    const bool settled = now == descriptors_after_second;
                    descriptors_after_second = now;
                    return settled;
                },
                kGenerousWait,
                200ms);
            threads_after_second = threads_of(herald.pid());
        }
    }
    // Waiting for the last answers' connections to close; a leak never gets back to the count.
    EXPECT_TRUE(wait_until([&] { return entries_in(fd_dir) <= descriptors_after_second; }, 10s))
        << entries_in(fd_dir) << " descriptors, " << descriptors_after_second << " after round 2";
    EXPECT_EQ(threads_of(herald.pid()), threads_after_second);
}

// L1, the excess: waiters beyond server.max_waiters do not wait out their deadline. Their
// notifications are stored like the rest, so they are answered 202 at once (no
// Preference-Applied) instead of being refused; all 20 are delivered once.
TEST_F(PreferWait, WaitersBeyondTheCapAreAnsweredAtOnceAndStillDelivered) {
    auto& herald = start_herald_with_provider(3000, with_config("[server]\nmax_waiters = 16\n"));
    std::vector<HttpResponse> answers(20);
    std::vector<std::thread> clients;
    for (std::size_t i = 0; i < answers.size(); ++i) {
        clients.emplace_back([&, i] {
            answers[i] =
                herald.client().post_json("/v1/notifications", body(), {{"Prefer", "wait=10"}});
        });
    }
    for (auto& thread : clients) {
        thread.join();
    }
    std::size_t waited = 0;
    std::size_t at_once = 0;
    std::vector<std::string> ids;
    for (const auto& answer : answers) {
        const bool applied = answer.headers.get("Preference-Applied").has_value();
        waited += applied ? 1 : 0;
        if (!applied) {
            EXPECT_EQ(answer.status, 202) << answer.describe();
            ++at_once;
        }
        const auto json = answer.json();
        ASSERT_TRUE(json.has_value()) << answer.describe();
        ids.push_back(string_at(*json, "id"));
    }
    EXPECT_EQ(waited, 16u);
    EXPECT_EQ(at_once, 4u);
    for (const auto& id : ids) {
        ASSERT_TRUE(herald.wait_for_status(id, {"sent"}).has_value());
        EXPECT_EQ(calls_for(id), 1);
    }
}

}  // namespace
}  // namespace herald::test
