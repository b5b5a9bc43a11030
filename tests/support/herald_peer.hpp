#pragma once

#include "support/http_client.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace herald::test {

struct HeraldOptions {
    std::filesystem::path binary;  // the herald executable
    // --transport; empty: maildir:DIR/mail. An smtp:// transport also gets
    // HERALD_SMTP_STARTTLS=off (the test SMTP server speaks plain SMTP only).
    std::string transport;
    std::string config_toml;  // when set: written to DIR/herald.toml and passed with --config
    std::filesystem::path store_path;        // the SQLite file; empty: DIR/herald.db
    std::map<std::string, std::string> env;  // extra environment (HERALD_… settings)
    std::vector<std::string> extra_args;
    std::uint16_t port = 0;  // 0: a free port
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The real herald binary: `herald serve --listen 127.0.0.1:PORT --store sqlite:DIR/herald.db
// --transport …` (or the store at options.store_path) with cwd DIR and HERALD_LOG_LEVEL=debug,
// its output appended to DIR/herald.out and DIR/herald.err across restarts. start() returns once
// GET /healthz answers 200 and throws std::runtime_error with the logs when it does not. The
// destructor SIGKILLs a running herald. Restarting keeps DIR, so the store survives. Every call
// blocks; not thread-safe.
class HeraldPeer {
public:
    HeraldPeer(std::filesystem::path dir, HeraldOptions options);
    ~HeraldPeer();
    HeraldPeer(const HeraldPeer&) = delete;
    HeraldPeer& operator=(const HeraldPeer&) = delete;

    void start();
    ExitStatus kill9();
    // SIGTERM, then wait up to `cap`; nullopt when it is still running then.
    std::optional<ExitStatus> terminate(std::chrono::milliseconds cap = kGenerousWait);
    bool running() { return process_.running(); }
    pid_t pid() const { return process_.pid(); }

    std::uint16_t port() const { return port_; }
    std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
    const std::filesystem::path& dir() const { return dir_; }
    std::filesystem::path store_path() const {
        return options_.store_path.empty() ? dir_ / "herald.db" : options_.store_path;
    }
    std::filesystem::path maildir() const { return dir_ / "mail"; }
    HeraldOptions& options() { return options_; }

    HttpClient client() const { return HttpClient{base_url()}; }
    // POST /v1/notifications with a JSON body (Content-Type: application/json unless given).
    HttpResponse post_notification(const std::string& body, const HeaderList& headers = {});
    HttpResponse get_notification(const std::string& id, const HeaderList& headers = {});
    // Polls GET /v1/notifications/{id} until its status is one of `wanted`; returns the last
    // body seen (nullopt when none parsed). The caller asserts on the status it holds.
    std::optional<boost::json::value> wait_for_status(const std::string& id,
                                                      const std::vector<std::string>& wanted,
                                                      std::chrono::milliseconds cap = kGenerousWait,
                                                      const HeaderList& headers = {});

    // herald's stdout and stderr (tails), for failure messages.
    std::string logs() const;

private:
    std::filesystem::path dir_;
    HeraldOptions options_;
    std::uint16_t port_ = 0;
    Process process_;
};

}  // namespace herald::test
