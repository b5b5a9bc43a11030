// The herald command line as an operator meets it: a second instance on a busy store, usage
// errors, ids that are not ids, and settings that would be silently ignored.

#include "fixture.hpp"

#include "support/net.hpp"
#include "support/process.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herald::test {
namespace {

class Cli : public IntegrationTest {
protected:
    // Runs herald with `args` in the test's directory and waits for it to end.
    ExitStatus run_herald(std::vector<std::string> args,
                          const std::string& name,
                          std::map<std::string, std::string> env = {}) {
        ProcessOptions options;
        options.argv = {herald_binary().string()};
        options.argv.insert(options.argv.end(), args.begin(), args.end());
        options.env = std::move(env);
        options.cwd = dir();
        options.stdout_path = dir() / (name + ".out");
        options.stderr_path = dir() / (name + ".err");
        auto process = Process::start(options);
        const auto status = process.wait_for(kGenerousWait);
        if (!status) {
            process.kill_and_wait();
            ADD_FAILURE() << name << " did not end";
            return ExitStatus{};
        }
        output_ = process.stdout_text() + process.stderr_text();
        return *status;
    }

    std::string output_;
};

TEST_F(Cli, SecondServeOnTheSameStoreStopsBeforeTouchingIt) {
    auto& first = start_herald({});
    const auto status = run_herald({"serve",
                                    "--listen",
                                    "127.0.0.1:" + std::to_string(free_port()),
                                    "--store",
                                    "sqlite:" + first.store_path().string()},
                                   "second");
    EXPECT_TRUE(status.exited) << status.describe();
    EXPECT_EQ(status.code, 1) << output_;
    EXPECT_NE(output_.find("in use by another herald process"), std::string::npos) << output_;
    EXPECT_EQ(output_.find("leases taken over at start"), std::string::npos) << output_;
    EXPECT_TRUE(first.running());
}

TEST_F(Cli, UsageErrorsExitWithTwo) {
    const auto unknown_flag = run_herald({"serve", "--no-such-flag"}, "unknown-flag");
    EXPECT_EQ(unknown_flag.code, 2) << unknown_flag.describe() << output_;
    const auto no_command = run_herald({}, "no-command");
    EXPECT_EQ(no_command.code, 2) << no_command.describe() << output_;
    const auto help = run_herald({"--help"}, "help");
    EXPECT_EQ(help.code, 0) << help.describe() << output_;
}

TEST_F(Cli, StatusRefusesSomethingThatIsNotANotificationId) {
    const auto status =
        run_herald({"status", "--url", "http://127.0.0.1:9", "../../healthz"}, "status");
    EXPECT_EQ(status.code, 2) << status.describe() << output_;
    EXPECT_NE(output_.find("is not a notification id"), std::string::npos) << output_;
}

TEST_F(Cli, ConfigCheckRefusesWhatServeCouldNotUseWithExitTwo) {
    for (const std::string transport : {"smtp://", "smtp://127.0.0.1:25/path"}) {
        const auto status = run_herald({"config", "check", "--transport", transport}, "check");
        EXPECT_EQ(status.code, 2) << transport << ": " << output_;
    }
    const auto host = run_herald({"config", "check", "--listen", "foo.example:80"}, "check-host");
    EXPECT_EQ(host.code, 2) << output_;
}

TEST_F(Cli, ConfigCheckNamesAnUnknownHttpProfile) {
    const auto status =
        run_herald({"config", "check", "--set", "http.profile=postmark"}, "check-profile");
    EXPECT_EQ(status.code, 2) << status.describe() << output_;
    EXPECT_NE(output_.find("http.profile: must be one of: herald, sendgrid, mailgun"),
              std::string::npos)
        << output_;
}

TEST_F(Cli, ConfigCheckRefusesAMailgunProfileWithoutADomainInTheUrl) {
    const auto status = run_herald({"config",
                                    "check",
                                    "--transport",
                                    "https://api.mailgun.net/v3/messages",
                                    "--set",
                                    "http.profile=mailgun"},
                                   "check-mailgun");
    EXPECT_EQ(status.code, 2) << status.describe() << output_;
    EXPECT_NE(output_.find("http.profile = \"mailgun\" needs delivery.transport"),
              std::string::npos)
        << output_;
    const auto fine = run_herald({"config",
                                  "check",
                                  "--transport",
                                  "https://api.mailgun.net/v3/mg.example.com/messages",
                                  "--set",
                                  "http.profile=mailgun"},
                                 "check-mailgun-ok");
    EXPECT_EQ(fine.code, 0) << fine.describe() << output_;
    EXPECT_NE(output_.find("profile = \"mailgun\""), std::string::npos) << output_;
}

TEST_F(Cli, AMisspeltSettingVariableStopsServeAndConfigCheckNamingIt) {
    const std::map<std::string, std::string> misspelt{{"HERALD_SERVER_MAX_CONECTIONS", "5"}};
    const auto check = run_herald({"config", "check"}, "check-misspelt", misspelt);
    EXPECT_EQ(check.code, 2) << check.describe() << output_;
    EXPECT_NE(output_.find("HERALD_SERVER_MAX_CONECTIONS"), std::string::npos) << output_;
    const auto serve = run_herald(
        {"serve", "--listen", "127.0.0.1:0", "--store", "sqlite:" + (dir() / "m.db").string()},
        "serve-misspelt",
        misspelt);
    EXPECT_EQ(serve.code, 2) << serve.describe() << output_;
    EXPECT_NE(output_.find("HERALD_SERVER_MAX_CONECTIONS"), std::string::npos) << output_;
}

TEST_F(Cli, ServeWarnsAboutAnUnknownHeraldVariableOutsideTheSettings) {
    HeraldOptions options;
    options.env["HERALD_SERVERS"] = "5";
    auto& herald = start_herald(options);
    EXPECT_NE(herald.logs().find("unknown environment variable ignored"), std::string::npos)
        << herald.logs();
    EXPECT_NE(herald.logs().find("HERALD_SERVERS"), std::string::npos);
}

}  // namespace
}  // namespace herald::test
