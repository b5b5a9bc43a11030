// Intake past its capacity. HERALD_DEBUG_STORE_WRITE_DELAY_MS slows herald's store writer and
// store.max_batch shrinks its batches, so that a few dozen client threads on loopback offer far
// more than herald can store. What was stored is read from the SQLite file; what was sent, from
// the maildir.

#include "fixture.hpp"

#include "support/metrics_text.hpp"
#include "support/store_probe.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace herald::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Resident memory of a process, in KiB (VmRSS); -1 when unreadable.
long rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmRSS:", 0) == 0) {
            return std::stol(line.substr(6));
        }
    }
    return -1;
}

// A POST /v1/notifications of `body` with `headers` besides the content type, given up by the
// client after `timeout`.
HttpRequest notification_request(const std::string& body,
                                 std::vector<std::pair<std::string, std::string>> headers,
                                 std::chrono::milliseconds timeout) {
    HttpRequest request;
    request.method = "POST";
    request.target = "/v1/notifications";
    request.body = body;
    request.headers = std::move(headers);
    request.headers.emplace(request.headers.begin(), "Content-Type", "application/json");
    request.timeout = timeout;
    return request;
}

class Overload : public IntegrationTest {
protected:
    HeraldPeer& start_slow_herald(int delay_ms, int max_batch) {
        HeraldOptions options =
            with_config("[store]\nmax_batch = " + std::to_string(max_batch) + "\n");
        options.env["HERALD_DEBUG_STORE_WRITE_DELAY_MS"] = std::to_string(delay_ms);
        return start_herald(std::move(options));
    }
};

// L6: intake is full, so requests queue; clients give up after 1 s, close, and retry with the
// same key. Whatever was dropped while queued never reached the store; each key ends with one
// notification, sent once.
TEST_F(Overload, L6ClientsThatGiveUpAndRetryWithOneKeyLeaveOneNotificationEach) {
    auto& herald = start_slow_herald(300, 2);
    constexpr int kClients = 12;
    constexpr int kMaxAttempts = 40;
    const std::string body = json_body(baseline_notification());

    std::vector<std::string> ids(kClients);
    std::atomic<int> attempts{0};
    std::vector<std::thread> clients;
    for (int i = 0; i < kClients; ++i) {
        clients.emplace_back([&, i] {
            HttpClient client = herald.client();
            // The client's own patience is 1 s: it hangs up then.
            const HttpRequest request = notification_request(
                body,
                {{"Idempotency-Key", "l6-" + std::to_string(i)}, {"X-Request-Timeout-Ms", "1000"}},
                1000ms);
            for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
                ++attempts;
                const auto response = client.send(request);
                if (response.status == 202) {
                    const auto json = response.json();
                    ids[static_cast<std::size_t>(i)] = json ? string_at(*json, "id") : "";
                    return;
                }
                std::this_thread::sleep_for(200ms);
            }
        });
    }
    for (auto& thread : clients) {
        thread.join();
    }

    const std::set<std::string> distinct(ids.begin(), ids.end());
    ASSERT_EQ(distinct.size(), static_cast<std::size_t>(kClients)) << herald.logs();
    EXPECT_EQ(distinct.count(""), 0u);
    EXPECT_GT(attempts.load(), kClients);  // intake was full: clients had to retry
    EXPECT_EQ(count_rows(herald.store_path(), "notifications"), kClients);
    const double dropped = intake_count(herald, "client_gone") +
                           intake_count(herald, "deadline_expired") +
                           intake_count(herald, "shed_overload");
    EXPECT_GT(dropped, 0) << "no attempt was dropped, so intake never queued";
    for (const auto& id : distinct) {
        const auto status = herald.wait_for_status(id, {"sent", "failed"});
        ASSERT_TRUE(status.has_value());
        EXPECT_EQ(string_at(*status, "status"), "sent");
    }
    EXPECT_EQ(entries_in(herald.maildir() / "new"), static_cast<std::size_t>(kClients));
}

