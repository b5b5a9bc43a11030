#include "test_support.hpp"

#include "store/sqlite/sqlite_store.hpp"
#include "store/sweeper.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace herald::store::sqlite {
namespace {

using testing::Pending;
using testing::ScratchDir;

NewNotification notification(std::string id,
                             std::optional<UnixMs> expires_at = std::nullopt,
                             UnixMs created_at = 900,
                             std::string client = "billing") {
    NewNotification n;
    n.id = std::move(id);
    n.client = std::move(client);
    n.message_id = n.id + "@herald.test";
    n.payload = R"({"subject":"hello"})";
    n.created_at = created_at;
    n.due_at = created_at;
    n.expires_at = expires_at;
    return n;
}

// Expiry, the dead-letter listing, retry and cancel against a real SQLite file.
class DeadLettersTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto opened = SqliteStore::open((dir_.path() / "herald.db").string(), {});
        ASSERT_TRUE(opened) << opened.error();
        store_ = std::move(*opened);
    }

    void insert(NewNotification n) {
        Pending<InsertOutcome> done;
        store_->insert(std::move(n), done.callback());
        auto outcome = done.get();
        ASSERT_TRUE(outcome) << outcome.error().message();
        ASSERT_EQ(outcome->kind, InsertOutcome::Kind::created);
    }

    NotificationView find(std::string id) {
        Pending<NotificationView> done;
        store_->find(std::move(id), "", done.callback());
        auto found = done.get();
        EXPECT_TRUE(found) << found.error().message();
        return found ? *found : NotificationView{};
    }

    std::vector<ClaimedEntry> claim(UnixMs now, int limit = 10) {
        Pending<std::vector<ClaimedEntry>> done;
        store_->claim_due({"owner", now, limit, 60000}, done.callback());
        auto claimed = done.get();
        EXPECT_TRUE(claimed) << claimed.error().message();
        return claimed ? *claimed : std::vector<ClaimedEntry>{};
    }

    void record(const ClaimedEntry& entry, Status next, UnixMs at, UnixMs next_due_at = 0) {
        AttemptRecord attempt;
        attempt.id = entry.id;
        attempt.lease_token = entry.lease_token;
        attempt.started_at = at;
        attempt.finished_at = at;
        attempt.outcome = next == Status::sent ? "sent" : "transient";
        attempt.detail = next == Status::sent ? "250 ok" : "HTTP 503";
        attempt.next_status = next;
        attempt.next_due_at = next_due_at;
        Pending<void> done;
        store_->record_attempt(std::move(attempt), done.callback());
        auto recorded = done.get();
        ASSERT_TRUE(recorded) << recorded.error().message();
    }

    // Inserts `id` and lets its only attempt fail it (status failed, one attempt logged).
    void insert_failed(const std::string& id, UnixMs created_at = 900) {
        insert(notification(id, std::nullopt, created_at));
        auto claimed = claim(created_at);
        ASSERT_EQ(claimed.size(), 1u);
        record(claimed[0], Status::failed, created_at + 1);
    }

    boost::system::result<std::vector<std::string>> expire(UnixMs now, int limit = 100) {
        Pending<std::vector<std::string>> done;
        store_->expire_due(now, limit, done.callback());
        return done.get();
    }

    boost::system::result<StatusChange> retry(std::string id,
                                              UnixMs now,
                                              std::optional<UnixMs> expires_at = std::nullopt,
                                              std::string client = "") {
        Pending<StatusChange> done;
        store_->retry({std::move(id), std::move(client), now, expires_at}, done.callback());
        return done.get();
    }

    boost::system::result<StatusChange> cancel(std::string id,
                                               UnixMs now,
                                               std::string client = "") {
        Pending<StatusChange> done;
        store_->cancel({std::move(id), std::move(client), now}, done.callback());
        return done.get();
    }

    boost::system::result<ListPage> list(ListQuery query) {
        Pending<ListPage> done;
        store_->list(std::move(query), done.callback());
        return done.get();
    }

    static std::vector<std::string> ids_of(const ListPage& page) {
        std::vector<std::string> ids;
        for (const auto& view : page.notifications) {
            ids.push_back(view.id);
        }
        return ids;
    }

    ScratchDir dir_;
    std::unique_ptr<SqliteStore> store_;
};

