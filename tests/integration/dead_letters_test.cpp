// Expiry, replay, cancel and the dead-letter listing, with the real herald delivering over its
// http transport to herald-mockmail, which records every call it gets (by Idempotency-Key, the
// notification id). Delivery is held back with delivery.paused, or made to fail with the mock's
// --fail-status/--fail-count; no test depends on how long anything takes.

#include "fixture.hpp"

#include "support/metrics_text.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace herald::test {
namespace {

constexpr const char* kPaused = "HERALD_DELIVERY_PAUSED";

// Wall-clock milliseconds, and herald's timestamps ("2026-12-03T18:46:05.123Z") read and written
// here independently of herald's own code.
std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::optional<std::int64_t> parse_utc(const std::string& text) {
    std::tm t{};
    int millis = 0;
    if (std::sscanf(text.c_str(),
                    "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ",
                    &t.tm_year,
                    &t.tm_mon,
                    &t.tm_mday,
                    &t.tm_hour,
                    &t.tm_min,
                    &t.tm_sec,
                    &millis) != 7) {
        return std::nullopt;
    }
    t.tm_year -= 1900;
    t.tm_mon -= 1;
    return static_cast<std::int64_t>(timegm(&t)) * 1000 + millis;
}

std::string format_utc(std::int64_t ms) {
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm t{};
    gmtime_r(&seconds, &t);
    char text[40];
    std::snprintf(text,
                  sizeof text,
                  "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                  t.tm_year + 1900,
                  t.tm_mon + 1,
                  t.tm_mday,
                  t.tm_hour,
                  t.tm_min,
                  t.tm_sec,
                  static_cast<int>(ms % 1000));
    return text;
}

class DeadLetters : public IntegrationTest {
protected:
    // A herald delivering to a fresh herald-mockmail (provider()), paused when asked.
    HeraldPeer& start(bool paused, MockmailOptions mock = {}, HeraldOptions options = {}) {
        provider_ = &start_mockmail(mock);
        options.transport = provider_->send_url();
        if (paused) {
            options.env[kPaused] = "true";
        }
        return start_herald(std::move(options));
    }

    // Restarts `herald` on its store, delivering.
    void restart_unpaused(HeraldPeer& herald) {
        ASSERT_TRUE(herald.terminate().has_value());
        herald.options().env.erase(kPaused);
        herald.start();
    }

    std::int64_t calls_for(const std::string& id) {
        const auto counts = provider_->key_counts();
        const auto found = counts.find(id);
        return found == counts.end() ? 0 : found->second;
    }

    static std::string post(HeraldPeer& herald,
                            boost::json::object body = baseline_notification(),
                            const HeaderList& headers = {}) {
        return accepted_id(herald.post_notification(json_body(body), headers));
    }

    static boost::json::object with_max_age(std::int64_t seconds) {
        auto body = baseline_notification();
        body["max_age_s"] = seconds;
        return body;
    }

    static HttpResponse action(HeraldPeer& herald,
                               const std::string& id,
                               const std::string& verb,
                               const std::string& body = {},
                               const HeaderList& headers = {}) {
        HttpRequest request;
        request.method = "POST";
        request.target = "/v1/notifications/" + id + "/" + verb;
        request.body = body;
        request.headers = headers;
        if (!body.empty()) {
            request.headers.emplace_back("Content-Type", "application/json");
        }
        return herald.client().send(request);
    }

    static HttpResponse list(HeraldPeer& herald,
                             const std::string& query = {},
                             const HeaderList& headers = {}) {
        return herald.client().get("/v1/notifications" + query, headers);
    }

    // The ids of a listing's page, in order; records a failure unless it is a 200.
    static std::vector<std::string> ids_in(const HttpResponse& response) {
        std::vector<std::string> ids;
        const auto json = response.json();
        EXPECT_EQ(response.status, 200) << response.describe();
        const auto* items = json ? find_at(*json, "notifications") : nullptr;
        if (items == nullptr || !items->is_array()) {
            ADD_FAILURE() << "no notifications array: " << response.describe();
            return ids;
        }
        for (const auto& item : items->as_array()) {
            ids.push_back(string_at(item, "id"));
        }
        return ids;
    }

