// Accepted means delivered: herald killed (SIGKILL or SIGTERM) after a 202 delivers the message
// exactly once after a restart on the same store.

#include "fixture.hpp"

#include "support/net.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <signal.h>
#include <string>
#include <thread>
#include <vector>

namespace herald::test {
namespace {

class Restart : public IntegrationTest {
protected:
    // An SMTP transport towards a port where nothing listens yet; quick retries, and attempts
    // enough that the notification cannot run out of them before the server appears.
    static HeraldOptions towards_silent_port(std::uint16_t port) {
        HeraldOptions options;
        options.transport = "smtp://127.0.0.1:" + std::to_string(port);
        options.env["HERALD_DELIVERY_BACKOFF_BASE_MS"] = "100";
        options.env["HERALD_DELIVERY_BACKOFF_MAX_MS"] = "1000";
        options.env["HERALD_DELIVERY_MAX_ATTEMPTS"] = "1000";
        short_lease(options);
        return options;
    }

    // A short lease (here 1 s, so max(1 s, 5 s + 5 s)) for tests that do not depend on herald
    // taking its own leases back at start; local attempts take milliseconds.
    static void short_lease(HeraldOptions& options) {
        options.env["HERALD_DELIVERY_LEASE_MS"] = "1000";
        options.env["HERALD_DELIVERY_ATTEMPT_TIMEOUT_MS"] = "5000";
    }