TEST_F(DeadLettersTest, ClaimNeverLeasesAnEntryAtOrPastItsExpiry) {
    insert(notification("stale", 1500));
    insert(notification("fresh", 5000));
    insert(notification("forever"));

    const auto claimed = claim(1500);
    std::set<std::string> ids;
    for (const auto& entry : claimed) {
        ids.insert(entry.id);
    }
    EXPECT_EQ(ids, (std::set<std::string>{"fresh", "forever"}));
    EXPECT_EQ(find("stale").status, Status::queued);
}

TEST_F(DeadLettersTest, ExpireMarksWaitingEntriesPastTheirExpiryExpiredAndRemovesThem) {
    insert(notification("retrying-stale", 1500));
    insert(notification("fresh", 5000));
    insert(notification("forever"));
    const auto claimed = claim(1000);
    ASSERT_EQ(claimed.size(), 3u);
    for (const auto& entry : claimed) {
        record(entry, Status::retrying, 1100, 1200);
    }
    insert(notification("queued-stale", 1500));

    // All wait unleased (three retrying, one queued); two have passed their expiry at 1500.
    auto expired = expire(1500);
    ASSERT_TRUE(expired) << expired.error().message();
    EXPECT_EQ(std::set<std::string>(expired->begin(), expired->end()),
              (std::set<std::string>{"queued-stale", "retrying-stale"}));

    const NotificationView gone = find("retrying-stale");
    EXPECT_EQ(gone.status, Status::expired);
    EXPECT_EQ(gone.updated_at, 1500);
    EXPECT_EQ(gone.last_error, "expired before it was sent; last attempt: HTTP 503");
    EXPECT_FALSE(gone.next_attempt_at.has_value());
    EXPECT_EQ(gone.expires_at, 1500);
    EXPECT_EQ(find("fresh").status, Status::retrying);

    // Gone from the outbox: nothing claims them, and a second expiry finds nothing.
    std::set<std::string> still_due;
    for (const auto& entry : claim(1600)) {
        still_due.insert(entry.id);
    }
    EXPECT_EQ(still_due, (std::set<std::string>{"fresh", "forever"}));
    EXPECT_TRUE(expire(1600)->empty());
}

TEST_F(DeadLettersTest, ExpireNeverTouchesALeasedEntryWhoseAttemptThenCompletes) {
    insert(notification("in-flight", 1500));
    auto claimed = claim(1000);
    ASSERT_EQ(claimed.size(), 1u);

    auto expired = expire(2000);
    ASSERT_TRUE(expired);
    EXPECT_TRUE(expired->empty());
    EXPECT_EQ(find("in-flight").status, Status::sending);

    record(claimed[0], Status::sent, 2100);
    EXPECT_EQ(find("in-flight").status, Status::sent);
}

TEST_F(DeadLettersTest, AnAttemptInFlightThatEndsInARetryIsExpiredAfterwards) {
    insert(notification("in-flight", 1500));
    auto claimed = claim(1000);
    ASSERT_EQ(claimed.size(), 1u);
    record(claimed[0], Status::retrying, 1600, 1700);

    EXPECT_TRUE(claim(1800).empty());
    auto expired = expire(1800);
    ASSERT_TRUE(expired);
    EXPECT_EQ(*expired, std::vector<std::string>{"in-flight"});
    EXPECT_EQ(find("in-flight").status, Status::expired);
}

