#include "store/sqlite/sqlite_store.hpp"

#include "test_support.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace herald::store::sqlite {
namespace {

using testing::Pending;
using testing::ScratchDir;

constexpr auto kLiveness = std::chrono::seconds(60);

NewNotification notification(std::string id, UnixMs due_at = 1000, std::string client = "billing") {
    NewNotification n;
    n.id = std::move(id);
    n.client = std::move(client);
    n.message_id = "<" + n.id + "@herald.test>";
    n.payload = R"({"subject":"hello"})";
    n.created_at = 900;
    n.due_at = due_at;
    return n;
}

AttemptRecord outcome(const ClaimedEntry& entry,
                      Status next_status,
                      std::string detail = {},
                      UnixMs next_due_at = 0) {
    AttemptRecord record;
    record.id = entry.id;
    record.lease_token = entry.lease_token;
    record.started_at = 2000;
    record.finished_at = 2100;
    record.outcome = next_status == Status::sent ? "sent" : "transient";
    record.detail = std::move(detail);
    record.next_status = next_status;
    record.next_due_at = next_due_at;
    return record;
}

// Holds SQLite's write lock from a connection of the test's own, so the store's writer waits in
// BEGIN IMMEDIATE (its busy timeout is long) until release(). Lets a test pile up writes.
class WriteLock {
public:
    explicit WriteLock(const std::string& path) {
        EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
        EXPECT_EQ(sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    }
    WriteLock(const WriteLock&) = delete;
    WriteLock& operator=(const WriteLock&) = delete;
    ~WriteLock() {
        release();
        sqlite3_close(db_);
    }

    void release() {
        if (!held_) {
            return;
        }
        held_ = false;
        EXPECT_EQ(sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
    }

private:
    sqlite3* db_ = nullptr;
    bool held_ = true;
};

class SqliteStoreTest : public ::testing::Test {
protected:
    std::string db_path() const { return (dir_.path() / "herald.db").string(); }

    std::unique_ptr<SqliteStore> open_store(StoreOptions options = {}) {
        auto opened = SqliteStore::open(db_path(), options);
        if (!opened) {
            ADD_FAILURE() << opened.error();
            return nullptr;
        }
        return std::move(*opened);
    }

    void SetUp() override {
        store_ = open_store();
        ASSERT_NE(store_, nullptr);
    }

    boost::system::result<InsertOutcome> insert_with_outcome(NewNotification n) {
        Pending<InsertOutcome> done;
        store_->insert(std::move(n), done.callback());
        return done.get();
    }

    // Inserts a notification expected to be created (no idempotency record held).
    boost::system::result<NotificationView> insert(NewNotification n) {
        auto outcome = insert_with_outcome(std::move(n));
        if (!outcome) {
            return outcome.error();
        }
        EXPECT_EQ(outcome->kind, InsertOutcome::Kind::created);
        return std::move(outcome->notification);
    }

    boost::system::result<int> sweep(UnixMs now, int limit) {
        Pending<int> done;
        store_->sweep_idempotency(now, limit, done.callback());
        return done.get();
    }

    boost::system::result<NotificationView> find(std::string id, std::string client = "") {
        Pending<NotificationView> done;
        store_->find(std::move(id), std::move(client), done.callback());
        return done.get();
    }

    std::vector<ClaimedEntry> claim(std::string owner,
                                    UnixMs now,
                                    int limit = 10,
                                    std::int64_t lease_ms = 60000) {
        Pending<std::vector<ClaimedEntry>> done;
        store_->claim_due({std::move(owner), now, limit, lease_ms}, done.callback());
        auto claimed = done.get();
        EXPECT_TRUE(claimed) << claimed.error().message();
        return claimed ? *claimed : std::vector<ClaimedEntry>{};
    }

    boost::system::result<void> record(AttemptRecord attempt) {
        Pending<void> done;
        store_->record_attempt(std::move(attempt), done.callback());
        return done.get();
    }

    boost::system::result<int> release(std::string owner) {
        Pending<int> done;
        store_->release_leases(std::move(owner), done.callback());
        return done.get();
    }

    // Waits until the writer has taken every queued write (it may still be running them).
    void wait_until_writer_took_everything() {
        const auto give_up = std::chrono::steady_clock::now() + kLiveness;
        while (store_->stats().queued_writes != 0) {
            ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "the writer never took work";
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

    ScratchDir dir_;
    std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, InsertedNotificationIsFoundWithItsFields) {
    auto inserted = insert(notification("n1", 1500));
    ASSERT_TRUE(inserted) << inserted.error().message();
    EXPECT_EQ(inserted->status, Status::queued);
    EXPECT_EQ(inserted->next_attempt_at, 1500);

    auto found = find("n1");
    ASSERT_TRUE(found) << found.error().message();
    EXPECT_EQ(found->id, "n1");
    EXPECT_EQ(found->client, "billing");
    EXPECT_EQ(found->message_id, "<n1@herald.test>");
    EXPECT_EQ(found->status, Status::queued);
    EXPECT_EQ(found->attempts, 0);
    EXPECT_EQ(found->created_at, 900);
    EXPECT_EQ(found->updated_at, 900);
    EXPECT_FALSE(found->sent_at.has_value());
    EXPECT_EQ(found->next_attempt_at, 1500);
    EXPECT_EQ(found->last_error, "");
    EXPECT_TRUE(found->attempt_log.empty());
}

TEST_F(SqliteStoreTest, InsertedNotificationSurvivesClosingAndReopening) {
    ASSERT_TRUE(insert(notification("n1")));
    store_.reset();

    store_ = open_store();
    ASSERT_NE(store_, nullptr);
    auto found = find("n1");
    ASSERT_TRUE(found) << found.error().message();
    EXPECT_EQ(found->status, Status::queued);

    auto claimed = claim("a", 1000);
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed[0].payload, R"({"subject":"hello"})");
}

TEST_F(SqliteStoreTest, FindWithAnotherClientGivesNotFound) {
    ASSERT_TRUE(insert(notification("n1")));

    EXPECT_EQ(find("n1", "marketing").error(), StoreError::not_found);
    EXPECT_TRUE(find("n1", "billing"));
    EXPECT_TRUE(find("n1", ""));
    EXPECT_EQ(find("missing").error(), StoreError::not_found);
}

TEST_F(SqliteStoreTest, InsertingAnExistingIdGivesAlreadyExists) {
    ASSERT_TRUE(insert(notification("n1")));
    EXPECT_EQ(insert(notification("n1")).error(), StoreError::already_exists);
}

TEST_F(SqliteStoreTest, ClaimReturnsDueEntriesOldestFirstAndLeasesThem) {
    ASSERT_TRUE(insert(notification("later", 200)));
    ASSERT_TRUE(insert(notification("earlier", 100)));
    ASSERT_TRUE(insert(notification("future", 10000)));

    auto claimed = claim("a", 500);
    ASSERT_EQ(claimed.size(), 2u);
    EXPECT_EQ(claimed[0].id, "earlier");
    EXPECT_EQ(claimed[1].id, "later");
    EXPECT_EQ(claimed[0].client, "billing");
    EXPECT_EQ(claimed[0].message_id, "<earlier@herald.test>");
    EXPECT_EQ(claimed[0].attempts, 0);
    EXPECT_EQ(claimed[0].created_at, 900);
    EXPECT_EQ(claimed[0].lease_token, 1);
    EXPECT_FALSE(claimed[0].taken_over);

    auto found = find("earlier");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->status, Status::sending);
    EXPECT_EQ(found->updated_at, 500);
    EXPECT_FALSE(found->next_attempt_at.has_value());

    EXPECT_TRUE(claim("b", 500).empty());
    EXPECT_EQ(find("future")->status, Status::queued);
}

TEST_F(SqliteStoreTest, ClaimTakesNoMoreThanTheLimit) {
    ASSERT_TRUE(insert(notification("n1", 100)));
    ASSERT_TRUE(insert(notification("n2", 200)));
    ASSERT_TRUE(insert(notification("n3", 300)));

    auto first = claim("a", 1000, 2);
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0].id, "n1");
    EXPECT_EQ(first[1].id, "n2");
    auto rest = claim("a", 1000, 2);
    ASSERT_EQ(rest.size(), 1u);
    EXPECT_EQ(rest[0].id, "n3");
    EXPECT_TRUE(claim("a", 1000, 0).empty());
}

TEST_F(SqliteStoreTest, ExpiredLeaseIsTakenOverWithALargerToken) {
    ASSERT_TRUE(insert(notification("n1", 100)));
    auto first = claim("a", 1000, 10, 100);
    ASSERT_EQ(first.size(), 1u);

    EXPECT_TRUE(claim("b", 1099).empty());  // lease still running

    auto second = claim("b", 1100);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0].id, "n1");
    EXPECT_GT(second[0].lease_token, first[0].lease_token);
    EXPECT_TRUE(second[0].taken_over);
}