    // The problem's first errors[] entry's member `key` ("pointer", "parameter").
    static std::string first_error(const HttpResponse& response, const std::string& key) {
        const auto json = response.json();
        const auto* errors = json ? find_at(*json, "errors") : nullptr;
        if (errors == nullptr || !errors->is_array() || errors->as_array().empty()) {
            return {};
        }
        return string_at(errors->as_array()[0], key);
    }

    void expect_field_refused(HeraldPeer& herald,
                              const boost::json::object& body,
                              const std::string& pointer) {
        const auto response = herald.post_notification(json_body(body));
        EXPECT_EQ(response.status, 400) << response.describe();
        EXPECT_EQ(response.headers.get("Content-Type"), "application/problem+json");
        EXPECT_EQ(first_error(response, "pointer"), pointer) << response.describe();
    }

    void expect_parameter_refused(HeraldPeer& herald,
                                  const std::string& query,
                                  const std::string& parameter) {
        const auto response = list(herald, query);
        EXPECT_EQ(response.status, 400) << query << ": " << response.describe();
        EXPECT_EQ(response.headers.get("Content-Type"), "application/problem+json");
        EXPECT_EQ(first_error(response, "parameter"), parameter) << response.describe();
    }

    MockmailPeer* provider_ = nullptr;
};

// --- expiry -------------------------------------------------------------------------------

TEST_F(DeadLetters, NotificationPastItsMaxAgeWhileDeliveryIsHeldIsExpiredAndNeverSent) {
    auto& herald = start(true);
    const std::string keeps = post(herald);
    const auto accepted = herald.post_notification(json_body(with_max_age(1)));
    const std::string late = accepted_id(accepted);
    ASSERT_FALSE(late.empty());
    EXPECT_FALSE(string_at(*accepted.json(), "expires_at").empty()) << accepted.describe();

    const auto expired = herald.wait_for_status(late, {"expired"});
    ASSERT_TRUE(expired.has_value());
    EXPECT_EQ(string_at(*expired, "status"), "expired") << json_text(*expired);
    EXPECT_EQ(string_at(*expired, "last_error"), "expired before it was sent");
    EXPECT_FALSE(string_at(*expired, "expires_at").empty());
    EXPECT_EQ(
        metric_value(herald.client().get("/metrics").body, "herald_notifications_expired_total"),
        1);

    restart_unpaused(herald);
    const auto sent = herald.wait_for_status(keeps, {"sent", "failed"});
    ASSERT_TRUE(sent.has_value());
    EXPECT_EQ(string_at(*sent, "status"), "sent");
    EXPECT_EQ(calls_for(keeps), 1);
    EXPECT_EQ(calls_for(late), 0);
    EXPECT_EQ(string_at(*herald.wait_for_status(late, {"expired"}), "status"), "expired");
}

TEST_F(DeadLetters, NotificationThatExpiredWhileHeraldWasDownIsNotSentAfterTheRestart) {
    auto& herald = start(true);
    const std::string control = post(herald);
    const auto accepted = herald.post_notification(json_body(with_max_age(1)));
    const std::string late = accepted_id(accepted);
    ASSERT_FALSE(late.empty());
    const auto expires_at = parse_utc(string_at(*accepted.json(), "expires_at"));
    ASSERT_TRUE(expires_at.has_value()) << accepted.describe();
    ASSERT_TRUE(herald.terminate().has_value());
    // herald stays down until the expiry has passed, so the restarted dispatcher's first claim
    // finds the notification due and past its expiry (unless the sweeper got to it first).
    ASSERT_TRUE(wait_until([&] { return now_ms() > *expires_at; }));

    herald.options().env.erase(kPaused);
    herald.start();
    const auto sent = herald.wait_for_status(control, {"sent", "failed"});
    ASSERT_TRUE(sent.has_value());
    EXPECT_EQ(string_at(*sent, "status"), "sent");
    const auto expired = herald.wait_for_status(late, {"expired"});
    ASSERT_TRUE(expired.has_value());
    EXPECT_EQ(string_at(*expired, "status"), "expired");
    EXPECT_EQ(calls_for(control), 1);
    EXPECT_EQ(calls_for(late), 0);
}

TEST_F(DeadLetters, PreferWaitIsAnsweredWhenTheNotificationExpires) {
    HeraldOptions options;
    options.config_toml = "[server]\nmax_wait_ms = 60000\nmax_request_timeout_ms = 60000\n";
    auto& herald = start(true, {}, options);

    const auto response = herald.post_notification(
        json_body(with_max_age(1)), {{"Prefer", "wait=60"}, {"X-Request-Timeout-Ms", "60000"}});

    ASSERT_EQ(response.status, 200) << response.describe();
    EXPECT_EQ(string_at(*response.json(), "status"), "expired") << response.describe();
}

TEST_F(DeadLetters, DefaultMaxAgeFromTheConfigurationIsShownAndZeroMeansNone) {
    HeraldOptions options;
    options.config_toml = "[delivery]\nmax_age_s = 600\n";
    auto& herald = start(true, {}, options);
    const auto accepted = herald.post_notification(json_body(baseline_notification()));
    const auto created = parse_utc(string_at(*accepted.json(), "created_at"));
    const auto expires = parse_utc(string_at(*accepted.json(), "expires_at"));
    ASSERT_TRUE(created && expires) << accepted.describe();
    EXPECT_EQ(*expires - *created, 600000);
    const auto shown = herald.get_notification(string_at(*accepted.json(), "id"));
    EXPECT_EQ(string_at(*shown.json(), "expires_at"), string_at(*accepted.json(), "expires_at"));

    ASSERT_TRUE(herald.terminate().has_value());
    herald.options().config_toml = "[delivery]\nmax_age_s = 0\n";
    herald.start();
    const auto forever = herald.post_notification(json_body(baseline_notification()));
    ASSERT_EQ(forever.status, 202) << forever.describe();
    EXPECT_EQ(find_at(*forever.json(), "expires_at"), nullptr) << forever.describe();
}

TEST_F(DeadLetters, ExpiresAtIsKeptAsGiven) {
    auto& herald = start(true);
    auto body = baseline_notification();
    const std::int64_t in_an_hour = now_ms() + 3600000;
    body["expires_at"] = format_utc(in_an_hour);
    const auto accepted = herald.post_notification(json_body(body));
    ASSERT_EQ(accepted.status, 202) << accepted.describe();
    const auto shown = herald.get_notification(string_at(*accepted.json(), "id"));
    EXPECT_EQ(string_at(*shown.json(), "expires_at"), format_utc(in_an_hour));
}

TEST_F(DeadLetters, ExpiresAtWithMaxAgeIsRefusedNamingTheField) {
    auto& herald = start(true);
    auto body = with_max_age(60);
    body["expires_at"] = format_utc(now_ms() + 3600000);
    expect_field_refused(herald, body, "#/max_age_s");
}

TEST_F(DeadLetters, ExpiresAtInThePastIsRefusedNamingTheField) {
    auto& herald = start(true);
    auto body = baseline_notification();
    body["expires_at"] = "2020-01-01T00:00:00Z";
    expect_field_refused(herald, body, "#/expires_at");
}

TEST_F(DeadLetters, UnparsableExpiresAtIsRefusedNamingTheField) {
    auto& herald = start(true);
    auto body = baseline_notification();
    body["expires_at"] = "next tuesday";
    expect_field_refused(herald, body, "#/expires_at");
}

TEST_F(DeadLetters, NonIntegerMaxAgeIsRefusedNamingTheField) {
    auto& herald = start(true);
    auto body = baseline_notification();
    body["max_age_s"] = 1.5;
    expect_field_refused(herald, body, "#/max_age_s");
}

TEST_F(DeadLetters, ZeroMaxAgeIsRefusedNamingTheField) {
    auto& herald = start(true);
    expect_field_refused(herald, with_max_age(0), "#/max_age_s");
}

TEST_F(DeadLetters, NegativeMaxAgeIsRefusedNamingTheField) {
    auto& herald = start(true);
    expect_field_refused(herald, with_max_age(-5), "#/max_age_s");
}

TEST_F(DeadLetters, HugeMaxAgeIsRefusedNamingTheField) {
    auto& herald = start(true);
    expect_field_refused(herald, with_max_age(99999999999), "#/max_age_s");
}

TEST_F(DeadLetters, IdempotencyKeyRepeatWithAnotherExpiryIsAConflictAndWithTheSameAReplay) {
    auto& herald = start(true);
    const HeaderList key = {{"Idempotency-Key", "expiry-42"}};
    const std::string id = post(herald, with_max_age(600), key);
    ASSERT_FALSE(id.empty());

    const auto same = herald.post_notification(json_body(with_max_age(600)), key);
    EXPECT_EQ(same.status, 202) << same.describe();
    EXPECT_EQ(same.headers.get("Idempotent-Replayed"), "true");
    EXPECT_EQ(string_at(*same.json(), "id"), id);

    const auto other = herald.post_notification(json_body(with_max_age(60)), key);
    EXPECT_EQ(other.status, 422) << other.describe();
}

// --- replay -------------------------------------------------------------------------------

TEST_F(DeadLetters, RetryOfAFailedNotificationDeliversItOnceMore) {
    MockmailOptions mock;
    mock.fail_status = 400;  // permanent: the first attempt fails the notification
    mock.fail_count = 1;
    auto& herald = start(false, mock);
    const std::string id = post(herald);
    const auto failed = herald.wait_for_status(id, {"failed", "sent"});
    ASSERT_TRUE(failed.has_value());
    ASSERT_EQ(string_at(*failed, "status"), "failed") << json_text(*failed);
    EXPECT_EQ(calls_for(id), 1);

    const auto retried = action(herald, id, "retry", R"({"max_age_s":600})");
    ASSERT_EQ(retried.status, 200) << retried.describe();
    EXPECT_EQ(string_at(*retried.json(), "status"), "queued");
    EXPECT_FALSE(string_at(*retried.json(), "expires_at").empty());
    EXPECT_EQ(int_at(*retried.json(), "attempts", -1), 1);

    const auto sent = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(sent.has_value());
    EXPECT_EQ(string_at(*sent, "status"), "sent") << json_text(*sent);
    EXPECT_EQ(int_at(*sent, "attempts", -1), 2);
    const auto* log = find_at(*sent, "attempt_log");
    ASSERT_NE(log, nullptr);
    EXPECT_EQ(log->as_array().size(), 2u);
    EXPECT_EQ(calls_for(id), 2);

    // Once sent, a second retry is refused: it would send the email again.
    const auto again = action(herald, id, "retry");
    EXPECT_EQ(again.status, 409) << again.describe();
    EXPECT_EQ(string_at(*again.json(), "notification_status"), "sent");
    EXPECT_EQ(calls_for(id), 2);
}

TEST_F(DeadLetters, RetryOfANotificationThatRanOutOfAttemptsGetsAFreshAttemptBudget) {
    MockmailOptions mock;
    mock.fail_status = 500;  // transient: two attempts, then failed (delivery.max_attempts = 2)
    mock.fail_count = 3;     // and the first attempt after the retry fails too
    HeraldOptions options;
    options.env = {{"HERALD_DELIVERY_MAX_ATTEMPTS", "2"},
                   {"HERALD_DELIVERY_BACKOFF_BASE_MS", "10"},
                   {"HERALD_DELIVERY_BACKOFF_MAX_MS", "20"}};
    auto& herald = start(false, mock, options);
    const std::string id = post(herald);
    const auto failed = herald.wait_for_status(id, {"failed", "sent"});
    ASSERT_TRUE(failed.has_value());
    ASSERT_EQ(string_at(*failed, "status"), "failed") << json_text(*failed);
    EXPECT_EQ(int_at(*failed, "attempts", -1), 2);

    ASSERT_EQ(action(herald, id, "retry").status, 200);
    // One transient failure after the retry is within the fresh budget of two.
    const auto sent = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(sent.has_value());
    EXPECT_EQ(string_at(*sent, "status"), "sent") << json_text(*sent);
    EXPECT_EQ(int_at(*sent, "attempts", -1), 4);
    EXPECT_EQ(calls_for(id), 4);
}

TEST_F(DeadLetters, RetryOfAnExpiredNotificationSendsIt) {
    auto& herald = start(true);
    const std::string id = post(herald, with_max_age(1));
    ASSERT_EQ(string_at(*herald.wait_for_status(id, {"expired"}), "status"), "expired");
    restart_unpaused(herald);

    const auto retried = action(herald, id, "retry");
    ASSERT_EQ(retried.status, 200) << retried.describe();
    const auto sent = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(sent.has_value());
    EXPECT_EQ(string_at(*sent, "status"), "sent") << json_text(*sent);
    EXPECT_EQ(calls_for(id), 1);
}

TEST_F(DeadLetters, RetryOfAQueuedNotificationIsAConflictNamingItsStatus) {
    auto& herald = start(true);
    const std::string id = post(herald);
    const auto response = action(herald, id, "retry");
    EXPECT_EQ(response.status, 409) << response.describe();
    EXPECT_EQ(response.headers.get("Content-Type"), "application/problem+json");
    EXPECT_EQ(string_at(*response.json(), "notification_status"), "queued");
}

TEST_F(DeadLetters, RetryWithABadBodyIsRefusedNamingTheField) {
    auto& herald = start(true);
    const std::string id = post(herald, with_max_age(1));
    ASSERT_EQ(string_at(*herald.wait_for_status(id, {"expired"}), "status"), "expired");
    const auto response = action(herald, id, "retry", R"({"max_age_s":0})");
    EXPECT_EQ(response.status, 400) << response.describe();
    EXPECT_EQ(first_error(response, "pointer"), "#/max_age_s");
    const auto unknown = action(herald, id, "retry", R"({"priority":1})");
    EXPECT_EQ(unknown.status, 400) << unknown.describe();
    EXPECT_EQ(first_error(unknown, "pointer"), "#/priority");
    // Nested past the JSON depth limit: the same problem type intake gives.
    const auto deep = action(herald, id, "retry", std::string(100, '[') + std::string(100, ']'));
    EXPECT_EQ(deep.status, 400) << deep.describe();
    EXPECT_EQ(string_at(*deep.json(), "type"), "/problems/json-too-deep") << deep.describe();
    EXPECT_EQ(string_at(*herald.get_notification(id).json(), "status"), "expired");
}

TEST_F(DeadLetters, RetryAndCancelOfAnUnknownIdAre404) {
    auto& herald = start(true);
    const std::string unknown = "0193a0b4-0000-7000-8000-000000000000";
    EXPECT_EQ(action(herald, unknown, "retry").status, 404);
    EXPECT_EQ(action(herald, unknown, "cancel").status, 404);
    EXPECT_EQ(action(herald, "not-an-id", "cancel").status, 404);
}

// --- cancel -------------------------------------------------------------------------------

TEST_F(DeadLetters, CancelledNotificationIsNeverDeliveredAndCancelAgainAnswersTheSame) {
    auto& herald = start(true);
    const std::string unwanted = post(herald);
    const std::string wanted = post(herald);

    const auto cancelled = action(herald, unwanted, "cancel");
    ASSERT_EQ(cancelled.status, 200) << cancelled.describe();
    EXPECT_EQ(string_at(*cancelled.json(), "status"), "cancelled");
    const auto again = action(herald, unwanted, "cancel");
    EXPECT_EQ(again.status, 200) << again.describe();
    EXPECT_EQ(string_at(*again.json(), "status"), "cancelled");
    EXPECT_EQ(string_at(*again.json(), "updated_at"), string_at(*cancelled.json(), "updated_at"));

    restart_unpaused(herald);
    const auto sent = herald.wait_for_status(wanted, {"sent", "failed"});
    ASSERT_TRUE(sent.has_value());
    EXPECT_EQ(string_at(*sent, "status"), "sent");
    EXPECT_EQ(calls_for(wanted), 1);
    EXPECT_EQ(calls_for(unwanted), 0);
    EXPECT_EQ(string_at(*herald.get_notification(unwanted).json(), "status"), "cancelled");
}

TEST_F(DeadLetters, CancelOfASentNotificationIsAConflictNamingItsStatus) {
    auto& herald = start(false);
    const std::string id = post(herald);
    ASSERT_EQ(string_at(*herald.wait_for_status(id, {"sent", "failed"}), "status"), "sent");

    const auto response = action(herald, id, "cancel");
    EXPECT_EQ(response.status, 409) << response.describe();
    EXPECT_EQ(response.headers.get("Content-Type"), "application/problem+json");
    EXPECT_EQ(string_at(*response.json(), "notification_status"), "sent");
    EXPECT_EQ(string_at(*herald.get_notification(id).json(), "status"), "sent");
}

TEST_F(DeadLetters, PreferWaitIsAnsweredWhenTheNotificationIsCancelled) {
    HeraldOptions options;
    options.config_toml = "[server]\nmax_wait_ms = 60000\nmax_request_timeout_ms = 60000\n";
    auto& herald = start(true, {}, options);
    // The waiting request's notification is found in the listing of queued ones and cancelled.
    std::string waited_body;
    std::thread waiter([&] {
        waited_body =
            herald
                .post_notification(json_body(baseline_notification()),
                                   {{"Prefer", "wait=60"}, {"X-Request-Timeout-Ms", "60000"}})
                .describe();
    });
    std::vector<std::string> queued;
    ASSERT_TRUE(wait_until([&] {
        queued = ids_in(list(herald, "?status=queued"));
        return !queued.empty();
    }));
    EXPECT_EQ(action(herald, queued[0], "cancel").status, 200);
    waiter.join();
    EXPECT_NE(waited_body.find("200"), std::string::npos) << waited_body;
    EXPECT_NE(waited_body.find("\"status\":\"cancelled\""), std::string::npos) << waited_body;
}

// --- the listing --------------------------------------------------------------------------

TEST_F(DeadLetters, ListingShowsFailedAndExpiredByDefaultAndOtherStatusesWhenAsked) {
    MockmailOptions mock;
    mock.fail_status = 400;
    mock.fail_count = 2;
    auto& herald = start(false, mock);
    std::vector<std::string> failed;
    for (int i = 0; i < 2; ++i) {
        failed.push_back(post(herald));
        ASSERT_EQ(string_at(*herald.wait_for_status(failed.back(), {"failed"}), "status"),
                  "failed");
    }
    const std::string sent = post(herald);
    ASSERT_EQ(string_at(*herald.wait_for_status(sent, {"sent"}), "status"), "sent");

    const auto dead = list(herald);
    EXPECT_EQ(ids_in(dead), (std::vector<std::string>{failed[1], failed[0]}));
    const auto page = dead.json();
    ASSERT_TRUE(page.has_value()) << dead.describe();
    EXPECT_TRUE(find_at(*page, "next_cursor")->is_null()) << dead.describe();
    const auto& first = page->as_object().at("notifications").as_array()[0];
    EXPECT_EQ(string_at(first, "status"), "failed");
    EXPECT_FALSE(string_at(first, "last_error").empty());
    EXPECT_EQ(find_at(first, "attempt_log"), nullptr);

    EXPECT_EQ(ids_in(list(herald, "?status=sent")), std::vector<std::string>{sent});
    EXPECT_EQ(ids_in(list(herald, "?status=failed,sent")).size(), 3u);
}

TEST_F(DeadLetters, ListingPagesWithTheCursorVisitEveryNotificationOnce) {
    auto& herald = start(true);
    std::set<std::string> cancelled;
    for (int i = 0; i < 5; ++i) {
        const std::string id = post(herald);
        ASSERT_EQ(action(herald, id, "cancel").status, 200);
        cancelled.insert(id);
    }

    std::vector<std::string> seen;
    std::string query = "?status=cancelled&limit=2";
    std::vector<std::size_t> sizes;
    for (int page = 0; page < 10; ++page) {
        const auto response = list(herald, query);
        const auto ids = ids_in(response);
        sizes.push_back(ids.size());
        seen.insert(seen.end(), ids.begin(), ids.end());
        const auto json = response.json();
        ASSERT_TRUE(json.has_value()) << response.describe();
        const auto* next = find_at(*json, "next_cursor");
        ASSERT_NE(next, nullptr) << response.describe();
        if (next->is_null()) {
            break;
        }
        query = "?status=cancelled&limit=2&cursor=" + std::string{next->as_string()};
    }
    EXPECT_EQ(sizes, (std::vector<std::size_t>{2, 2, 1}));
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), cancelled);
    EXPECT_EQ(seen.size(), 5u);
}

