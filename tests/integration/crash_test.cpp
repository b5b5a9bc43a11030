// Accepted means delivered, across crashes, under load. A client thread posts notifications one
// after another to herald, which delivers them over its http transport to herald-mockmail (a
// provider that records every call with its Idempotency-Key, herald's notification id). The test
// kills herald with SIGKILL at a random moment in each round and restarts it on the same store,
// for HERALD_CRASH_ROUNDS rounds (default 5; scripts/crash-test.sh runs 50), then lets it drain.
//
// What must hold at the provider: every notification answered 202 arrived (none missing); a
// deduplicating provider shows each once (distinct keys); every call of one key carries the same
// Message-ID. A key called more than once is not a failure by itself, since a kill between a
// send and the record of its outcome must resend (at-least-once), but every such repeat has to
// straddle a kill, and a kill can only repeat the sends it interrupted: at most
// delivery.concurrency of them. The seed of the random delays is printed; HERALD_CRASH_SEED
// replays it.

#include "fixture.hpp"

#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <signal.h>
#include <string>
#include <thread>
#include <vector>

namespace herald::test {
namespace {

constexpr int kDefaultRounds = 5;
constexpr int kConcurrency = 16;  // herald's delivery.concurrency (its default), set explicitly
constexpr int kProviderLatencyMs = 30;   // each send is in flight this long
constexpr int kMaxKillDelayMs = 600;     // a round kills after a random delay in [0, this]
constexpr int kPostsPerRoundCap = 2000;  // bounds the load: far above what a round posts

int env_int(const char* name, int fallback) {
    const char* text = std::getenv(name);
    if (text == nullptr || *text == '\0') {
        return fallback;
    }
    return std::atoi(text);
}

std::uint64_t seed_from_env() {
    const char* text = std::getenv("HERALD_CRASH_SEED");
    if (text != nullptr && *text != '\0') {
        return std::strtoull(text, nullptr, 10);
    }
    return std::random_device{}();
}

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Posts notifications one after another, each to the herald on the port last published, until
// stop() or `max_posts`. A 202 makes the notification "accepted"; anything else (refused while
// herald is down, a connection cut by a kill, a 503) is only counted: the client never learnt
// whether it was stored. Runs on a thread of its own; every member function may be called from
// the test's thread.
class LoadClient {
public:
    LoadClient(std::uint16_t port, int max_posts) : port_(port), max_posts_(max_posts) {
        thread_ = std::thread([this] { run(); });
    }
    ~LoadClient() { stop(); }
    LoadClient(const LoadClient&) = delete;
    LoadClient& operator=(const LoadClient&) = delete;

    void publish_port(std::uint16_t port) { port_ = port; }
    void stop() {
        stopping_ = true;
        if (thread_.joinable()) {
            thread_.join();
        }
    }
    std::size_t accepted_count() const { return accepted_count_; }
    std::size_t posts() const { return posts_; }
    std::size_t unanswered() const { return unanswered_; }
    std::vector<std::string> accepted() {
        std::lock_guard lock(mutex_);
        return accepted_;
    }

private:
    void run() {
        std::uint16_t port = 0;
        std::unique_ptr<HttpClient> client;
        auto body = baseline_notification();
        for (int n = 0; n < max_posts_ && !stopping_; ++n) {
            if (port != port_ || !client) {
                port = port_;
                client = std::make_unique<HttpClient>("http://127.0.0.1:" + std::to_string(port));
            }
            body["subject"] = "Crash load #" + std::to_string(n);
            HttpRequest request;
            request.method = "POST";
            request.target = "/v1/notifications";
            request.headers = {{"Content-Type", "application/json"}};
            request.body = json_body(body);
            request.timeout = std::chrono::seconds{10};
            const auto response = client->send(request);
            ++posts_;
            const auto json = response.status == 202 ? response.json() : std::nullopt;
            const std::string id = json ? string_at(*json, "id") : std::string{};
            if (id.empty()) {
                ++unanswered_;
                std::this_thread::sleep_for(std::chrono::milliseconds{10});  // herald is down
                continue;
            }
            {
                std::lock_guard lock(mutex_);
                accepted_.push_back(id);
            }
            ++accepted_count_;
            std::this_thread::sleep_for(std::chrono::milliseconds{3});  // steady, not a flood
        }
    }