TEST_F(SqliteStoreTest, RecordWithAStaleTokenGivesStaleLeaseAndChangesNothing) {
    ASSERT_TRUE(insert(notification("n1", 100)));
    auto first = claim("a", 1000, 10, 100);
    ASSERT_EQ(first.size(), 1u);
    auto second = claim("b", 2000);
    ASSERT_EQ(second.size(), 1u);

    EXPECT_EQ(record(outcome(first[0], Status::sent)).error(), StoreError::stale_lease);

    auto found = find("n1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->status, Status::sending);
    EXPECT_EQ(found->attempts, 0);
    EXPECT_FALSE(found->sent_at.has_value());
    EXPECT_TRUE(found->attempt_log.empty());

    // The newest holder still can.
    EXPECT_TRUE(record(outcome(second[0], Status::sent)));
    EXPECT_EQ(find("n1")->status, Status::sent);
}

TEST_F(SqliteStoreTest, RecordForAnUnknownIdGivesNotFound) {
    AttemptRecord attempt;
    attempt.id = "missing";
    attempt.lease_token = 1;
    EXPECT_EQ(record(attempt).error(), StoreError::not_found);
}

TEST_F(SqliteStoreTest, RetryingReschedulesTheEntryAndFreesTheLease) {
    ASSERT_TRUE(insert(notification("n1", 100)));
    auto claimed = claim("a", 1000);
    ASSERT_EQ(claimed.size(), 1u);

    ASSERT_TRUE(record(outcome(claimed[0], Status::retrying, "421 try later", 5000)));

    auto found = find("n1");
    ASSERT_TRUE(found);
    EXPECT_EQ(found->status, Status::retrying);
    EXPECT_EQ(found->attempts, 1);
    EXPECT_EQ(found->last_error, "421 try later");
    EXPECT_EQ(found->next_attempt_at, 5000);
    EXPECT_EQ(found->updated_at, 2100);
    ASSERT_EQ(found->attempt_log.size(), 1u);
    EXPECT_EQ(found->attempt_log[0].number, 1);
    EXPECT_EQ(found->attempt_log[0].started_at, 2000);
    EXPECT_EQ(found->attempt_log[0].finished_at, 2100);
    EXPECT_EQ(found->attempt_log[0].outcome, "transient");
    EXPECT_EQ(found->attempt_log[0].detail, "421 try later");

    EXPECT_TRUE(claim("a", 4999).empty());
    auto again = claim("b", 5000);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].attempts, 1);
    EXPECT_FALSE(again[0].taken_over);
    EXPECT_GT(again[0].lease_token, claimed[0].lease_token);
}

