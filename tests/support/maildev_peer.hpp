#pragma once

#include "support/process.hpp"
#include "support/wait.hpp"

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace herald::test {

struct MaildevOptions {
    std::uint16_t smtp_port = 0;  // 0: a free port (retried on a start-up collision)
    std::uint16_t web_port = 0;   // 0: a free port
    // SMTP extensions maildev must not advertise: any of PIPELINING, 8BITMIME, SMTPUTF8.
    std::vector<std::string> hide_extensions;
};

// A real SMTP server: maildev 2.2.1 from tools/node, bound to 127.0.0.1 only (SMTP and web),
// silent, storing mail under `work_dir`/maildev-N. The constructor starts it and returns once
// its web API answers and its SMTP port accepts (throws std::runtime_error with its output
// otherwise); the destructor kills it. Every call blocks; not thread-safe.
//
// Messages are maildev's JSON objects (id, subject, from, to, envelope {from, to: [{address}]},
// …); raw_source() is the DATA maildev received, dot-unstuffed, exactly as stored.
class MaildevPeer {
public:
    explicit MaildevPeer(const std::filesystem::path& work_dir, MaildevOptions options = {});
    ~MaildevPeer();
    MaildevPeer(const MaildevPeer&) = delete;
    MaildevPeer& operator=(const MaildevPeer&) = delete;

    std::uint16_t smtp_port() const { return smtp_port_; }
    std::uint16_t web_port() const { return web_port_; }
    std::string smtp_url() const { return "smtp://127.0.0.1:" + std::to_string(smtp_port_); }

    // GET /email. Throws std::runtime_error when maildev does not answer.
    std::vector<boost::json::value> messages();
    // GET /email/:id/source.
    std::string raw_source(const std::string& id);
    // DELETE /email/all, then waits until the list is empty.
    void delete_all();
    // Waits until at least `count` messages are stored; returns what is stored then.
    std::vector<boost::json::value> wait_for_messages(
        std::size_t count, std::chrono::milliseconds cap = kGenerousWait);

    bool running() { return process_.running(); }
    void stop() { process_.kill_and_wait(); }
    // maildev's stdout and stderr, for failure messages.
    std::string log() const;

private:
    std::string web_get(const std::string& target, int& status);

    std::filesystem::path work_dir_;
    std::uint16_t smtp_port_ = 0;
    std::uint16_t web_port_ = 0;
    Process process_;
};

}  // namespace herald::test
