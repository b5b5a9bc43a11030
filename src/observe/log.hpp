#pragma once

#include <boost/json/object.hpp>

#include <string_view>

namespace herald::observe {

enum class LogLevel { debug, info, warn, error };

// Starts the process-wide logger: one JSON object per line on stderr, written by a background
// thread. A full queue drops the oldest line instead of blocking the caller, so logging never
// stalls a request. Call once at start; before it, lines go to stderr synchronously.
void init_logging(LogLevel min_level);
// Flushes and stops the background thread. Safe to call more than once.
void shutdown_logging();

bool parse_log_level(std::string_view text, LogLevel& out);
bool log_enabled(LogLevel level);

// Writes {"ts":…,"level":…,"msg":message, …fields}. `message` is short and fixed; variable
// data goes in fields (request_id, notification_id, trace_id, span_id where known). Never pass
// bodies, tokens or credentials. Thread-safe. Warnings are rate-limited per message: at most 10
// lines in 10 s, the next one after carrying "suppressed": N for the lines left out.
void log(LogLevel level, std::string_view message, boost::json::object fields = {});

inline void debug(std::string_view message, boost::json::object fields = {}) {
    log(LogLevel::debug, message, std::move(fields));
}
inline void info(std::string_view message, boost::json::object fields = {}) {
    log(LogLevel::info, message, std::move(fields));
}
inline void warn(std::string_view message, boost::json::object fields = {}) {
    log(LogLevel::warn, message, std::move(fields));
}
inline void error(std::string_view message, boost::json::object fields = {}) {
    log(LogLevel::error, message, std::move(fields));
}

}  // namespace herald::observe
