#include "support/smtp_recorder.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cctype>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdexcept>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

namespace herald::test {
namespace {

bool send_text(int fd, std::string_view text) {
    while (!text.empty()) {
        const ssize_t sent = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        text.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
}

std::string upper_verb(const std::string& line) {
    std::string verb = line.substr(0, line.find(' '));
    for (char& c : verb) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    return verb;
}

}  // namespace

SmtpRecorder::SmtpRecorder(SmtpRecorderOptions options) : options_(options) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) {
        throw std::runtime_error(std::string{"socket: "} + ::strerror(errno));
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listen_fd_, 64) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0 ||
        ::pipe2(stop_pipe_, O_CLOEXEC) != 0) {
        const int error = errno;
        ::close(listen_fd_);
        throw std::runtime_error(std::string{"SmtpRecorder listen: "} + ::strerror(error));
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

SmtpRecorder::~SmtpRecorder() {
    (void)!::write(stop_pipe_[1], "x", 1);
    acceptor_.join();
    {
        std::lock_guard lock{mutex_};
        released_ = true;  // a session waiting to answer must not block the join below
        released_changed_.notify_all();
        for (int fd : open_fds_) {
            ::shutdown(fd, SHUT_RDWR);
        }
    }
    for (auto& thread : threads_) {
        thread.join();
    }
    for (int fd : open_fds_) {
        ::close(fd);
    }
    ::close(listen_fd_);
    ::close(stop_pipe_[0]);
    ::close(stop_pipe_[1]);
}

std::vector<SmtpEvent> SmtpRecorder::events() const {
    std::lock_guard lock{mutex_};
    return {events_.begin() + static_cast<std::ptrdiff_t>(first_), events_.end()};
}

std::vector<std::string> SmtpRecorder::commands() const {
    std::vector<std::string> out;
    for (auto& event : events()) {
        if (!event.is_data) {
            out.push_back(std::move(event.text));
        }
    }
    return out;
}

std::vector<std::string> SmtpRecorder::payloads() const {
    std::vector<std::string> out;
    for (auto& event : events()) {
        if (event.is_data) {
            out.push_back(std::move(event.text));
        }
    }
    return out;
}

void SmtpRecorder::clear() {
    std::lock_guard lock{mutex_};
    first_ = events_.size();
}

void SmtpRecorder::release_replies() {
    std::lock_guard lock{mutex_};
    released_ = true;
    released_changed_.notify_all();
}

void SmtpRecorder::accept_loop() {
    for (;;) {
        pollfd waiting[2] = {{listen_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
        if (::poll(waiting, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        if (waiting[1].revents != 0) {
            return;
        }
        const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        std::lock_guard lock{mutex_};
        open_fds_.push_back(fd);
        const std::size_t index = connections_++;
        threads_.emplace_back([this, fd, index] { serve(fd, index); });
    }
}

void SmtpRecorder::serve(int fd, std::size_t index) {
    const auto record = [&](bool is_data, std::string text) {
        std::lock_guard lock{mutex_};
        events_.push_back(SmtpEvent{index, is_data, std::move(text)});
    };
    std::string buffer;
    bool in_data = false;
    bool open = send_text(fd, "220 recorder ESMTP\r\n");
    while (open) {
        if (in_data) {
            // The payload ends at CRLF "." CRLF; a payload may also be empty (".\r\n" first).
            std::size_t end = std::string::npos;
            std::size_t payload_length = 0;
            if (buffer.starts_with(".\r\n")) {
                end = 3;
                payload_length = 0;
            } else if (const auto at = buffer.find("\r\n.\r\n"); at != std::string::npos) {
                end = at + 5;
                payload_length = at + 2;
            }
            if (end != std::string::npos) {
                record(true, buffer.substr(0, payload_length));
                buffer.erase(0, end);
                in_data = false;
                if (options_.hold_data_replies) {
                    std::unique_lock lock{mutex_};
                    released_changed_.wait(lock, [this] { return released_; });
                }
                open = send_text(fd, "250 2.0.0 recorded\r\n");
                continue;
            }
        } else if (const auto at = buffer.find("\r\n"); at != std::string::npos) {
            const std::string line = buffer.substr(0, at);
            buffer.erase(0, at + 2);
            record(false, line);
            const std::string verb = upper_verb(line);
            if (verb == "EHLO") {
                open = send_text(fd,
                                 std::string{"250-recorder\r\n250-8BITMIME\r\n250-PIPELINING\r\n"} +
                                     (options_.smtputf8 ? "250-SMTPUTF8\r\n" : "") +
                                     "250 SIZE 52428800\r\n");
            } else if (verb == "HELO" || verb == "MAIL" || verb == "RCPT" || verb == "RSET" ||
                       verb == "NOOP") {
                open = send_text(fd, "250 OK\r\n");
            } else if (verb == "DATA") {
                in_data = true;
                open = send_text(fd, "354 go ahead\r\n");
            } else if (verb == "QUIT") {
                send_text(fd, "221 bye\r\n");
                break;
            } else {
                open = send_text(fd, "502 not implemented\r\n");
            }
            continue;
        }
        char chunk[16384];
        const ssize_t got = ::recv(fd, chunk, sizeof chunk, 0);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            break;
        }
        buffer.append(chunk, static_cast<std::size_t>(got));
    }
    ::shutdown(fd, SHUT_RDWR);
}

std::string dot_unstuff(const std::string& wire_data) {
    std::string out;
    out.reserve(wire_data.size());
    bool line_start = true;
    for (std::size_t i = 0; i < wire_data.size(); ++i) {
        const char c = wire_data[i];
        if (line_start && c == '.') {
            line_start = false;
            continue;
        }
        out.push_back(c);
        line_start = c == '\n' && i > 0 && wire_data[i - 1] == '\r';
    }
    return out;
}

}  // namespace herald::test