TEST_F(DeadLettersTest, ExpireTakesAtMostItsLimitPerCall) {
    for (int i = 0; i < 5; ++i) {
        insert(notification("n" + std::to_string(i), 1000));
    }
    EXPECT_EQ(expire(2000, 2)->size(), 2u);
    EXPECT_EQ(expire(2000, 2)->size(), 2u);
    EXPECT_EQ(expire(2000, 2)->size(), 1u);
    EXPECT_EQ(expire(2000, 2)->size(), 0u);
}

TEST_F(DeadLettersTest, SweeperReportsEachExpiredBatch) {
    const UnixMs past = 1000;
    for (int i = 0; i < 3; ++i) {
        insert(notification("n" + std::to_string(i), past));
    }
    std::vector<std::string> reported;
    ExpirySweeper sweeper(
        *store_,
        std::chrono::hours(1),
        [&reported](const std::vector<std::string>& ids) {
            reported.insert(reported.end(), ids.begin(), ids.end());
        },
        2);
    EXPECT_EQ(sweeper.sweep_once(), 3);
    EXPECT_EQ(std::set<std::string>(reported.begin(), reported.end()),
              (std::set<std::string>{"n0", "n1", "n2"}));
}

TEST_F(DeadLettersTest, RetryPutsAFailedNotificationBackInTheOutboxKeepingItsAttempts) {
    insert_failed("dead");
    ASSERT_EQ(find("dead").status, Status::failed);

    auto retried = retry("dead", 5000, 9000);
    ASSERT_TRUE(retried) << retried.error().message();
    EXPECT_EQ(retried->kind, StatusChange::Kind::changed);
    EXPECT_EQ(retried->notification.status, Status::queued);
    EXPECT_EQ(retried->notification.attempts, 1);
    EXPECT_EQ(retried->notification.attempt_log.size(), 1u);
    EXPECT_EQ(retried->notification.last_error, "");
    EXPECT_EQ(retried->notification.expires_at, 9000);
    EXPECT_EQ(retried->notification.next_attempt_at, 5000);
    EXPECT_EQ(retried->notification.updated_at, 5000);

    auto claimed = claim(5000);
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed[0].attempts, 1);
    record(claimed[0], Status::sent, 5100);
    const NotificationView sent = find("dead");
    EXPECT_EQ(sent.status, Status::sent);
    EXPECT_EQ(sent.attempt_log.size(), 2u);
}

TEST_F(DeadLettersTest, RetryOfAnExpiredNotificationWithoutExpiryClearsIt) {
    insert(notification("late", 1000));
    ASSERT_EQ(expire(1000)->size(), 1u);

    auto retried = retry("late", 5000);
    ASSERT_TRUE(retried);
    EXPECT_EQ(retried->kind, StatusChange::Kind::changed);
    EXPECT_FALSE(retried->notification.expires_at.has_value());
    EXPECT_EQ(claim(5000).size(), 1u);
}

TEST_F(DeadLettersTest, RetryOfAnythingButFailedOrExpiredIsAConflictThatChangesNothing) {
    insert(notification("waiting"));
    auto retried = retry("waiting", 5000);
    ASSERT_TRUE(retried);
    EXPECT_EQ(retried->kind, StatusChange::Kind::conflict);
    EXPECT_EQ(retried->notification.status, Status::queued);
    EXPECT_EQ(retried->notification.updated_at, 900);

    auto claimed = claim(1000);
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(retry("waiting", 5000)->kind, StatusChange::Kind::conflict);
    record(claimed[0], Status::sent, 1100);
    auto of_sent = retry("waiting", 5000);
    EXPECT_EQ(of_sent->kind, StatusChange::Kind::conflict);
    EXPECT_EQ(of_sent->notification.status, Status::sent);
    EXPECT_TRUE(claim(6000).empty());
}

