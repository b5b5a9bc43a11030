#include "delivery/dispatcher.hpp"

#include "sample_message.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>

namespace herald::delivery {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr auto kLiveness = seconds{30};  // only an upper bound for a wait that must end

// An in-memory store with the real store's contract: every callback runs later on a thread of
// the store's own; claims lease entries with an increasing fencing token.
class FakeStore final : public store::Store {
public:
    struct Entry {
        store::ClaimedEntry claim;
        store::Status status = store::Status::queued;
        core::UnixMs due_at = 0;
        std::string owner;  // "" when not leased
        core::UnixMs lease_until = 0;
    };

    ~FakeStore() override { thread_.join(); }

    void add(std::string id, std::string payload, int attempts = 0) {
        std::lock_guard lock(mutex_);
        Entry entry;
        entry.claim.id = id;
        entry.claim.message_id = id + "@herald.example";
        entry.claim.payload = std::move(payload);
        entry.claim.attempts = attempts;
        entries_[id] = std::move(entry);
    }

    std::vector<store::AttemptRecord> records() {
        std::lock_guard lock(mutex_);
        return records_;
    }
    Entry entry(const std::string& id) {
        std::lock_guard lock(mutex_);
        return entries_.at(id);
    }
    int releases() {
        std::lock_guard lock(mutex_);
        return releases_;
    }
    void fail_next_claims(int count) {
        std::lock_guard lock(mutex_);
        failing_claims_ = count;
    }
    // The next `count` record_attempt calls fail with `error` and change nothing.
    void fail_next_records(int count, store::StoreError error) {
        std::lock_guard lock(mutex_);
        failing_records_ = count;
        record_error_ = error;
    }
    int record_calls() {
        std::lock_guard lock(mutex_);
        return record_calls_;
    }
    bool wait_for_record_calls(int count) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, kLiveness, [&] { return record_calls_ >= count; });
    }
    int claims() {
        std::lock_guard lock(mutex_);
        return claims_;
    }
    bool wait_for_claims(int count) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, kLiveness, [&] { return claims_ >= count; });
    }

    // Waits until `predicate` holds for the records (or the liveness bound passes).
    bool wait_for_records(const std::function<bool(const std::vector<store::AttemptRecord>&)>& p) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, kLiveness, [&] { return p(records_); });
    }

    void insert(store::NewNotification, Callback<store::InsertOutcome> done) override {
        reply(std::move(done), store::StoreError::unavailable);
    }
    void sweep_idempotency(core::UnixMs, int, Callback<int> done) override {
        reply(std::move(done), 0);
    }
    void find(std::string, std::string, Callback<store::NotificationView> done) override {
        reply(std::move(done), store::StoreError::not_found);
    }

    void claim_due(store::ClaimRequest request,
                   Callback<std::vector<store::ClaimedEntry>> done) override {
        std::vector<store::ClaimedEntry> claimed;
        {
            std::lock_guard lock(mutex_);
            ++claims_;
            if (failing_claims_ > 0) {
                --failing_claims_;
                changed_.notify_all();
                reply(std::move(done), store::StoreError::unavailable);
                return;
            }
            for (auto& [id, entry] : entries_) {
                if (static_cast<int>(claimed.size()) >= request.limit) {
                    break;
                }
                const bool due = (entry.status == store::Status::queued ||
                                  entry.status == store::Status::retrying) &&
                                 entry.due_at <= request.now;
                const bool expired =
                    entry.status == store::Status::sending && entry.lease_until <= request.now;
                if (!due && !expired) {
                    continue;
                }
                entry.claim.taken_over = expired;
                ++entry.claim.lease_token;
                entry.status = store::Status::sending;
                entry.owner = request.owner;
                entry.lease_until = request.now + request.lease_ms;
                claimed.push_back(entry.claim);
            }
        }
        changed_.notify_all();
        reply(std::move(done), std::move(claimed));
    }

    void record_attempt(store::AttemptRecord record, Callback<void> done) override {
        boost::system::result<void> result;
        {
            std::lock_guard lock(mutex_);
            ++record_calls_;
            Entry& entry = entries_.at(record.id);
            if (failing_records_ > 0) {
                --failing_records_;
                result = store::make_error_code(record_error_);
            } else if (record.lease_token != entry.claim.lease_token ||
                       entry.status != store::Status::sending) {
                result = store::make_error_code(store::StoreError::stale_lease);
            } else {
                entry.status = record.next_status;
                entry.due_at = record.next_due_at;
                entry.owner.clear();
                ++entry.claim.attempts;
                records_.push_back(record);
            }
        }
        changed_.notify_all();
        reply(std::move(done), std::move(result));
    }

    void release_leases(std::string owner, Callback<int> done) override {
        int count = 0;
        {
            std::lock_guard lock(mutex_);
            ++releases_;
            for (auto& [id, entry] : entries_) {
                if (entry.status == store::Status::sending && entry.owner == owner) {
                    entry.status = store::Status::queued;
                    entry.owner.clear();
                    entry.due_at = 0;
                    ++count;
                }
            }
        }
        reply(std::move(done), count);
    }

    void ping(Callback<void> done) override {
        reply(std::move(done), boost::system::result<void>{});
    }
    void shutdown() override {}

