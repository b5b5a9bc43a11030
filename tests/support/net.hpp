#pragma once

#include "support/headers.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace herald::test {

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close). Another
// process may take it before the caller binds it: callers that start servers retry on failure.
std::uint16_t free_port();

// True when a TCP connect to 127.0.0.1:port succeeds (the connection is closed at once).
bool port_accepts(std::uint16_t port);

// One HTTP/1.1 response read off a raw connection.
struct RawResponse {
    int status = 0;
    std::string reason;
    Headers headers;
    std::string body;  // de-chunked when the response was chunked
    std::string raw;   // the exact bytes of this response
};

// A blocking TCP client socket to 127.0.0.1 for tests that need exact bytes on the wire:
// pipelining, slow or oversized requests, reading until the server closes. Each read has its
// own bounded wait. Sends use MSG_NOSIGNAL. Not thread-safe; move-only; closes on destruction.
class RawConnection {
public:
    // Throws std::runtime_error when the connection cannot be made.
    static RawConnection connect(std::uint16_t port);

    RawConnection() = default;
    RawConnection(RawConnection&& other) noexcept;
    RawConnection& operator=(RawConnection&& other) noexcept;
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;
    ~RawConnection();

    bool is_open() const { return fd_ >= 0; }
    // False when the peer has closed or reset the connection.
    bool send_all(std::string_view bytes);
    // Stops sending (FIN) but keeps reading.
    void shutdown_write();
    void close();
    // Closes with a TCP reset (SO_LINGER 0) instead of a FIN.
    void reset();

    // Reads one complete response (Content-Length, chunked, or until close), keeping any bytes
    // after it for the next call. nullopt when none completes within `cap` or the peer closes
    // first. A response to HEAD must be read with `head_request` = true.
    std::optional<RawResponse> read_response(
        std::chrono::milliseconds cap = std::chrono::milliseconds{30000},
        bool head_request = false);
    // Everything until the peer closes or `cap` passes.
    std::string read_until_closed(std::chrono::milliseconds cap = std::chrono::milliseconds{30000});
    // True when the peer closes (EOF or reset) within `cap`; bytes read meanwhile are kept.
    bool wait_closed(std::chrono::milliseconds cap = std::chrono::milliseconds{30000});

private:
    // Reads what is available within the time left; false on EOF/error or timeout.
    bool fill(std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    bool eof_ = false;
    std::string buffer_;
};

// A TCP listener on 127.0.0.1 that never accepts: the kernel completes connections into its
// backlog and nothing ever answers them. For a provider that "accepts TCP and never answers".
// Closes on destruction. Throws std::runtime_error when it cannot listen.
class SilentListener {
public:
    SilentListener();
    ~SilentListener();
    SilentListener(const SilentListener&) = delete;
    SilentListener& operator=(const SilentListener&) = delete;

    std::uint16_t port() const { return port_; }

private:
    int fd_ = -1;
    std::uint16_t port_ = 0;
};

// Parses one response at the front of `bytes`. nullopt when incomplete; `consumed` gets its
// length. When `at_eof`, a response without a length ends with the data.
std::optional<RawResponse> parse_response(std::string_view bytes,
                                          bool at_eof,
                                          bool head_request,
                                          std::size_t& consumed);

}  // namespace herald::test