TEST_F(DeadLettersTest, RetryAndCancelOfAnUnknownOrAnotherClientsIdGiveNotFound) {
    insert_failed("dead");
    EXPECT_EQ(retry("missing", 5000).error(), StoreError::not_found);
    EXPECT_EQ(retry("dead", 5000, std::nullopt, "marketing").error(), StoreError::not_found);
    EXPECT_EQ(cancel("missing", 5000).error(), StoreError::not_found);
    insert(notification("waiting"));
    EXPECT_EQ(cancel("waiting", 5000, "marketing").error(), StoreError::not_found);
    EXPECT_EQ(find("waiting").status, Status::queued);
    EXPECT_EQ(retry("dead", 5000, std::nullopt, "billing")->kind, StatusChange::Kind::changed);
}

TEST_F(DeadLettersTest, CancelledNotificationIsNeverClaimedAndACancelAgainChangesNothing) {
    insert(notification("unwanted"));
    auto cancelled = cancel("unwanted", 950);
    ASSERT_TRUE(cancelled) << cancelled.error().message();
    EXPECT_EQ(cancelled->kind, StatusChange::Kind::changed);
    EXPECT_EQ(cancelled->notification.status, Status::cancelled);
    EXPECT_EQ(cancelled->notification.updated_at, 950);
    EXPECT_FALSE(cancelled->notification.next_attempt_at.has_value());

    EXPECT_TRUE(claim(5000).empty());
    auto again = cancel("unwanted", 6000);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->kind, StatusChange::Kind::unchanged);
    EXPECT_EQ(again->notification.updated_at, 950);
}

TEST_F(DeadLettersTest, CancelOfARetryingNotificationRemovesItsScheduledAttempt) {
    insert(notification("flaky"));
    auto claimed = claim(1000);
    ASSERT_EQ(claimed.size(), 1u);
    record(claimed[0], Status::retrying, 1100, 2000);

    EXPECT_EQ(cancel("flaky", 1200)->kind, StatusChange::Kind::changed);
    EXPECT_TRUE(claim(3000).empty());
    EXPECT_EQ(find("flaky").attempt_log.size(), 1u);
}

TEST_F(DeadLettersTest, CancelOfALeasedSentOrDeadNotificationIsAConflict) {
    insert(notification("leased"));
    auto claimed = claim(1000);
    ASSERT_EQ(claimed.size(), 1u);
    auto of_leased = cancel("leased", 1100);
    ASSERT_TRUE(of_leased);
    EXPECT_EQ(of_leased->kind, StatusChange::Kind::conflict);
    EXPECT_EQ(of_leased->notification.status, Status::sending);

    record(claimed[0], Status::sent, 1200);
    EXPECT_EQ(cancel("leased", 1300)->kind, StatusChange::Kind::conflict);
    EXPECT_EQ(find("leased").status, Status::sent);

    insert_failed("dead", 2000);
    EXPECT_EQ(cancel("dead", 3000)->kind, StatusChange::Kind::conflict);
}

TEST_F(DeadLettersTest, ACancelAndAClaimOfOneEntryAreDecidedInTheOrderTheStoreRunsThem) {
    insert(notification("first-claimed"));
    {
        Pending<std::vector<ClaimedEntry>> claimed;
        Pending<StatusChange> cancelled;
        store_->claim_due({"owner", 1000, 10, 60000}, claimed.callback());
        store_->cancel({"first-claimed", "", 1000}, cancelled.callback());
        ASSERT_EQ(claimed.get()->size(), 1u);
        EXPECT_EQ(cancelled.get()->kind, StatusChange::Kind::conflict);
    }

    insert(notification("first-cancelled"));
    {
        Pending<StatusChange> cancelled;
        Pending<std::vector<ClaimedEntry>> claimed;
        store_->cancel({"first-cancelled", "", 1000}, cancelled.callback());
        store_->claim_due({"owner", 1000, 10, 60000}, claimed.callback());
        EXPECT_EQ(cancelled.get()->kind, StatusChange::Kind::changed);
        EXPECT_TRUE(claimed.get()->empty());
    }
}