private:
    template <typename Done, typename Value>
    void reply(Done done, Value value) {
        boost::asio::post(thread_, [done = std::move(done), value = std::move(value)]() mutable {
            done(std::move(value));
        });
    }

    std::mutex mutex_;
    std::condition_variable changed_;
    std::map<std::string, Entry> entries_;
    std::vector<store::AttemptRecord> records_;
    int releases_ = 0;
    int claims_ = 0;
    int failing_claims_ = 0;
    int record_calls_ = 0;
    int failing_records_ = 0;
    store::StoreError record_error_ = store::StoreError::unavailable;
    boost::asio::thread_pool thread_{1};
};

// A transport whose answers the test scripts. With `hold` set, sends wait until release().
class FakeTransport final : public Transport {
public:
    std::function<SendResult(const OutboundMessage&)> answer = [](const OutboundMessage&) {
        SendResult sent;
        sent.outcome = AttemptOutcome::sent;
        sent.status_code = 200;
        return sent;
    };
    bool hold = false;

    ~FakeTransport() override { thread_.join(); }

    std::string_view name() const override { return "fake"; }

    void send(std::shared_ptr<const OutboundMessage> message, Done done) override {
        std::lock_guard lock(mutex_);
        sent_.push_back(message);
        ++in_flight_;
        max_in_flight_ = std::max(max_in_flight_, in_flight_);
        if (hold) {
            held_.emplace_back(std::move(message), std::move(done));
        } else {
            complete(std::move(message), std::move(done));
        }
        changed_.notify_all();
    }
    void stop() override {}

    void release() {
        std::lock_guard lock(mutex_);
        hold = false;
        for (auto& [message, done] : held_) {
            complete(std::move(message), std::move(done));
        }
        held_.clear();
    }

    bool wait_for_held(std::size_t count) {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, kLiveness, [&] { return held_.size() >= count; });
    }
    // Waits until every send has had its result delivered.
    bool wait_until_idle() {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, kLiveness, [&] { return finished_ == sent_.size(); });
    }
    std::vector<std::shared_ptr<const OutboundMessage>> sent() {
        std::lock_guard lock(mutex_);
        return sent_;
    }
    int max_in_flight() {
        std::lock_guard lock(mutex_);
        return max_in_flight_;
    }