TEST_F(SqliteStoreTest, SentAndFailedRemoveTheOutboxEntry) {
    ASSERT_TRUE(insert(notification("ok", 100)));
    ASSERT_TRUE(insert(notification("bad", 100)));
    auto claimed = claim("a", 1000);
    ASSERT_EQ(claimed.size(), 2u);
    const ClaimedEntry& ok = claimed[0].id == "ok" ? claimed[0] : claimed[1];
    const ClaimedEntry& bad = claimed[0].id == "ok" ? claimed[1] : claimed[0];

    ASSERT_TRUE(record(outcome(ok, Status::sent)));
    ASSERT_TRUE(record(outcome(bad, Status::failed, "550 no such user")));

    auto sent = find("ok");
    ASSERT_TRUE(sent);
    EXPECT_EQ(sent->status, Status::sent);
    EXPECT_EQ(sent->sent_at, 2100);
    EXPECT_EQ(sent->attempts, 1);
    EXPECT_EQ(sent->last_error, "");
    EXPECT_FALSE(sent->next_attempt_at.has_value());

    auto failed = find("bad");
    ASSERT_TRUE(failed);
    EXPECT_EQ(failed->status, Status::failed);
    EXPECT_EQ(failed->last_error, "550 no such user");
    EXPECT_FALSE(failed->sent_at.has_value());
    EXPECT_FALSE(failed->next_attempt_at.has_value());

    EXPECT_TRUE(claim("a", 1'000'000'000).empty());
    EXPECT_EQ(record(outcome(ok, Status::sent)).error(), StoreError::stale_lease);
}

TEST_F(SqliteStoreTest, ReleaseLeasesReturnsTheOwnersEntriesToTheQueue) {
    ASSERT_TRUE(insert(notification("fresh", 100)));
    ASSERT_TRUE(insert(notification("retried", 100)));
    auto first = claim("a", 1000);
    ASSERT_EQ(first.size(), 2u);
    const ClaimedEntry& retried = first[0].id == "retried" ? first[0] : first[1];
    ASSERT_TRUE(record(outcome(retried, Status::retrying, "timeout", 1000)));
    ASSERT_EQ(claim("a", 1000).size(), 1u);  // retried, again
    ASSERT_TRUE(insert(notification("others", 100)));
    ASSERT_EQ(claim("b", 1000).size(), 1u);

    auto released = release("a");
    ASSERT_TRUE(released) << released.error().message();
    EXPECT_EQ(*released, 2);

    EXPECT_EQ(find("fresh")->status, Status::queued);
    EXPECT_EQ(find("retried")->status, Status::retrying);
    EXPECT_EQ(find("others")->status, Status::sending);
    auto reclaimed = claim("c", 1000);
    ASSERT_EQ(reclaimed.size(), 2u);
    EXPECT_FALSE(reclaimed[0].taken_over);
    EXPECT_FALSE(reclaimed[1].taken_over);

    EXPECT_EQ(*release("nobody"), 0);
}

TEST_F(SqliteStoreTest, PingSucceeds) {
    Pending<void> done;
    store_->ping(done.callback());
    EXPECT_TRUE(done.get());
}

TEST_F(SqliteStoreTest, FullQueueRefusesInsertsAtOnceWithOverloaded) {
    store_.reset();
    store_ = open_store({.max_batch = 256, .max_queue = 2, .busy_timeout = kLiveness});
    ASSERT_NE(store_, nullptr);

    WriteLock lock(db_path());
    Pending<InsertOutcome> stuck;
    store_->insert(notification("stuck"), stuck.callback());
    wait_until_writer_took_everything();  // the writer now waits for the lock

    Pending<InsertOutcome> first;
    Pending<InsertOutcome> second;
    Pending<InsertOutcome> refused;
    store_->insert(notification("first"), first.callback());
    store_->insert(notification("second"), second.callback());
    store_->insert(notification("refused"), refused.callback());
    ASSERT_TRUE(refused.ready());  // called back before insert() returned
    EXPECT_EQ(refused.get().error(), StoreError::overloaded);

    lock.release();
    EXPECT_TRUE(stuck.get());
    EXPECT_TRUE(first.get());
    EXPECT_TRUE(second.get());
    EXPECT_EQ(find("refused").error(), StoreError::not_found);
}

TEST_F(SqliteStoreTest, DispatcherWritesAreQueuedWhileInsertsAreRefused) {
    store_.reset();
    store_ = open_store({.max_batch = 256, .max_queue = 2, .busy_timeout = kLiveness});
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(insert(notification("leased")));
    const auto leased = claim("a", 1000);
    ASSERT_EQ(leased.size(), 1u);

    WriteLock lock(db_path());
    Pending<InsertOutcome> stuck;
    store_->insert(notification("stuck"), stuck.callback());
    wait_until_writer_took_everything();  // the writer now waits for the lock

    // The dispatcher's writes are queued and take none of the intake's room.
    Pending<void> recorded;
    Pending<std::vector<ClaimedEntry>> claimed;
    store_->record_attempt(outcome(leased[0], Status::sent), recorded.callback());
    store_->claim_due({"a", 1000, 10, 60000}, claimed.callback());
    Pending<InsertOutcome> first;
    Pending<InsertOutcome> second;
    Pending<InsertOutcome> refused;
    store_->insert(notification("first"), first.callback());
    store_->insert(notification("second"), second.callback());
    store_->insert(notification("refused"), refused.callback());
    // Intake is full now, and the dispatcher's writes are still taken.
    Pending<void> recorded_again;
    Pending<int> released;
    store_->record_attempt(outcome(leased[0], Status::sent), recorded_again.callback());
    store_->release_leases("a", released.callback());

    ASSERT_TRUE(refused.ready());
    EXPECT_EQ(refused.get().error(), StoreError::overloaded);
    EXPECT_FALSE(recorded.ready());
    EXPECT_FALSE(claimed.ready());
    EXPECT_FALSE(recorded_again.ready());
    EXPECT_FALSE(released.ready());
    EXPECT_EQ(store_->stats().queued_writes, 6u);

    lock.release();
    EXPECT_TRUE(stuck.get());
    const auto recorded_outcome = recorded.get();
    EXPECT_TRUE(recorded_outcome) << recorded_outcome.error().message();
    const auto claimed_outcome = claimed.get();
    ASSERT_TRUE(claimed_outcome) << claimed_outcome.error().message();
    EXPECT_EQ(claimed_outcome->size(), 1u);  // "stuck"; the leased one was sent
    EXPECT_TRUE(first.get());
    EXPECT_TRUE(second.get());
    EXPECT_EQ(recorded_again.get().error(), StoreError::stale_lease);  // already recorded
    EXPECT_EQ(released.get().value(), 1);
    EXPECT_EQ(find("leased")->status, Status::sent);
    EXPECT_EQ(find("stuck")->status, Status::queued);
    EXPECT_EQ(find("refused").error(), StoreError::not_found);
}

TEST_F(SqliteStoreTest, DatabaseLockedPastTheBusyTimeoutGivesUnavailable) {
    store_.reset();
    store_ = open_store({.max_batch = 256, .max_queue = 100, .busy_timeout = {}});
    ASSERT_NE(store_, nullptr);

    WriteLock lock(db_path());
    EXPECT_EQ(insert(notification("n1")).error(), StoreError::unavailable);
    lock.release();

    EXPECT_TRUE(insert(notification("n1")));  // nothing of the failed write was left behind
    EXPECT_TRUE(find("n1"));
}

TEST_F(SqliteStoreTest, CallsAfterShutdownGetShuttingDown) {
    store_->shutdown();

    Pending<InsertOutcome> inserted;
    store_->insert(notification("n1"), inserted.callback());
    ASSERT_TRUE(inserted.ready());
    EXPECT_EQ(inserted.get().error(), StoreError::shutting_down);

    Pending<NotificationView> found;
    store_->find("n1", "", found.callback());
    EXPECT_EQ(found.get().error(), StoreError::shutting_down);
    Pending<void> pinged;
    store_->ping(pinged.callback());
    EXPECT_EQ(pinged.get().error(), StoreError::shutting_down);

    store_->shutdown();  // idempotent
}

TEST_F(SqliteStoreTest, ShutdownFinishesQueuedWrites) {
    constexpr int kCount = 200;
    std::vector<Pending<InsertOutcome>> inserts(kCount);
    for (int i = 0; i < kCount; ++i) {
        store_->insert(notification("n" + std::to_string(i)), inserts[i].callback());
    }
    store_->shutdown();
    for (auto& inserted : inserts) {
        ASSERT_TRUE(inserted.ready());
        EXPECT_TRUE(inserted.get());
    }

    store_ = open_store();
    ASSERT_NE(store_, nullptr);
    EXPECT_EQ(claim("a", 1000, kCount + 1).size(), static_cast<std::size_t>(kCount));
}

TEST_F(SqliteStoreTest, ConcurrentInsertsShareCommits) {
    constexpr int kThreads = 8;
    constexpr int kPerThread = 125;
    std::vector<Pending<InsertOutcome>> inserts(kThreads * kPerThread);
    const StoreStats before = store_->stats();

    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([this, t, &inserts] {
            for (int i = 0; i < kPerThread; ++i) {
                const int index = t * kPerThread + i;
                store_->insert(notification("n" + std::to_string(index)),
                               inserts[index].callback());
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    int succeeded = 0;
    for (auto& inserted : inserts) {
        succeeded += inserted.get() ? 1 : 0;
    }

    const StoreStats after = store_->stats();
    RecordProperty("commits", std::to_string(after.commits - before.commits));
    EXPECT_EQ(succeeded, kThreads * kPerThread);
    EXPECT_EQ(after.writes - before.writes, static_cast<std::uint64_t>(kThreads * kPerThread));
    EXPECT_LT(after.commits - before.commits, static_cast<std::uint64_t>(kThreads * kPerThread));
    EXPECT_EQ(claim("a", 1000, 2000).size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST_F(SqliteStoreTest, FailingWriteDoesNotUndoItsBatchMates) {
    store_.reset();
    store_ = open_store({.max_batch = 256, .max_queue = 100, .busy_timeout = kLiveness});
    ASSERT_NE(store_, nullptr);
    ASSERT_TRUE(insert(notification("existing")));

    WriteLock lock(db_path());
    Pending<InsertOutcome> stuck;
    store_->insert(notification("stuck"), stuck.callback());
    wait_until_writer_took_everything();

    // These three now wait together and will be taken as one batch.
    Pending<InsertOutcome> before_it;
    Pending<InsertOutcome> duplicate;
    Pending<InsertOutcome> after_it;
    store_->insert(notification("before"), before_it.callback());
    store_->insert(notification("existing"), duplicate.callback());
    store_->insert(notification("after"), after_it.callback());
    const StoreStats queued = store_->stats();

    lock.release();
    EXPECT_TRUE(stuck.get());
    EXPECT_TRUE(before_it.get());
    EXPECT_EQ(duplicate.get().error(), StoreError::already_exists);
    EXPECT_TRUE(after_it.get());
    EXPECT_EQ(store_->stats().commits - queued.commits, 2u);  // "stuck", then the three

    EXPECT_TRUE(find("before"));
    EXPECT_TRUE(find("after"));
    EXPECT_EQ(claim("a", 1000).size(), 4u);
}

NewNotification keyed(std::string id,
                      std::string key,
                      std::string fingerprint,
                      UnixMs expires_at = 100000,
                      DedupKind kind = DedupKind::key) {
    NewNotification n = notification(std::move(id));
    n.idempotency = IdempotencyRecord{kind,
                                      std::move(key),
                                      std::move(fingerprint),
                                      expires_at,
                                      202,
                                      R"({"id":")" + n.id + R"(","status":"queued"})"};
    return n;
}

TEST_F(SqliteStoreTest, SameKeyAndFingerprintReplaysTheFirstResponseWithoutStoringAgain) {
    ASSERT_TRUE(insert(keyed("first", "k1", "fp")));

    auto again = insert_with_outcome(keyed("second", "k1", "fp"));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->kind, InsertOutcome::Kind::replayed);
    EXPECT_EQ(again->notification.id, "first");
    EXPECT_EQ(again->response_status, 202);
    EXPECT_EQ(again->response_body, R"({"id":"first","status":"queued"})");
    EXPECT_EQ(find("second").error(), StoreError::not_found);
    EXPECT_EQ(claim("a", 1000).size(), 1u);
}

TEST_F(SqliteStoreTest, SameKeyWithAnotherFingerprintIsAConflictThatStoresNothing) {
    ASSERT_TRUE(insert(keyed("first", "k1", "fp")));

    auto other = insert_with_outcome(keyed("second", "k1", "another"));
    ASSERT_TRUE(other);
    EXPECT_EQ(other->kind, InsertOutcome::Kind::conflict);
    EXPECT_EQ(other->notification.id, "first");
    EXPECT_EQ(find("second").error(), StoreError::not_found);
}

TEST_F(SqliteStoreTest, KeysAreScopedByClientAndKind) {
    ASSERT_TRUE(insert(keyed("first", "k1", "fp")));

    NewNotification other_client = keyed("second", "k1", "fp");
    other_client.client = "shipping";
    auto created = insert_with_outcome(std::move(other_client));
    ASSERT_TRUE(created);
    EXPECT_EQ(created->kind, InsertOutcome::Kind::created);

    auto content = insert_with_outcome(keyed("third", "k1", "fp", 100000, DedupKind::content));
    ASSERT_TRUE(content);
    EXPECT_EQ(content->kind, InsertOutcome::Kind::created);
}

TEST_F(SqliteStoreTest, ExpiredKeyIsReplacedByTheNextRequest) {
    ASSERT_TRUE(insert(keyed("first", "k1", "fp", 950)));  // created at 900, expires at 950

    NewNotification after_expiry = keyed("second", "k1", "other", 2000);
    after_expiry.created_at = 950;
    auto later = insert_with_outcome(after_expiry);
    ASSERT_TRUE(later);
    EXPECT_EQ(later->kind, InsertOutcome::Kind::created);
    NewNotification same = keyed("third", "k1", "other", 2000);
    same.created_at = 960;
    auto replay = insert_with_outcome(std::move(same));
    ASSERT_TRUE(replay);
    EXPECT_EQ(replay->kind, InsertOutcome::Kind::replayed);
    EXPECT_EQ(replay->notification.id, "second");
}

TEST_F(SqliteStoreTest, RequestsWithOneKeyInOneBatchCreateOneNotification) {
    WriteLock lock(db_path());
    Pending<InsertOutcome> stuck;
    store_->insert(notification("stuck"), stuck.callback());
    wait_until_writer_took_everything();

    constexpr int kCount = 50;
    std::vector<Pending<InsertOutcome>> racing(kCount);
    for (int i = 0; i < kCount; ++i) {
        store_->insert(keyed("n" + std::to_string(i), "shared", "fp"), racing[i].callback());
    }
    lock.release();
    ASSERT_TRUE(stuck.get());

    int created = 0;
    std::set<std::string> ids;
    for (auto& outcome : racing) {
        auto got = outcome.get();
        ASSERT_TRUE(got);
        created += got->kind == InsertOutcome::Kind::created ? 1 : 0;
        ids.insert(got->notification.id);
    }
    EXPECT_EQ(created, 1);
    EXPECT_EQ(ids, std::set<std::string>{"n0"});
    EXPECT_EQ(claim("a", 1000, 100).size(), 2u);  // "stuck" and "n0"
}

TEST_F(SqliteStoreTest, SweepDeletesOnlyExpiredKeysInBoundedSteps) {
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(
            insert(keyed("old" + std::to_string(i), "old" + std::to_string(i), "fp", 1000)));
    }
    ASSERT_TRUE(insert(keyed("fresh", "fresh", "fp", 5000)));

    EXPECT_EQ(sweep(2000, 3).value(), 3);
    EXPECT_EQ(sweep(2000, 3).value(), 2);
    EXPECT_EQ(sweep(2000, 3).value(), 0);

    auto kept = insert_with_outcome(keyed("again", "fresh", "fp", 5000));
    ASSERT_TRUE(kept);
    EXPECT_EQ(kept->kind, InsertOutcome::Kind::replayed);
    EXPECT_TRUE(find("old0"));  // sweeping keys never removes notifications
}

// The queue discipline: the writer is held on SQLite's lock with one single-write batch taken,
// while three more intake writes queue behind it; releasing the lock lets it take again.
class QueueDisciplineTest : public SqliteStoreTest {
protected:
    // Completes the held write, then the three queued ones, and returns their names in the order
    // the store answered them, with each outcome.
    std::vector<std::pair<std::string, bool>> run_held_then_three(StoreOptions options,
                                                                  std::chrono::milliseconds hold) {
        store_.reset();
        store_ = open_store(options);
        EXPECT_NE(store_, nullptr);
        std::mutex mutex;
        std::vector<std::pair<std::string, bool>> order;
        std::vector<std::unique_ptr<Pending<InsertOutcome>>> pending;
        auto submit = [&](const std::string& id) {
            pending.push_back(std::make_unique<Pending<InsertOutcome>>());
            auto done = pending.back()->callback();
            store_->insert(notification(id),
                           [&, id, done](boost::system::result<InsertOutcome> outcome) {
                               {
                                   std::lock_guard lock(mutex);
                                   order.emplace_back(id, outcome.has_value());
                               }
                               done(std::move(outcome));
                           });
        };
        {
            WriteLock lock(db_path());
            submit("held");
            wait_until_writer_took_everything();
            submit("b");
            submit("c");
            submit("d");
            std::this_thread::sleep_for(hold);
        }
        for (auto& each : pending) {
            each->get();
        }
        return order;
    }
};

TEST_F(QueueDisciplineTest, StandingQueueServesTheNewestIntakeWriteFirst) {
    const auto order = run_held_then_three({.max_batch = 1,
                                            .busy_timeout = kLiveness,
                                            .queue_target = std::chrono::milliseconds{60000},
                                            .queue_interval = std::chrono::milliseconds{10}},
                                           std::chrono::milliseconds{100});
    const std::vector<std::pair<std::string, bool>> expected = {
        {"held", true}, {"d", true}, {"c", true}, {"b", true}};
    EXPECT_EQ(order, expected);
}

// A write is shed once it has waited longer than the target plus one batch's write time: the
// three queued behind the held batch waited about as long as that batch took, so the newest is
// still written first; the two left have then waited through a second batch, and are shed.
TEST_F(QueueDisciplineTest, StandingQueueShedsIntakeWritesThatWaitedBeyondTheTarget) {
    const auto order = run_held_then_three({.max_batch = 1,
                                            .busy_timeout = kLiveness,
                                            .queue_target = std::chrono::milliseconds{20},
                                            .queue_interval = std::chrono::milliseconds{10}},
                                           std::chrono::milliseconds{300});
    const std::vector<std::pair<std::string, bool>> expected = {
        {"held", true}, {"d", true}, {"b", false}, {"c", false}};
    EXPECT_EQ(order, expected);
    EXPECT_EQ(find("b").error(), StoreError::not_found);
    EXPECT_EQ(store_->stats().shed_writes, 2u);
}

TEST_F(QueueDisciplineTest, ASlowCommitAloneIsNoOverload) {
    const auto order = run_held_then_three({.max_batch = 256,
                                            .busy_timeout = kLiveness,
                                            .queue_target = std::chrono::milliseconds{1},
                                            .queue_interval = std::chrono::milliseconds{10}},
                                           std::chrono::milliseconds{200});
    const std::vector<std::pair<std::string, bool>> expected = {
        {"held", true}, {"b", true}, {"c", true}, {"d", true}};
    EXPECT_EQ(order, expected);
    EXPECT_EQ(store_->stats().shed_writes, 0u);
}

TEST(WriteTicket, TheFirstOfClaimAndWithdrawWins) {
    WriteTicket claimed;
    EXPECT_TRUE(claimed.claim());
    EXPECT_FALSE(claimed.withdraw());
    EXPECT_FALSE(claimed.withdrawn());

    WriteTicket withdrawn;
    EXPECT_TRUE(withdrawn.withdraw());
    EXPECT_TRUE(withdrawn.withdraw());  // again: still not written
    EXPECT_FALSE(withdrawn.claim());
    EXPECT_TRUE(withdrawn.withdrawn());
}

TEST_F(SqliteStoreTest, WriteWhoseDeadlinePassedOrWhoseRequesterLeftIsAnsweredUnrun) {
    auto late = notification("late");
    late.deadline = std::chrono::steady_clock::now() - std::chrono::milliseconds{1};
    EXPECT_EQ(insert_with_outcome(late).error(), StoreError::deadline_expired);

    auto left = notification("left");
    left.ticket = std::make_shared<WriteTicket>();
    ASSERT_TRUE(left.ticket->withdraw());
    EXPECT_EQ(insert_with_outcome(left).error(), StoreError::abandoned);

    EXPECT_EQ(find("late").error(), StoreError::not_found);
    EXPECT_EQ(find("left").error(), StoreError::not_found);
    EXPECT_EQ(store_->stats().dropped_writes, 2u);
    EXPECT_TRUE(insert(notification("on-time")));
}

}  // namespace
}  // namespace herald::store::sqlite