    // After a restart: the one message arrives, herald reports it sent, and no second copy
    // arrives while it does.
    void expect_delivered_once(HeraldPeer& herald,
                               MaildevPeer& maildev,
                               const std::string& id,
                               const std::string& subject) {
        const auto status = herald.wait_for_status(id, {"sent", "failed"});
        ASSERT_TRUE(status.has_value());
        EXPECT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
        const auto messages = maildev.wait_for_messages(1);
        ASSERT_EQ(messages.size(), 1U);
        EXPECT_EQ(string_at(messages[0], "subject"), subject);
        const auto mail = parse_mail(maildev.raw_source(string_at(messages[0], "id")));
        EXPECT_EQ(bare_message_id(mail.message_id.value_or("")),
                  bare_message_id(string_at(*status, "message_id")));
    }
};

TEST_F(Restart, KillNineBeforeTheServerExistsThenDeliversOnceAfterRestart) {
    const std::uint16_t smtp_port = free_port();
    auto& herald = start_herald(towards_silent_port(smtp_port));
    auto body = baseline_notification();
    body["subject"] = "Survives kill -9";
    const std::string id = accepted_id(herald.post_notification(json_body(body)));
    ASSERT_FALSE(id.empty());
    const auto killed = herald.kill9();
    EXPECT_EQ(killed.signal, SIGKILL) << killed.describe();

    auto& maildev = start_maildev(maildev_on_port(smtp_port));
    herald.start();
    expect_delivered_once(herald, maildev, id, "Survives kill -9");
}

TEST_F(Restart, KillNineDuringASendResendsAtStartWithTheSameIdempotencyKey) {
    MockmailOptions slow;
    slow.latency_ms = 3000;
    auto& mockmail = start_mockmail(slow);
    HeraldOptions options;
    options.transport = mockmail.base_url() + "/v1/send";
    // A lease far longer than any wait below: only the take-back at start can resend in time.
    options.env["HERALD_DELIVERY_LEASE_MS"] = "3600000";
    auto& herald = start_herald(options);

    auto body = baseline_notification();
    body["subject"] = "Interrupted mid-send";
    const std::string id = accepted_id(herald.post_notification(json_body(body)));
    ASSERT_FALSE(id.empty());
    ASSERT_TRUE(wait_until([&] { return !mockmail.calls().empty(); }));
    const auto killed = herald.kill9();
    EXPECT_EQ(killed.signal, SIGKILL) << killed.describe();

    herald.start();
    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value()) << herald.logs();
    EXPECT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
    const auto calls = mockmail.calls();
    ASSERT_EQ(calls.size(), 2U);
    for (const auto& call : calls) {
        EXPECT_EQ(string_at(call, "idempotency_key"), id);
        EXPECT_EQ(string_at(call, "message_id"), string_at(*status, "message_id"));
    }
    // The whole log: the line is near its start, and logs() keeps only the tail.
    EXPECT_NE(read_file(herald.dir() / "herald.err")
                  .find("\"msg\":\"leases taken over at start\",\"owner\""),
              std::string::npos);
}

TEST_F(Restart, PausedDeliveryStoresAndSendsNothingUntilRunUnpaused) {
    HeraldOptions options;
    options.env["HERALD_DELIVERY_PAUSED"] = "true";
    auto& herald = start_herald(options);
    auto body = baseline_notification();
    body["subject"] = "Held while paused";
    const std::string id = accepted_id(herald.post_notification(json_body(body)));
    ASSERT_FALSE(id.empty());
    // An unpaused herald delivers to a maildir within a poll interval (500 ms) or at once when
    // woken; give it four intervals to prove that nothing moves.
    std::this_thread::sleep_for(std::chrono::seconds(2));
    const auto held = herald.wait_for_status(id, {"queued"});
    ASSERT_TRUE(held.has_value());
    EXPECT_EQ(string_at(*held, "status"), "queued");
    EXPECT_FALSE(std::filesystem::exists(herald.maildir() / "new") &&
                 !std::filesystem::is_empty(herald.maildir() / "new"));

    const auto stopped = herald.terminate();
    ASSERT_TRUE(stopped.has_value());
    herald.options().env.erase("HERALD_DELIVERY_PAUSED");
    herald.start();
    const auto sent = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(sent.has_value());
    EXPECT_EQ(string_at(*sent, "status"), "sent") << json_text(*sent);
}

TEST_F(Restart, KillNineRightAfterAcceptingWithMaildirStillDelivers) {
    HeraldOptions options;
    short_lease(options);
    auto& herald = start_herald(options);
    auto body = baseline_notification();
    body["subject"] = "Maildir survives kill -9";
    const std::string id = accepted_id(herald.post_notification(json_body(body)));
    ASSERT_FALSE(id.empty());
    herald.kill9();
    herald.start();

    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(herald.maildir() / "new")) {
        files.push_back(entry.path());
    }
    // A kill that lands between writing the file and recording it as sent legitimately leaves a
    // second copy (at-least-once); every copy then carries the same Message-ID, so it is
    // recognisable downstream. A kill right after the 202 almost always precedes the write.
    ASSERT_GE(files.size(), 1U);
    EXPECT_LE(files.size(), 2U);
    for (const auto& file : files) {
        const auto mail = parse_mail(read_file(file));
        EXPECT_EQ(mail.subject, "Maildir survives kill -9");
        EXPECT_EQ(bare_message_id(mail.message_id.value_or("")),
                  bare_message_id(string_at(*status, "message_id")));
    }
}

TEST_F(Restart, SigtermExitsZeroAndTheQueuedMessageIsDeliveredAfterRestart) {
    const std::uint16_t smtp_port = free_port();
    auto& herald = start_herald(towards_silent_port(smtp_port));
    auto body = baseline_notification();
    body["subject"] = "Survives SIGTERM";
    const std::string id = accepted_id(herald.post_notification(json_body(body)));
    ASSERT_FALSE(id.empty());
    const auto ended = herald.terminate();
    ASSERT_TRUE(ended.has_value()) << "herald did not exit after SIGTERM";
    EXPECT_TRUE(ended->exited && ended->code == 0) << ended->describe();

    auto& maildev = start_maildev(maildev_on_port(smtp_port));
    herald.start();
    expect_delivered_once(herald, maildev, id, "Survives SIGTERM");
}

}  // namespace
}  // namespace herald::test
