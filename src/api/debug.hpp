#pragma once

#include "http/router.hpp"

#include <chrono>

namespace herald::api {

// The longest block POST /debug/block accepts.
inline constexpr std::chrono::milliseconds kMaxDebugBlock{5000};

// POST /debug/block?ms=N (0 <= N <= 5000): blocks the I/O thread that handles it with a plain
// sleep for N ms, then answers 200 {"blocked_ms":N}; a missing, repeated or bad N gets 400
// (`invalid-query`). It exists to prove that the loop watchdog reports a stall with the route
// that caused it, and does exactly what herald must never do: while it sleeps, every other
// connection of that I/O thread waits. A debug aid only: serve.cpp adds it only when
// HERALD_DEBUG_BLOCKING_ROUTE=1, and it must never be enabled in production.
void add_debug_blocking_route(http::Router& router);

}  // namespace herald::api