private:
    void complete(std::shared_ptr<const OutboundMessage> message, Done done) {
        boost::asio::post(thread_, [this, message, done = std::move(done)] {
            SendResult result = answer(*message);
            {
                std::lock_guard lock(mutex_);
                --in_flight_;
            }
            done(std::move(result));
            std::lock_guard lock(mutex_);
            ++finished_;
            changed_.notify_all();
        });
    }

    std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::shared_ptr<const OutboundMessage>> sent_;
    std::vector<std::pair<std::shared_ptr<const OutboundMessage>, Done>> held_;
    int in_flight_ = 0;
    int max_in_flight_ = 0;
    std::size_t finished_ = 0;
    boost::asio::thread_pool thread_{1};
};

std::string payload() {
    return boost::json::serialize(mail::to_json(testing::sample_message()));
}

DispatcherOptions fast_options() {
    DispatcherOptions options;
    options.owner = "test-owner";
    options.concurrency = 4;
    options.max_attempts = 3;
    options.backoff_base = milliseconds{1};
    options.backoff_max = milliseconds{2};
    options.poll_interval = milliseconds{10};
    return options;
}

SendResult transient(std::string detail) {
    SendResult result;
    result.outcome = AttemptOutcome::transient;
    result.detail = std::move(detail);
    result.status_code = 503;
    return result;
}

auto has_records(std::size_t count) {
    return [count](const std::vector<store::AttemptRecord>& r) { return r.size() >= count; };
}

TEST(Dispatcher, SendsADueNotificationAndRecordsItSent) {
    FakeStore store;
    FakeTransport transport;
    store.add("n-1", payload());
    Dispatcher dispatcher(store, transport, fast_options());

    dispatcher.start();
    ASSERT_TRUE(store.wait_for_records(has_records(1)));
    dispatcher.stop(seconds{5});

    const auto records = store.records();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].id, "n-1");
    EXPECT_EQ(records[0].outcome, "sent");
    EXPECT_EQ(records[0].next_status, store::Status::sent);
    EXPECT_EQ(records[0].lease_token, 1);
    EXPECT_LE(records[0].started_at, records[0].finished_at);
    EXPECT_EQ(store.entry("n-1").status, store::Status::sent);

    const auto sent = transport.sent();
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0]->notification_id, "n-1");
    EXPECT_EQ(sent[0]->attempt, 1);
    EXPECT_EQ(sent[0]->message.subject, "Hello");
    EXPECT_EQ(sent[0]->mime, mail::compose(testing::sample_message()));
    EXPECT_EQ(sent[0]->timeout, fast_options().attempt_timeout);
}