TEST_F(DeadLetters, ListingFiltersByCreationTime) {
    auto& herald = start(true);
    std::vector<std::string> ids;
    std::vector<std::string> created;
    for (int i = 0; i < 3; ++i) {
        const auto accepted = herald.post_notification(json_body(baseline_notification()));
        ids.push_back(accepted_id(accepted));
        created.push_back(string_at(*accepted.json(), "created_at"));
        ASSERT_EQ(action(herald, ids.back(), "cancel").status, 200);
        // Each notification in a millisecond of its own, so the bounds below separate them.
        const auto at = parse_utc(created.back());
        ASSERT_TRUE(wait_until([&] { return now_ms() > *at; }));
    }

    EXPECT_EQ(ids_in(list(herald,
                          "?status=cancelled&created_after=" + created[0] +
                              "&created_before=" + created[2])),
              std::vector<std::string>{ids[1]});
    EXPECT_EQ(ids_in(list(herald, "?status=cancelled&created_after=" + created[1])),
              std::vector<std::string>{ids[2]});
}

TEST_F(DeadLetters, ListingRetryAndCancelSeeOnlyTheClientsOwnNotifications) {
    HeraldOptions options;
    options.config_toml =
        "[auth.api_keys]\n"
        "\"key-a-0123456789abcdef\" = \"client-a\"\n"
        "\"key-b-0123456789abcdef\" = \"client-b\"\n";
    auto& herald = start(true, {}, options);
    const HeaderList a = {{"Authorization", "Bearer key-a-0123456789abcdef"}};
    const HeaderList b = {{"Authorization", "Bearer key-b-0123456789abcdef"}};
    const std::string mine = post(herald, baseline_notification(), a);
    ASSERT_FALSE(mine.empty());

    EXPECT_EQ(action(herald, mine, "cancel", {}, b).status, 404);
    EXPECT_EQ(ids_in(list(herald, "?status=queued", b)), std::vector<std::string>{});
    EXPECT_EQ(ids_in(list(herald, "?status=queued", a)), std::vector<std::string>{mine});
    EXPECT_EQ(action(herald, mine, "cancel", {}, a).status, 200);
    EXPECT_EQ(action(herald, mine, "retry", {}, b).status, 404);
    EXPECT_EQ(list(herald, "?status=queued").status, 401);
}