    std::atomic<std::uint16_t> port_;
    const int max_posts_;
    std::atomic<bool> stopping_{false};
    std::atomic<std::size_t> accepted_count_{0};
    std::atomic<std::size_t> posts_{0};
    std::atomic<std::size_t> unanswered_{0};
    std::mutex mutex_;
    std::vector<std::string> accepted_;
    std::thread thread_;
};

// One kill: wall-clock milliseconds just before SIGKILL was sent, and once the restarted herald
// answered its health check.
struct Kill {
    std::int64_t sent_ms = 0;
    std::int64_t restarted_ms = 0;
};

// What the provider's call log says, key by key.
struct ProviderTally {
    std::size_t raw_calls = 0;
    std::size_t keyless_calls = 0;
    std::map<std::string, std::vector<std::int64_t>> received_ms;  // by key, in arrival order
    std::vector<std::string> mixed_messages;  // keys whose calls differ in Message-ID or id
};

ProviderTally tally(const boost::json::array& calls) {
    ProviderTally out;
    std::map<std::string, std::string> message_ids;
    out.raw_calls = calls.size();
    for (const auto& call : calls) {
        const std::string key = string_at(call, "idempotency_key");
        if (key.empty()) {
            ++out.keyless_calls;
            continue;
        }
        out.received_ms[key].push_back(int_at(call, "received_at_ms", 0));
        const std::string message_id = string_at(call, "message_id");
        const auto [known, fresh] = message_ids.emplace(key, message_id);
        const bool differs = !fresh && known->second != message_id;
        if (message_id.empty() || differs || string_at(call, "id") != key) {
            out.mixed_messages.push_back(key);
        }
    }
    return out;
}

// A key's consecutive calls `first`, `then` are explained when a kill fell between them: the
// first arrived before the restarted herald was up (a request the killed run had already
// written may still be read by the provider a little after the kill), the second after SIGKILL
// was sent.
bool straddles_a_kill(std::int64_t first, std::int64_t then, const std::vector<Kill>& kills) {
    return std::any_of(kills.begin(), kills.end(), [&](const Kill& kill) {
        return first <= kill.restarted_ms && then >= kill.sent_ms;
    });
}

class CrashLoop : public IntegrationTest {};

TEST_F(CrashLoop, EveryAcceptedNotificationReachesTheProviderAcrossKills) {
    const int rounds = std::max(1, env_int("HERALD_CRASH_ROUNDS", kDefaultRounds));
    const std::uint64_t seed = seed_from_env();
    std::cout << "[ crash    ] rounds=" << rounds << " seed=" << seed
              << " (HERALD_CRASH_SEED replays the delays)" << std::endl;
    std::mt19937_64 random(seed);
    std::uniform_int_distribution<int> kill_delay_ms(0, kMaxKillDelayMs);

    MockmailOptions provider_options;
    provider_options.latency_ms = kProviderLatencyMs;
    auto& provider = start_mockmail(provider_options);
    HeraldOptions options;
    options.transport = provider.send_url();
    options.env["HERALD_LOG_LEVEL"] = "info";
    options.env["HERALD_DELIVERY_CONCURRENCY"] = std::to_string(kConcurrency);
    // A lease far longer than the test: only herald's take-back at start can resend what a kill
    // interrupted in time.
    options.env["HERALD_DELIVERY_LEASE_MS"] = "3600000";
    options.env["HERALD_DELIVERY_POLL_INTERVAL_MS"] = "100";
    options.env["HERALD_DELIVERY_BACKOFF_BASE_MS"] = "100";
    options.env["HERALD_DELIVERY_BACKOFF_MAX_MS"] = "500";
    options.env["HERALD_DELIVERY_MAX_ATTEMPTS"] = "1000";
    auto& herald = start_herald(options);

    // Each round: load flows into this run of herald, a random moment passes, kill -9, restart.
    LoadClient load(herald.port(), kPostsPerRoundCap * (rounds + 1));
    std::vector<Kill> kills;
    for (int round = 0; round < rounds; ++round) {
        const std::size_t before = load.accepted_count();
        ASSERT_TRUE(wait_until([&] { return load.accepted_count() > before; }))
            << "nothing accepted in round " << round << "\n"
            << herald.logs();
        std::this_thread::sleep_for(std::chrono::milliseconds{kill_delay_ms(random)});
        Kill kill;
        kill.sent_ms = wall_ms();
        const auto killed = herald.kill9();
        ASSERT_EQ(killed.signal, SIGKILL) << killed.describe() << "\n" << herald.logs();
        herald.start();
        kill.restarted_ms = wall_ms();
        kills.push_back(kill);
        load.publish_port(herald.port());
    }
    load.stop();
    const std::vector<std::string> accepted = load.accepted();
    ASSERT_FALSE(accepted.empty());

    // Drain: the last run sends what is left. Every 202 must reach the provider, and herald must
    // report each one sent.
    std::map<std::string, std::int64_t> counts;
    const auto all_arrived = [&] {
        counts = provider.key_counts();
        return std::all_of(accepted.begin(), accepted.end(), [&](const std::string& id) {
            return counts.contains(id);
        });
    };
    wait_until(all_arrived, kGenerousWait, std::chrono::milliseconds{200});
    std::vector<std::string> missing;
    for (const auto& id : accepted) {
        if (!counts.contains(id)) {
            missing.push_back(id);
        }
    }
    EXPECT_TRUE(missing.empty()) << missing.size() << " accepted notifications never reached the "
                                 << "provider, first " << missing.front();
    std::size_t not_sent = 0;
    for (const auto& id : accepted) {
        const auto status = herald.wait_for_status(id, {"sent", "failed"});
        if (!status || string_at(*status, "status") != "sent") {
            ++not_sent;
            ADD_FAILURE() << id << ": " << (status ? json_text(*status) : std::string{"no status"});
        }
        if (not_sent >= 5) {
            break;
        }
    }

    const ProviderTally provider_tally = tally(provider.calls());
    const std::set<std::string> accepted_set(accepted.begin(), accepted.end());
    std::size_t delivered = 0;
    std::size_t unexplained = 0;
    std::size_t most_calls = 0;
    for (const auto& [key, times] : provider_tally.received_ms) {
        delivered += accepted_set.contains(key) ? 1 : 0;
        most_calls = std::max(most_calls, times.size());
        for (std::size_t i = 1; i < times.size(); ++i) {
            if (!straddles_a_kill(times[i - 1], times[i], kills) && ++unexplained <= 5) {
                ADD_FAILURE() << "key " << key << " called again at " << times[i]
                              << " ms with no kill since its call at " << times[i - 1] << " ms";
            }
        }
    }
    const std::size_t distinct = provider_tally.received_ms.size();
    const std::size_t raw_duplicates =
        provider_tally.raw_calls - provider_tally.keyless_calls - distinct;
    const std::size_t unconfirmed = distinct - delivered;

    std::cout << "crash summary: rounds=" << rounds << " accepted=" << accepted.size()
              << " delivered=" << delivered << " distinct=" << distinct
              << " raw_calls=" << provider_tally.raw_calls << " raw_duplicates=" << raw_duplicates
              << std::endl;
    std::cout << "[ crash    ] kills=" << kills.size() << " posts=" << load.posts()
              << " unanswered_posts=" << load.unanswered() << " unconfirmed=" << unconfirmed
              << " most_calls_per_key=" << most_calls << " seed=" << seed << std::endl;

    EXPECT_EQ(delivered, accepted.size());
    EXPECT_EQ(provider_tally.keyless_calls, 0U);
    EXPECT_TRUE(provider_tally.mixed_messages.empty())
        << provider_tally.mixed_messages.size() << " keys whose calls differ in Message-ID or id, "
        << "first " << provider_tally.mixed_messages.front();
    EXPECT_EQ(unexplained, 0U);
    // Only a kill repeats a send, and only the sends it interrupted: at most
    // delivery.concurrency claimed and unrecorded at once.
    EXPECT_LE(raw_duplicates, kills.size() * kConcurrency);
    // Keys nobody was told about come only from POSTs whose answer a kill cut off.
    EXPECT_LE(unconfirmed, load.unanswered());
}

}  // namespace
}  // namespace herald::test