TEST_F(DeadLettersTest, ListShowsTheAskedStatusesNewestChangeFirst) {
    insert_failed("failed-early", 1000);
    insert_failed("failed-late", 3000);
    insert(notification("expired", 2000, 2000));
    ASSERT_EQ(expire(2500)->size(), 1u);
    insert(notification("cancelled"));
    ASSERT_EQ(cancel("cancelled", 2200)->kind, StatusChange::Kind::changed);
    insert(notification("waiting"));

    auto dead = list({"", {Status::failed, Status::expired}});
    ASSERT_TRUE(dead) << dead.error().message();
    EXPECT_EQ(ids_of(*dead), (std::vector<std::string>{"failed-late", "expired", "failed-early"}));
    EXPECT_FALSE(dead->next.has_value());
    EXPECT_TRUE(dead->notifications[0].attempt_log.empty());
    EXPECT_EQ(dead->notifications[1].status, Status::expired);

    auto others = list({"", {Status::cancelled, Status::queued}});
    ASSERT_TRUE(others);
    EXPECT_EQ(ids_of(*others), (std::vector<std::string>{"cancelled", "waiting"}));
}

TEST_F(DeadLettersTest, ListFiltersByCreationTimeAndClient) {
    insert_failed("t1000", 1000);
    insert_failed("t2000", 2000);
    insert_failed("t3000", 3000);
    insert(notification("other-client", std::nullopt, 2000, "marketing"));
    ASSERT_EQ(cancel("other-client", 2500)->kind, StatusChange::Kind::changed);

    ListQuery window{"", {Status::failed}};
    window.created_after = 1000;
    window.created_before = 3000;
    EXPECT_EQ(ids_of(*list(window)), std::vector<std::string>{"t2000"});

    ListQuery billing{"billing", {Status::failed, Status::cancelled}};
    EXPECT_EQ(ids_of(*list(billing)), (std::vector<std::string>{"t3000", "t2000", "t1000"}));
    ListQuery marketing{"marketing", {Status::failed, Status::cancelled}};
    EXPECT_EQ(ids_of(*list(marketing)), std::vector<std::string>{"other-client"});
}

TEST_F(DeadLettersTest, ListPagesWithCursorsVisitEveryMatchOnceAcrossStatuses) {
    // Equal updated_at values on purpose: the id breaks the tie, so no page boundary loses one.
    for (int i = 0; i < 7; ++i) {
        insert_failed("f" + std::to_string(i), 1000 + (i / 2) * 100);
    }
    for (int i = 0; i < 4; ++i) {
        insert(notification("e" + std::to_string(i), 1050, 1000));
    }
    ASSERT_EQ(expire(1050)->size(), 4u);

    std::vector<std::string> seen;
    ListQuery query{"", {Status::failed, Status::expired}};
    query.limit = 3;
    int pages = 0;
    for (;;) {
        auto page = list(query);
        ASSERT_TRUE(page) << page.error().message();
        ASSERT_LE(page->notifications.size(), 3u);
        ++pages;
        for (const auto& id : ids_of(*page)) {
            seen.push_back(id);
        }
        if (!page->next) {
            break;
        }
        ASSERT_LT(pages, 10) << "the cursor does not advance";
        query.after = page->next;
    }
    EXPECT_EQ(pages, 4);  // 11 matches, 3 per page; the last page has 2 and no cursor
    EXPECT_EQ(seen.size(), 11u);
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 11u);
}

TEST_F(DeadLettersTest, AFullLastPageHasNoCursor) {
    insert_failed("a", 1000);
    insert_failed("b", 2000);
    ListQuery query{"", {Status::failed}};
    query.limit = 2;
    auto page = list(query);
    ASSERT_TRUE(page);
    EXPECT_EQ(page->notifications.size(), 2u);
    EXPECT_FALSE(page->next.has_value());
}

}  // namespace
}  // namespace herald::store::sqlite