TEST_F(DeadLetters, ListingRefusesAnUnknownStatusNamingTheParameter) {
    auto& herald = start(true);
    expect_parameter_refused(herald, "?status=failed,lost", "status");
    expect_parameter_refused(herald, "?status=", "status");
}

TEST_F(DeadLetters, ListingRefusesALimitOutOfRangeNamingTheParameter) {
    auto& herald = start(true);
    expect_parameter_refused(herald, "?limit=0", "limit");
    expect_parameter_refused(herald, "?limit=501", "limit");
    expect_parameter_refused(herald, "?limit=ten", "limit");
    EXPECT_EQ(list(herald, "?limit=500").status, 200);
}

TEST_F(DeadLetters, ListingRefusesABadCreationTimeNamingTheParameter) {
    auto& herald = start(true);
    expect_parameter_refused(herald, "?created_after=yesterday", "created_after");
    expect_parameter_refused(herald, "?created_before=2026-12-03", "created_before");
}

TEST_F(DeadLetters, ListingRefusesACursorItDidNotIssueNamingTheParameter) {
    auto& herald = start(true);
    expect_parameter_refused(herald, "?cursor=not-a-cursor", "cursor");
    expect_parameter_refused(herald, "?cursor=%zz", "cursor");
}

TEST_F(DeadLetters, ListingRefusesUnknownAndRepeatedParametersNamingThem) {
    auto& herald = start(true);
    expect_parameter_refused(herald, "?sort=asc", "sort");
    expect_parameter_refused(herald, "?limit=1&limit=2", "limit");
    // A parameter without a name is still named as a parameter (an empty one), not a pointer.
    const auto nameless = list(herald, "?=1");
    EXPECT_EQ(nameless.status, 400) << nameless.describe();
    const auto body = nameless.json();
    ASSERT_TRUE(body.has_value()) << nameless.describe();
    const auto* errors = find_at(*body, "errors");
    ASSERT_NE(errors, nullptr) << nameless.describe();
    EXPECT_NE(find_at(errors->as_array().at(0), "parameter"), nullptr) << nameless.describe();
    EXPECT_EQ(find_at(errors->as_array().at(0), "pointer"), nullptr) << nameless.describe();
}

}  // namespace
}  // namespace herald::test