TEST(Dispatcher, SchedulesARetryNoSoonerThanRetryAfter) {
    FakeStore store;
    FakeTransport transport;
    transport.answer = [](const OutboundMessage&) {
        SendResult throttled = transient("HTTP 429");
        throttled.retry_after = seconds{120};
        return throttled;
    };
    store.add("n-1", payload());
    DispatcherOptions options = fast_options();
    options.clock = [] { return core::UnixMs{1'000'000}; };
    options.random = [](std::int64_t low, std::int64_t) { return low; };
    Dispatcher dispatcher(store, transport, options);

    dispatcher.start();
    ASSERT_TRUE(store.wait_for_records(has_records(1)));
    dispatcher.stop(seconds{5});

    const auto records = store.records();
    ASSERT_EQ(records.size(), 1u);  // the clock stands still: the retry is never due
    EXPECT_EQ(records[0].outcome, "transient");
    EXPECT_EQ(records[0].next_status, store::Status::retrying);
    EXPECT_EQ(records[0].next_due_at, 1'000'000 + 120'000);
    EXPECT_EQ(records[0].detail, "HTTP 429");
}

TEST(Dispatcher, RetriesUntilMaxAttemptsThenFails) {
    FakeStore store;
    FakeTransport transport;
    transport.answer = [](const OutboundMessage&) { return transient("HTTP 503"); };
    store.add("n-1", payload());
    Dispatcher dispatcher(store, transport, fast_options());

    dispatcher.start();
    ASSERT_TRUE(store.wait_for_records(has_records(3)));
    dispatcher.stop(seconds{5});

    const auto records = store.records();
    ASSERT_EQ(records.size(), 3u);
    EXPECT_EQ(records[0].next_status, store::Status::retrying);
    EXPECT_EQ(records[1].next_status, store::Status::retrying);
    EXPECT_EQ(records[2].next_status, store::Status::failed);
    EXPECT_EQ(records[2].detail, "gave up after 3 attempts: HTTP 503");
    EXPECT_EQ(store.entry("n-1").status, store::Status::failed);

    const auto sent = transport.sent();
    ASSERT_EQ(sent.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(sent[i]->attempt, i + 1);
        EXPECT_EQ(sent[i]->notification_id, "n-1");
        EXPECT_EQ(sent[i]->message.message_id, sent[0]->message.message_id);
    }
}

TEST(Dispatcher, FailsAnUnreadablePayloadWithoutSending) {
    FakeStore store;
    FakeTransport transport;
    store.add("bad-json", "{not json");
    store.add("bad-shape", "{\"subject\":42}");
    Dispatcher dispatcher(store, transport, fast_options());

    dispatcher.start();
    ASSERT_TRUE(store.wait_for_records(has_records(2)));
    dispatcher.stop(seconds{5});

    for (const auto& record : store.records()) {
        EXPECT_EQ(record.outcome, "permanent") << record.id;
        EXPECT_EQ(record.next_status, store::Status::failed) << record.id;
        EXPECT_NE(record.detail.find("unreadable payload"), std::string::npos) << record.detail;
    }
    EXPECT_TRUE(transport.sent().empty());
}

TEST(Dispatcher, KeepsNoMoreSendsInFlightThanItsConcurrency) {
    FakeStore store;
    FakeTransport transport;
    transport.hold = true;
    for (int i = 0; i < 7; ++i) {
        store.add("n-" + std::to_string(i), payload());
    }
    DispatcherOptions options = fast_options();
    options.concurrency = 2;
    Dispatcher dispatcher(store, transport, options);

    dispatcher.start();
    ASSERT_TRUE(transport.wait_for_held(2));
    transport.release();
    ASSERT_TRUE(store.wait_for_records(has_records(7)));
    dispatcher.stop(seconds{5});

    EXPECT_EQ(transport.max_in_flight(), 2);
    EXPECT_EQ(transport.sent().size(), 7u);
}

TEST(Dispatcher, WakeClaimsWithoutWaitingForThePoll) {
    FakeStore store;
    FakeTransport transport;
    DispatcherOptions options = fast_options();
    options.poll_interval = std::chrono::hours{1};
    Dispatcher dispatcher(store, transport, options);
    dispatcher.start();
    // Let the first (empty) claim happen, then add work: only wake() can make it go out now.
    ASSERT_TRUE(store.wait_for_claims(1));

    store.add("n-1", payload());
    dispatcher.wake();

    ASSERT_TRUE(store.wait_for_records(has_records(1)));
    dispatcher.stop(seconds{5});
}

TEST(Dispatcher, StopReleasesTheLeasesOfSendsStillInFlight) {
    FakeStore store;
    FakeTransport transport;
    transport.hold = true;
    store.add("n-1", payload());
    store.add("n-2", payload());
    auto dispatcher = std::make_unique<Dispatcher>(store, transport, fast_options());
    dispatcher->start();
    ASSERT_TRUE(transport.wait_for_held(2));

    dispatcher->stop(milliseconds{50});

    EXPECT_EQ(store.releases(), 1);
    EXPECT_EQ(store.entry("n-1").status, store::Status::queued);
    EXPECT_EQ(store.entry("n-2").status, store::Status::queued);
    EXPECT_TRUE(store.entry("n-1").owner.empty());

    // The abandoned sends finish after the dispatcher is gone: their results are ignored.
    dispatcher.reset();
    transport.release();
    ASSERT_TRUE(transport.wait_until_idle());
    EXPECT_TRUE(store.records().empty());
}

TEST(Dispatcher, StopWaitsForSendsThatFinishWithinTheDrain) {
    FakeStore store;
    FakeTransport transport;
    transport.hold = true;
    store.add("n-1", payload());
    Dispatcher dispatcher(store, transport, fast_options());
    dispatcher.start();
    ASSERT_TRUE(transport.wait_for_held(1));

    std::thread stopper([&] { dispatcher.stop(seconds{30}); });
    transport.release();
    stopper.join();

    const auto records = store.records();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].next_status, store::Status::sent);
    EXPECT_EQ(store.releases(), 1);
}

