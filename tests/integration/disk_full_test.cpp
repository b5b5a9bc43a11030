// The store's disk fills up, or the store goes away: intake answers 503 with Retry-After,
// nothing herald acknowledged is lost, and herald recovers by itself when space returns.
//
// DiskFull puts herald's SQLite store on a small tmpfs of its own (mounting needs root; the
// tests skip otherwise) and fills it with a filler file; deliveries go to a maildir or an SMTP
// peer outside it. StoreFailure removes the store's directory under a running herald.

#include "fixture.hpp"

#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <sched.h>
#include <string>
#include <sys/mount.h>
#include <unistd.h>
#include <vector>

namespace herald::test {
namespace {

// Room for the store of a few dozen notifications (the WAL alone keeps up to ~4 MiB before its
// first checkpoint), small enough to fill in a moment.
constexpr const char* kVolumeOptions = "size=8m,mode=0700";

// The value of header `name` in a raw message, unfolded lines only (the subjects here are short
// ASCII); "" when absent.
std::string header_value(const std::string& raw, const std::string& name) {
    const std::string head = "\r\n" + raw.substr(0, raw.find("\r\n\r\n")) + "\r\n";
    const auto at = head.find("\r\n" + name + ": ");
    if (at == std::string::npos) {
        return {};
    }
    const auto begin = at + name.size() + 4;
    return head.substr(begin, head.find("\r\n", begin) - begin);
}

// What a full store must answer: 503, a problem document, and when to come back.
void expect_store_unavailable(const HttpResponse& response) {
    EXPECT_EQ(response.status, 503) << response.describe();
    EXPECT_EQ(response.headers.get("Content-Type"), "application/problem+json")
        << response.describe();
    const auto retry_after = response.headers.get("Retry-After");
    ASSERT_TRUE(retry_after.has_value()) << response.describe();
    EXPECT_FALSE(retry_after->empty());
    EXPECT_TRUE(std::all_of(retry_after->begin(), retry_after->end(), [](unsigned char c) {
        return std::isdigit(c) != 0;
    })) << *retry_after;
    const auto problem = response.json();
    ASSERT_TRUE(problem.has_value()) << response.describe();
    EXPECT_EQ(string_at(*problem, "type"), "/problems/store-unavailable") << response.describe();
}

int status_of(HeraldPeer& herald, const std::string& target) {
    return herald.client().get(target).status;
}

class DiskFull : public IntegrationTest {
protected:
    void SetUp() override {
        IntegrationTest::SetUp();
        if (::geteuid() != 0) {
            GTEST_SKIP() << "mounting the small tmpfs these tests fill needs root";
        }
        // A mount namespace of the test's own (herald, started from this thread, joins it), so
        // the tmpfs cannot outlive the test even when it dies before TearDown. Private, so the
        // mount does not propagate to the host. Without one, the mount is made in the host's
        // namespace and TearDown alone removes it.
        if (::unshare(CLONE_NEWNS) == 0) {
            ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr);
        }
        volume_ = dir() / "volume";
        std::filesystem::create_directories(volume_);
        if (::mount("tmpfs", volume_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, kVolumeOptions) != 0) {
            const int error = errno;
            GTEST_SKIP() << "cannot mount a tmpfs on " << volume_ << ": " << std::strerror(error);
        }
        mounted_ = true;
    }

    void TearDown() override {
        if (mounted_) {
            if (HasFailure()) {
                // The volume goes away with the mount; keep the store for the evidence.
                std::error_code ignored;
                std::filesystem::copy(volume_, dir() / "volume-evidence", ignored);
            }
            // Detached lazily: herald still holds the store open until the fixture stops it.
            if (::umount2(volume_.c_str(), MNT_DETACH) != 0) {
                ADD_FAILURE() << "cannot unmount " << volume_ << ": " << std::strerror(errno);
            }
            mounted_ = false;
        }
        IntegrationTest::TearDown();
    }

    // A herald whose store is on the volume; `options` says where it delivers.
    HeraldPeer& start_herald_on_volume(HeraldOptions options = {}) {
        options.store_path = volume_ / "herald.db";
        return start_herald(std::move(options));
    }

    // Writes a filler file on the volume until the filesystem refuses; returns the errno that
    // stopped it (ENOSPC when the volume is full). Bounded by the volume's size.
    int fill_volume() {
        const int fd = ::open(filler().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            return errno;
        }
        const std::string block(64 * 1024, 'x');
        int error = 0;
        while (error == 0) {
            // A short write fills the last pages; the next one fails.
            if (::write(fd, block.data(), block.size()) < 0 && errno != EINTR) {
                error = errno;
            }
        }
        ::close(fd);
        return error;
    }

    void free_volume() { std::filesystem::remove(filler()); }

