#include "delivery/maildir_transport.hpp"

#include "sample_message.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdlib.h>
#include <thread>

namespace herald::delivery {
namespace {

namespace fs = std::filesystem;
using testing::outbound;
using testing::sample_message;
using testing::send_and_wait;

class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "herald-maildir-XXXXXX").string();
        path_ = mkdtemp(pattern.data());
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

std::vector<fs::path> files_in(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& entry : fs::directory_iterator(dir)) {
        out.push_back(entry.path());
    }
    return out;
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(MaildirTransport, CreatesTheMaildirLayout) {
    TempDir dir;
    auto transport = MaildirTransport::open(dir.path() / "mail");
    ASSERT_TRUE(transport) << transport.error();
    for (const char* sub : {"cur", "new", "tmp"}) {
        EXPECT_TRUE(fs::is_directory(dir.path() / "mail" / sub)) << sub;
    }
}

TEST(MaildirTransport, WritesOneFileIntoNewWithTheExactBytes) {
    TempDir dir;
    auto transport = MaildirTransport::open(dir.path());
    ASSERT_TRUE(transport) << transport.error();
    auto message = outbound(sample_message(), "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");

    const SendResult result = send_and_wait(**transport, message);

    EXPECT_EQ(result.outcome, AttemptOutcome::sent) << result.detail;
    const auto delivered = files_in(dir.path() / "new");
    ASSERT_EQ(delivered.size(), 1u);
    EXPECT_EQ(read_file(delivered[0]), message->mime);
    EXPECT_NE(delivered[0].filename().string().find("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
              std::string::npos);
    EXPECT_TRUE(files_in(dir.path() / "tmp").empty());
    EXPECT_TRUE(files_in(dir.path() / "cur").empty());
}

TEST(MaildirTransport, GivesEverySendItsOwnFile) {
    TempDir dir;
    auto transport = MaildirTransport::open(dir.path());
    ASSERT_TRUE(transport) << transport.error();
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(send_and_wait(**transport, outbound(sample_message(), "same-id")).outcome,
                  AttemptOutcome::sent);
    }
    EXPECT_EQ(files_in(dir.path() / "new").size(), 5u);
}

TEST(MaildirTransport, KeepsPathCharactersOfTheIdOutOfTheFileName) {
    TempDir dir;
    auto transport = MaildirTransport::open(dir.path());
    ASSERT_TRUE(transport) << transport.error();
    EXPECT_EQ(send_and_wait(**transport, outbound(sample_message(), "../../evil:2,S")).outcome,
              AttemptOutcome::sent);
    const auto delivered = files_in(dir.path() / "new");
    ASSERT_EQ(delivered.size(), 1u);
    EXPECT_EQ(delivered[0].filename().string().find('/'), std::string::npos);
    EXPECT_EQ(delivered[0].filename().string().find(':'), std::string::npos);
}

TEST(MaildirTransport, ReportsAnIoErrorAsTransient) {
    TempDir dir;
    auto transport = MaildirTransport::open(dir.path());
    ASSERT_TRUE(transport) << transport.error();
    // tmp/ replaced by a plain file: every open under it fails (ENOTDIR), even for root.
    fs::remove(dir.path() / "tmp");
    std::ofstream(dir.path() / "tmp") << "not a directory";

    const SendResult result = send_and_wait(**transport, outbound(sample_message()));

    EXPECT_EQ(result.outcome, AttemptOutcome::transient);
    EXPECT_NE(result.detail.find("maildir open"), std::string::npos) << result.detail;
    EXPECT_TRUE(files_in(dir.path() / "new").empty());
}

TEST(MaildirTransport, RunsDoneOnItsOwnThread) {
    TempDir dir;
    auto transport = MaildirTransport::open(dir.path());
    ASSERT_TRUE(transport) << transport.error();
    std::promise<std::thread::id> done_thread;
    (*transport)->send(outbound(sample_message()), [&](SendResult) {
        done_thread.set_value(std::this_thread::get_id());
    });
    auto future = done_thread.get_future();
    ASSERT_EQ(future.wait_for(std::chrono::seconds{30}), std::future_status::ready);
    EXPECT_NE(future.get(), std::this_thread::get_id());
}

TEST(MaildirTransport, FailsSendsAfterStopAsTransient) {
    TempDir dir;
    auto transport = MaildirTransport::open(dir.path());
    ASSERT_TRUE(transport) << transport.error();
    (*transport)->stop();
    (*transport)->stop();  // idempotent

    const SendResult result = send_and_wait(**transport, outbound(sample_message()));

    EXPECT_EQ(result.outcome, AttemptOutcome::transient);
    EXPECT_TRUE(files_in(dir.path() / "new").empty());
}

TEST(MaildirTransport, RefusesAPathThatCannotBeCreated) {
    TempDir dir;
    std::ofstream(dir.path() / "file") << "x";
    auto transport = MaildirTransport::open(dir.path() / "file" / "mail");
    ASSERT_FALSE(transport);
    EXPECT_NE(transport.error().find("cannot create"), std::string::npos) << transport.error();
}

}  // namespace
}  // namespace herald::delivery