TEST(Dispatcher, TakesOverAnEntryWhoseLeaseExpired) {
    FakeStore store;
    FakeTransport transport;
    store.add("n-1", payload());
    // Another owner claimed it long ago and vanished.
    store.claim_due({"crashed-owner", 0, 1, 1}, [](auto) {});
    Dispatcher dispatcher(store, transport, fast_options());

    dispatcher.start();
    ASSERT_TRUE(store.wait_for_records(has_records(1)));
    dispatcher.stop(seconds{5});

    const auto records = store.records();
    EXPECT_EQ(records[0].next_status, store::Status::sent);
    EXPECT_EQ(records[0].lease_token, 2);
}

TEST(Dispatcher, KeepsPollingAfterClaimsFail) {
    FakeStore store;
    FakeTransport transport;
    store.fail_next_claims(3);
    store.add("n-1", payload());
    Dispatcher dispatcher(store, transport, fast_options());

    dispatcher.start();
    ASSERT_TRUE(store.wait_for_records(has_records(1)));
    dispatcher.stop(seconds{5});

    EXPECT_EQ(store.records()[0].next_status, store::Status::sent);
}

TEST(Dispatcher, DropsTheResultWhenAnotherOwnerTookTheEntryOver) {
    FakeStore store;
    FakeTransport transport;
    transport.hold = true;
    store.add("n-1", payload());
    auto now = std::make_shared<std::atomic<core::UnixMs>>(1'000'000);
    DispatcherOptions options = fast_options();
    options.clock = [now] { return now->load(); };
    Dispatcher dispatcher(store, transport, options);
    dispatcher.start();
    ASSERT_TRUE(transport.wait_for_held(1));

    // The lease runs out while the send hangs, and another instance claims the entry.
    *now += 3'600'000;
    std::promise<std::size_t> taken;
    store.claim_due({"other-owner", now->load(), 1, 60000},
                    [&](auto claimed) { taken.set_value(claimed ? claimed->size() : 0); });
    ASSERT_EQ(taken.get_future().get(), 1u);
    transport.release();
    ASSERT_TRUE(transport.wait_until_idle());
    dispatcher.stop(seconds{5});

    EXPECT_TRUE(store.records().empty());  // the stale owner's result was refused
    EXPECT_EQ(store.entry("n-1").owner, "other-owner");
    EXPECT_EQ(store.entry("n-1").claim.lease_token, 2);
}

auto has_record_for(std::string id) {
    return [id = std::move(id)](const std::vector<store::AttemptRecord>& records) {
        return std::any_of(records.begin(), records.end(), [&](const store::AttemptRecord& r) {
            return r.id == id;
        });
    };
}

TEST(Dispatcher, RetriesARecordTheStoreRefusedAndNeverSendsTwice) {
    FakeStore store;
    FakeTransport transport;
    store.fail_next_records(3, store::StoreError::overloaded);
    store.add("n-1", payload());
    DispatcherOptions options = fast_options();
    options.record_retry_base = milliseconds{1};
    options.record_retry_max = milliseconds{2};
    // Every reading is an hour later: each claim finds the lease of the unrecorded entry expired,
    // as it would after a long store outage. The entry must still go out once.
    auto now = std::make_shared<std::atomic<core::UnixMs>>(1'000'000);
    options.clock = [now] { return now->fetch_add(3'600'000); };
    Dispatcher dispatcher(store, transport, options);

    dispatcher.start();
    ASSERT_TRUE(store.wait_for_records(has_records(1)));
    ASSERT_TRUE(store.wait_for_claims(store.claims() + 3));  // more chances to send it again
    dispatcher.stop(seconds{5});

    EXPECT_EQ(transport.sent().size(), 1u);
    EXPECT_EQ(store.record_calls(), 4);
    const auto records = store.records();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].outcome, "sent");
    EXPECT_EQ(records[0].next_status, store::Status::sent);
    EXPECT_EQ(records[0].lease_token, store.entry("n-1").claim.lease_token);
    EXPECT_EQ(store.entry("n-1").status, store::Status::sent);
}

