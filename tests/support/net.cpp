#include "support/net.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdexcept>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

namespace herald::test {
namespace {

sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) {
        text.remove_suffix(1);
    }
    return text;
}

bool contains_token(std::string_view value, std::string_view token) {
    std::string lower;
    for (char c : value) {
        lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    return lower.find(token) != std::string::npos;
}

// De-chunks `bytes` from `start`. nullopt when incomplete; `end` gets the offset after the
// last chunk and trailers.
std::optional<std::string> dechunk(std::string_view bytes, std::size_t start, std::size_t& end) {
    std::string body;
    std::size_t at = start;
    for (;;) {
        const auto line_end = bytes.find("\r\n", at);
        if (line_end == std::string_view::npos) {
            return std::nullopt;
        }
        const std::string size_text{bytes.substr(at, line_end - at)};
        std::size_t size = 0;
        try {
            size = std::stoul(size_text, nullptr, 16);
        } catch (const std::exception&) {
            throw std::runtime_error("bad chunk size line: " + size_text);
        }
        at = line_end + 2;
        if (size == 0) {
            // Trailers end with an empty line.
            for (;;) {
                const auto trailer_end = bytes.find("\r\n", at);
                if (trailer_end == std::string_view::npos) {
                    return std::nullopt;
                }
                const bool empty = trailer_end == at;
                at = trailer_end + 2;
                if (empty) {
                    end = at;
                    return body;
                }
            }
        }
        if (bytes.size() < at + size + 2) {
            return std::nullopt;
        }
        body.append(bytes.substr(at, size));
        at += size + 2;
    }
}

}  // namespace

std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::runtime_error(std::string{"socket: "} + ::strerror(errno));
    }
    sockaddr_in address = loopback(0);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        const int error = errno;
        ::close(fd);
        throw std::runtime_error(std::string{"bind: "} + ::strerror(error));
    }
    socklen_t length = sizeof address;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    ::close(fd);
    return ntohs(address.sin_port);
}

bool port_accepts(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return false;
    }
    sockaddr_in address = loopback(port);
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
}

std::optional<RawResponse> parse_response(std::string_view bytes,
                                          bool at_eof,
                                          bool head_request,
                                          std::size_t& consumed) {
    const auto header_end = bytes.find("\r\n\r\n");
    if (header_end == std::string_view::npos) {
        return std::nullopt;
    }
    RawResponse response;
    const std::string_view head = bytes.substr(0, header_end);
    auto line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
        throw std::runtime_error("not an HTTP/1.x status line: " + std::string{status_line});
    }
    response.status = std::stoi(std::string{status_line.substr(9, 3)});
    response.reason = std::string{trim(status_line.size() > 13 ? status_line.substr(13) : "")};
    while (line_end != std::string_view::npos) {
        const auto start = line_end + 2;
        line_end = head.find("\r\n", start);
        const std::string_view line = head.substr(start, line_end - start);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) {
            throw std::runtime_error("bad header line: " + std::string{line});
        }
        response.headers.add(std::string{line.substr(0, colon)},
                             std::string{trim(line.substr(colon + 1))});
    }

    const std::size_t body_start = header_end + 4;
    const bool no_body = head_request || response.status / 100 == 1 || response.status == 204 ||
                         response.status == 304;
    std::size_t end = body_start;
    if (no_body) {
        end = body_start;
    } else if (const auto te = response.headers.get("Transfer-Encoding");
               te && contains_token(*te, "chunked")) {
        auto body = dechunk(bytes, body_start, end);
        if (!body) {
            return std::nullopt;
        }
        response.body = std::move(*body);
    } else if (const auto length = response.headers.get("Content-Length")) {
        const std::size_t size = std::stoul(*length);
        if (bytes.size() < body_start + size) {
            return std::nullopt;
        }
        response.body = std::string{bytes.substr(body_start, size)};
        end = body_start + size;
    } else {
        if (!at_eof) {
            return std::nullopt;
        }
        response.body = std::string{bytes.substr(body_start)};
        end = bytes.size();
    }
    response.raw = std::string{bytes.substr(0, end)};
    consumed = end;
    return response;
}

RawConnection RawConnection::connect(std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        throw std::runtime_error(std::string{"socket: "} + ::strerror(errno));
    }
    sockaddr_in address = loopback(port);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        const int error = errno;
        ::close(fd);
        throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " +
                                 ::strerror(error));
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    RawConnection connection;
    connection.fd_ = fd;
    return connection;
}

RawConnection::RawConnection(RawConnection&& other) noexcept
    : fd_(other.fd_), eof_(other.eof_), buffer_(std::move(other.buffer_)) {
    other.fd_ = -1;
}

RawConnection& RawConnection::operator=(RawConnection&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = other.fd_;
        eof_ = other.eof_;
        buffer_ = std::move(other.buffer_);
        other.fd_ = -1;
    }
    return *this;
}

RawConnection::~RawConnection() {
    close();
}

void RawConnection::close() {
    if (fd_ >= 0) {
        ::close(fd_);
        fd_ = -1;
    }
}

void RawConnection::reset() {
    if (fd_ >= 0) {
        const linger abortive{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &abortive, sizeof(abortive));
    }
    close();
}

void RawConnection::shutdown_write() {
    if (fd_ >= 0) {
        ::shutdown(fd_, SHUT_WR);
    }
}

bool RawConnection::send_all(std::string_view bytes) {
    while (!bytes.empty()) {
        if (fd_ < 0) {
            return false;
        }
        const ssize_t sent = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) {
                continue;
            }
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
}

bool RawConnection::fill(std::chrono::steady_clock::time_point deadline) {
    if (fd_ < 0) {
        eof_ = true;
    }
    if (eof_) {
        return false;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
        return false;
    }
    pollfd waiting{fd_, POLLIN, 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(left.count()));
    if (ready <= 0) {
        return false;
    }
    char chunk[16384];
    const ssize_t got = ::recv(fd_, chunk, sizeof chunk, 0);
    if (got <= 0) {
        if (got < 0 && errno == EINTR) {
            return true;
        }
        eof_ = true;
        return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(got));
    return true;
}

std::optional<RawResponse> RawConnection::read_response(std::chrono::milliseconds cap,
                                                        bool head_request) {
    const auto deadline = std::chrono::steady_clock::now() + cap;
    for (;;) {
        std::size_t consumed = 0;
        auto response = parse_response(buffer_, eof_, head_request, consumed);
        if (response) {
            buffer_.erase(0, consumed);
            return response;
        }
        if (!fill(deadline)) {
            if (eof_) {
                // One last parse: a response delimited by the close.
                response = parse_response(buffer_, true, head_request, consumed);
                if (response) {
                    buffer_.erase(0, consumed);
                }
                return response;
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                return std::nullopt;
            }
        }
    }
}

std::string RawConnection::read_until_closed(std::chrono::milliseconds cap) {
    wait_closed(cap);
    std::string out = std::move(buffer_);
    buffer_.clear();
    return out;
}

bool RawConnection::wait_closed(std::chrono::milliseconds cap) {
    const auto deadline = std::chrono::steady_clock::now() + cap;
    while (!eof_) {
        if (!fill(deadline) && !eof_ && std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
    }
    return true;
}

SilentListener::SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        throw std::runtime_error("silent listener: socket failed");
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof(address);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
        ::listen(fd_, 1024) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        ::close(fd_);
        throw std::runtime_error("silent listener: cannot listen");
    }
    port_ = ntohs(address.sin_port);
}

SilentListener::~SilentListener() {
    if (fd_ >= 0) {
        ::close(fd_);
    }
}

}  // namespace herald::test