    std::filesystem::path filler() const { return volume_ / "filler"; }

private:
    std::filesystem::path volume_;
    bool mounted_ = false;
};

TEST_F(DiskFull, IntakeAnswers503WhileTheStoreIsFullAndAcceptsAgainOnceSpaceReturns) {
    auto& herald = start_herald_on_volume();  // delivers to DIR/herald/mail, off the volume
    const pid_t pid = herald.pid();
    std::map<std::string, std::string> accepted;  // id → subject, of every 202

    auto post = [&](const std::string& subject) {
        auto body = baseline_notification();
        body["subject"] = subject;
        return herald.post_notification(json_body(body));
    };
    for (int i = 1; i <= 3; ++i) {
        const std::string subject = "Before the disk filled " + std::to_string(i);
        const std::string id = accepted_id(post(subject));
        ASSERT_FALSE(id.empty());
        accepted[id] = subject;
    }
    // Delivered and recorded, so nothing of herald's is waiting to be written when space ends.
    for (const auto& [id, subject] : accepted) {
        const auto status = herald.wait_for_status(id, {"sent", "failed"});
        ASSERT_TRUE(status.has_value());
        ASSERT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
    }

    ASSERT_EQ(fill_volume(), ENOSPC);

    for (int i = 1; i <= 3; ++i) {
        const auto response = post("While the disk was full " + std::to_string(i));
        expect_store_unavailable(response);
        if (response.status == 202) {
            accepted[accepted_id(response)] = "While the disk was full " + std::to_string(i);
        }
    }
    // Not ready while the store cannot write (see docs/api.md); reads still answer.
    EXPECT_EQ(status_of(herald, "/readyz"), 503);
    EXPECT_EQ(status_of(herald, "/healthz"), 200);
    EXPECT_EQ(status_of(herald, "/v1/notifications/" + accepted.begin()->first), 200);

    free_volume();

    // The same process takes notifications again at once: no restart, no operator step.
    for (int i = 1; i <= 3; ++i) {
        const std::string subject = "After space returned " + std::to_string(i);
        const std::string id = accepted_id(post(subject));
        ASSERT_FALSE(id.empty());
        accepted[id] = subject;
    }
    EXPECT_TRUE(herald.running());
    EXPECT_EQ(herald.pid(), pid);
    EXPECT_EQ(status_of(herald, "/readyz"), 200);

    // Every 202, before and after the outage, arrives exactly once; nothing refused arrives.
    std::map<std::string, std::string> message_ids;  // Message-ID → subject
    for (const auto& [id, subject] : accepted) {
        const auto status = herald.wait_for_status(id, {"sent", "failed"});
        ASSERT_TRUE(status.has_value());
        EXPECT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
        message_ids[bare_message_id(string_at(*status, "message_id"))] = subject;
    }
    std::map<std::string, std::string> arrived;  // Message-ID → subject, of each maildir file
    const auto files = files_in(herald.maildir() / "new");
    for (const auto& file : files) {
        const std::string raw = read_file(file);
        arrived[bare_message_id(header_value(raw, "Message-ID"))] = header_value(raw, "Subject");
    }
    EXPECT_EQ(files.size(), accepted.size());
    EXPECT_EQ(arrived, message_ids);
}

TEST_F(DiskFull, OutcomeOfASendThatEndsWhileTheStoreIsFullIsRecordedOnceSpaceReturns) {
    SmtpRecorderOptions holding;
    holding.hold_data_replies = true;
    auto& recorder = start_recorder(holding);
    HeraldOptions options;
    options.transport = recorder.url();
    // Only a liveness cap: the reply is held just while the test fills the volume.
    options.env["HERALD_DELIVERY_ATTEMPT_TIMEOUT_MS"] = "120000";
    auto& herald = start_herald_on_volume(options);

    auto body = baseline_notification();
    body["subject"] = "Sent while the disk was full";
    const std::string id = accepted_id(herald.post_notification(json_body(body)));
    ASSERT_FALSE(id.empty());

    // The message is at the peer; herald, waiting for the 250, has claimed it but not recorded
    // anything yet. Fill the store, then let the 250 through: the outcome cannot be written.
    ASSERT_TRUE(wait_until([&] { return recorder.payloads().size() == 1; }));
    ASSERT_EQ(fill_volume(), ENOSPC);
    recorder.release_replies();
    const bool refused = wait_until([&] {
        const std::string log = read_file(herald.dir() / "herald.err");
        const auto at = log.find("\"msg\":\"attempt not recorded yet\"");
        return at != std::string::npos && log.find(id, at) != std::string::npos;
    });
    ASSERT_TRUE(refused) << "herald never tried to record the outcome";
    const auto pending = herald.get_notification(id).json();
    ASSERT_TRUE(pending.has_value());
    EXPECT_EQ(string_at(*pending, "status"), "sending") << json_text(*pending);

    free_volume();

    // The dispatcher keeps retrying the record; it lands, and the message is not sent again.
    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
    EXPECT_EQ(int_at(*status, "attempts", -1), 1) << json_text(*status);
    const auto payloads = recorder.payloads();
    ASSERT_EQ(payloads.size(), 1U);
    const std::string raw = dot_unstuff(payloads[0]);
    EXPECT_EQ(header_value(raw, "Subject"), "Sent while the disk was full");
    EXPECT_EQ(bare_message_id(header_value(raw, "Message-ID")),
              bare_message_id(string_at(*status, "message_id")));
}

class StoreFailure : public IntegrationTest {};

TEST_F(StoreFailure, DeletedStoreDirectoryAnswers503AndHeraldKeepsRunning) {
    HeraldOptions options;
    options.store_path = dir() / "store" / "herald.db";
    auto& herald = start_herald(options);
    auto body = baseline_notification();
    body["subject"] = "Before the store was deleted";
    const std::string id = accepted_id(herald.post_notification(json_body(body)));
    ASSERT_FALSE(id.empty());
    const auto sent = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(sent.has_value());
    ASSERT_EQ(string_at(*sent, "status"), "sent") << json_text(*sent);

    // SQLite would go on writing into the deleted files, and a 202 would be a promise that
    // does not survive the next start.
    std::filesystem::remove_all(dir() / "store");
    body["subject"] = "After the store was deleted";
    expect_store_unavailable(herald.post_notification(json_body(body)));
    EXPECT_EQ(status_of(herald, "/readyz"), 503);
    EXPECT_EQ(status_of(herald, "/healthz"), 200);
    EXPECT_TRUE(herald.running());
    EXPECT_EQ(files_in(herald.maildir() / "new").size(), 1U);
}

}  // namespace
}  // namespace herald::test
