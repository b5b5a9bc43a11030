// herald-storm against the real herald and herald-mockmail: the load client's JSON lines must
// agree with what herald counted and with what reached the provider, so the lab's figures can be
// trusted. Each storm is short and bounded (a few hundred notifications, a few seconds).

#include "fixture.hpp"

#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace herald::test {
namespace {

using namespace std::chrono_literals;

std::filesystem::path storm_binary() {
#ifdef HERALD_STORM_BINARY
    return HERALD_STORM_BINARY;
#else
    return {};
#endif
}

std::vector<boost::json::value> read_lines(const std::filesystem::path& path) {
    std::vector<boost::json::value> lines;
    std::ifstream file(path);
    for (std::string line; std::getline(file, line);) {
        if (auto parsed = parse_json(line)) {
            lines.push_back(std::move(*parsed));
        }
    }
    return lines;
}

class Storm : public IntegrationTest {
protected:
    // Runs herald-storm to its end (bounded by its own duration and retry window) and returns
    // its exit status; its JSON lines are in dir()/storm.jsonl.
    ExitStatus run_storm(const std::string& url, std::vector<std::string> extra) {
        ProcessOptions spawn;
        spawn.argv = {storm_binary().string(),
                      "--url",
                      url,
                      "--out",
                      (dir() / "storm.jsonl").string(),
                      "--summary-out",
                      (dir() / "storm-summary.json").string()};
        spawn.argv.insert(spawn.argv.end(), extra.begin(), extra.end());
        spawn.stdout_path = dir() / "storm.out";
        spawn.stderr_path = dir() / "storm.err";
        Process storm = Process::start(spawn);
        const auto status = storm.wait_for(kGenerousWait);
        if (!status) {
            ADD_FAILURE() << "herald-storm did not end";
            return storm.kill_and_wait();
        }
        std::cout << read_file(dir() / "storm.out");
        return *status;
    }

    std::vector<boost::json::value> lines() { return read_lines(dir() / "storm.jsonl"); }
};

TEST_F(Storm, EveryAcceptedNotificationReachesTheProviderOnceUnderItsStormId) {
    auto& herald = start_herald_with_provider(20);
    const auto status = run_storm(herald.base_url() + "/v1/notifications",
                                  {"--rate", "100", "--duration", "2", "--attempt-timeout", "5"});
    ASSERT_TRUE(status.exited && status.code == 0) << status.describe();

    const auto notes = lines();
    ASSERT_EQ(notes.size(), 200u);
    std::set<std::string> ok_ids;
    std::int64_t accepted_attempts = 0;
    for (const auto& note : notes) {
        if (string_at(note, "outcome") == "ok") {
            ok_ids.insert(string_at(note, "id"));
        }
        for (const auto& attempt : find_at(note, "attempts")->as_array()) {
            accepted_attempts += int_at(attempt, "status", 0) == 202 ? 1 : 0;
        }
    }
    EXPECT_EQ(ok_ids.size(), notes.size()) << "every notification should have been accepted";

    // herald counted exactly the attempts the storm saw answered 202.
    EXPECT_EQ(intake_count(herald, "accepted"), static_cast<double>(accepted_attempts));

    // Every accepted notification arrives at the provider once, carrying its storm id.
    std::map<std::string, std::int64_t> per_id;
    const bool arrived = wait_until([&] {
        per_id.clear();
        const auto ids = HttpClient{provider().base_url()}.get("/ids").json();
        if (!ids || !ids->is_object()) {
            return false;
        }
        for (const auto& [id, count] : ids->as_object()) {
            per_id[std::string(id)] = count.to_number<std::int64_t>();
        }
        return per_id.size() >= ok_ids.size();
    });
    EXPECT_TRUE(arrived) << per_id.size() << " of " << ok_ids.size() << " ids at the provider";
    for (const auto& id : ok_ids) {
        EXPECT_EQ(per_id[id], 1) << id;
    }
    for (const auto& [id, count] : per_id) {
        EXPECT_TRUE(ok_ids.count(id)) << "the provider got an id the storm never sent: " << id;
    }
}

TEST_F(Storm, EveryAttemptItTimedOutStillReachedTheSlowServer) {
    // The mock takes the storm's body too. It holds each answer far longer than the storm's
    // attempt timeout, so every attempt times out and is retried until the window closes; the
    // mock has read every one of them, so its count per id is the storm's attempts per id.
    MockmailOptions slow;
    slow.latency_ms = 30000;
    auto& mock = start_mockmail(slow);
    const auto status = run_storm(mock.send_url(),
                                  {"--rate",
                                   "10",
                                   "--duration",
                                   "1",
                                   "--attempt-timeout",
                                   "0.3",
                                   "--backoff-base",
                                   "0.05",
                                   "--retry-window",
                                   "1.5"});
    ASSERT_TRUE(status.exited && status.code == 0) << status.describe();

    const auto notes = lines();
    ASSERT_EQ(notes.size(), 10u);
    std::map<std::string, std::int64_t> attempts_per_id;
    std::int64_t total = 0;
    for (const auto& note : notes) {
        EXPECT_EQ(string_at(note, "outcome"), "gave_up") << json_text(note);
        const auto& attempts = find_at(note, "attempts")->as_array();
        EXPECT_GE(attempts.size(), 2u) << json_text(note);
        for (const auto& attempt : attempts) {
            EXPECT_EQ(string_at(attempt, "result"), "timeout") << json_text(attempt);
        }
        attempts_per_id[string_at(note, "id")] = static_cast<std::int64_t>(attempts.size());
        total += static_cast<std::int64_t>(attempts.size());
    }

    std::map<std::string, std::int64_t> per_id;
    wait_until([&] {
        const auto stats = mock.stats();
        return int_at(stats, "calls", 0) >= total;
    });
    const auto ids = HttpClient{mock.base_url()}.get("/ids").json();
    ASSERT_TRUE(ids && ids->is_object());
    for (const auto& [id, count] : ids->as_object()) {
        per_id[std::string(id)] = count.to_number<std::int64_t>();
    }
    EXPECT_EQ(per_id, attempts_per_id);
}

TEST_F(Storm, RefusesTargetsOffThisMachine) {
    const auto status = run_storm("http://192.0.2.1:80/v1/notifications", {"--duration", "1"});
    EXPECT_TRUE(status.exited && status.code == 2) << status.describe();
    EXPECT_NE(read_file(dir() / "storm.err").find("loopback"), std::string::npos);
}

}  // namespace
}  // namespace herald::test