struct Sample {
    int status = 0;
    bool retry_after = false;
    std::chrono::microseconds latency{0};
};

// Far more offered than the slowed store can take: herald sheds with 503 and Retry-After, stores
// exactly what it acknowledged, and its memory stays flat. Prints the figures of the run.
TEST_F(Overload, IntakeFarPastCapacityShedsWithRetryAfterAndKeepsMemoryFlat) {
    auto& herald = start_slow_herald(20, 4);  // about 200 writes a second
    constexpr int kThreads = 32;
    constexpr int kPerThread = 40;
    constexpr auto kDeadline = 1000ms;
    const std::string body = json_body(baseline_notification());
    for (int i = 0; i < 10; ++i) {
        herald.post_notification(body);
    }
    const long rss_before = rss_kib(herald.pid());

    std::mutex mutex;
    std::vector<Sample> samples;
    std::vector<std::thread> threads;
    const auto started = Clock::now();
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            HttpClient client = herald.client();
            // The client's 10 s is liveness only: herald answers within its deadline.
            const HttpRequest request = notification_request(
                body, {{"X-Request-Timeout-Ms", std::to_string(kDeadline.count())}}, 10s);
            std::vector<Sample> mine;
            for (int i = 0; i < kPerThread; ++i) {
                const auto sent = Clock::now();
                const auto response = client.send(request);
                Sample sample;
                sample.status = response.status;
                sample.retry_after = response.headers.get("Retry-After").has_value();
                sample.latency =
                    std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent);
                mine.push_back(sample);
            }
            std::lock_guard lock(mutex);
            samples.insert(samples.end(), mine.begin(), mine.end());
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    const long rss_after = rss_kib(herald.pid());

    std::size_t accepted = 0;
    std::size_t shed = 0;
    std::size_t other = 0;
    std::size_t shed_without_retry_after = 0;
    std::size_t late = 0;
    std::vector<std::chrono::microseconds> accepted_latency;
    for (const auto& sample : samples) {
        if (sample.status == 202) {
            ++accepted;
            accepted_latency.push_back(sample.latency);
        } else if (sample.status == 503) {
            ++shed;
            shed_without_retry_after += sample.retry_after ? 0 : 1;
        } else {
            ++other;
        }
        late += sample.latency > kDeadline ? 1 : 0;
    }
    std::sort(accepted_latency.begin(), accepted_latency.end());
    auto percentile = [&](double p) {
        if (accepted_latency.empty()) {
            return 0.0;
        }
        const auto at =
            static_cast<std::size_t>(p * static_cast<double>(accepted_latency.size() - 1));
        return static_cast<double>(accepted_latency[at].count()) / 1000.0;
    };
    std::printf(
        "overload figures: offered=%zu in %.1f s (%.0f/s) accepted=%zu shed_503=%zu other=%zu "
        "accepted_p50_ms=%.1f accepted_p99_ms=%.1f answered_after_deadline=%zu "
        "rss_kib_before=%ld rss_kib_after=%ld\n",
        samples.size(),
        seconds,
        static_cast<double>(samples.size()) / seconds,
        accepted,
        shed,
        other,
        percentile(0.5),
        percentile(0.99),
        late,
        rss_before,
        rss_after);

    EXPECT_EQ(samples.size(), static_cast<std::size_t>(kThreads * kPerThread));
    EXPECT_GT(accepted, 0u);
    EXPECT_GT(shed, 0u) << "the load never exceeded capacity";
    EXPECT_EQ(other, 0u);
    EXPECT_EQ(shed_without_retry_after, 0u);
    EXPECT_EQ(count_rows(herald.store_path(), "notifications"),
              static_cast<std::int64_t>(accepted + 10));
    ASSERT_GT(rss_before, 0);
    EXPECT_LT(rss_after - rss_before, 64 * 1024) << "memory grew under overload";
    EXPECT_TRUE(herald.running());
    EXPECT_EQ(herald.client().get("/healthz").status, 200);
}

}  // namespace
}  // namespace herald::test
