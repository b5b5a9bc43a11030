#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace herald::test {

struct SmtpRecorderOptions {
    bool smtputf8 = false;  // advertise SMTPUTF8 in the EHLO reply
    // Record each message when its final "." arrives but hold the 250 that answers it until
    // release_replies(): the message is at the peer while its sender still waits for the outcome.
    bool hold_data_replies = false;
};

// One thing a client sent, in arrival order.
struct SmtpEvent {
    std::size_t connection = 0;  // which accepted connection (0, 1, …)
    bool is_data = false;
    // A command line as sent, without its CRLF; or a DATA payload as sent: dot-stuffed, up to
    // and including the CRLF before the terminating ".".
    std::string text;
};

// A minimal SMTP server on 127.0.0.1 (port chosen by the kernel) that accepts everything and
// records the exact bytes of every command and DATA payload, so tests can check the wire that
// maildev hides (it dot-unstuffs DATA and shows IDN domains decoded). Replies: 220 greeting,
// EHLO (8BITMIME, PIPELINING, optionally SMTPUTF8), 250 to HELO/MAIL/RCPT/RSET/NOOP, 354 to
// DATA, 250 after the terminator (held until release_replies() with hold_data_replies), 221 to
// QUIT, 502 to anything else. One thread per connection; sessions() and release_replies() may be
// called from any thread. The destructor closes every socket and joins the threads. Throws
// std::runtime_error when it cannot listen.
class SmtpRecorder {
public:
    explicit SmtpRecorder(SmtpRecorderOptions options = {});
    ~SmtpRecorder();
    SmtpRecorder(const SmtpRecorder&) = delete;
    SmtpRecorder& operator=(const SmtpRecorder&) = delete;

    std::uint16_t port() const { return port_; }
    std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
    // What arrived since the last clear(), oldest first (a reused connection continues).
    std::vector<SmtpEvent> events() const;
    std::vector<std::string> commands() const;
    std::vector<std::string> payloads() const;
    void clear();
    // Sends the held 250s, and from now on answers every message at once.
    void release_replies();

private:
    void accept_loop();
    void serve(int fd, std::size_t index);

    SmtpRecorderOptions options_;
    int listen_fd_ = -1;
    int stop_pipe_[2] = {-1, -1};
    std::uint16_t port_ = 0;
    mutable std::mutex mutex_;
    std::vector<SmtpEvent> events_;
    std::size_t first_ = 0;  // events before this index were cleared
    std::size_t connections_ = 0;
    std::condition_variable released_changed_;
    bool released_ = false;  // held replies may go (release_replies() or the destructor)
    std::vector<int> open_fds_;
    std::vector<std::thread> threads_;
    std::thread acceptor_;
};

// DATA as the client meant it: a leading "." removed from each line (RFC 5321 4.5.2).
std::string dot_unstuff(const std::string& wire_data);

}  // namespace herald::test