TEST(Dispatcher, KeepsTheSlotOfAnAttemptWhoseRecordIsRetried) {
    FakeStore store;
    FakeTransport transport;
    store.fail_next_records(1, store::StoreError::unavailable);
    store.add("n-1", payload());
    store.add("n-2", payload());
    // How many outcomes were recorded when each send started (on the transport's one thread).
    std::vector<std::size_t> recorded_before_send;
    transport.answer = [&](const OutboundMessage&) {
        recorded_before_send.push_back(store.records().size());
        SendResult sent;
        sent.outcome = AttemptOutcome::sent;
        return sent;
    };
    DispatcherOptions options = fast_options();
    options.concurrency = 1;
    options.record_retry_base = milliseconds{1};
    options.record_retry_max = milliseconds{2};
    Dispatcher dispatcher(store, transport, options);

    dispatcher.start();
    ASSERT_TRUE(store.wait_for_records(has_record_for("n-2")));
    ASSERT_TRUE(transport.wait_until_idle());
    dispatcher.stop(seconds{5});

    EXPECT_EQ(recorded_before_send, (std::vector<std::size_t>{0, 1}));
    const auto records = store.records();
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].id, "n-1");
    EXPECT_EQ(records[1].id, "n-2");
    EXPECT_EQ(store.record_calls(), 3);
}

TEST(Dispatcher, KeepsRetryingARecordThroughTheDrain) {
    FakeStore store;
    FakeTransport transport;
    transport.hold = true;
    store.fail_next_records(3, store::StoreError::unavailable);
    store.add("n-1", payload());
    DispatcherOptions options = fast_options();
    options.record_retry_base = milliseconds{1};
    options.record_retry_max = milliseconds{2};
    Dispatcher dispatcher(store, transport, options);
    dispatcher.start();
    ASSERT_TRUE(transport.wait_for_held(1));

    std::thread stopper([&] { dispatcher.stop(seconds{30}); });
    transport.release();
    stopper.join();

    const auto records = store.records();
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].next_status, store::Status::sent);
    EXPECT_EQ(store.record_calls(), 4);
    EXPECT_EQ(store.entry("n-1").status, store::Status::sent);
}

TEST(Dispatcher, GivesUpAnUnrecordedOutcomeAfterTheDrainAndReleasesTheLease) {
    FakeStore store;
    FakeTransport transport;
    store.fail_next_records(1'000'000, store::StoreError::unavailable);
    store.add("n-1", payload());
    DispatcherOptions options = fast_options();
    // The next try would be an hour away: stop must not wait for it.
    options.record_retry_base = std::chrono::hours{1};
    options.record_retry_max = std::chrono::hours{1};
    Dispatcher dispatcher(store, transport, options);
    dispatcher.start();
    ASSERT_TRUE(store.wait_for_record_calls(1));

    dispatcher.stop(milliseconds{50});

    EXPECT_EQ(store.record_calls(), 1);
    EXPECT_TRUE(store.records().empty());
    EXPECT_EQ(store.releases(), 1);
    EXPECT_EQ(store.entry("n-1").status, store::Status::queued);  // sent again after a restart
    EXPECT_TRUE(store.entry("n-1").owner.empty());
    EXPECT_EQ(transport.sent().size(), 1u);
}

}  // namespace
}  // namespace herald::delivery
