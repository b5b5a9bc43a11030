#include "observe/log.hpp"

#include "core/time.hpp"

#include <boost/json/serialize.hpp>
#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace herald::observe {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::info)};
std::shared_ptr<spdlog::logger> g_logger;  // set once by init_logging, before threads start

constexpr std::string_view level_name(LogLevel level) {
    switch (level) {
        case LogLevel::debug:
            return "debug";
        case LogLevel::info:
            return "info";
        case LogLevel::warn:
            return "warn";
        case LogLevel::error:
            return "error";
    }
    return "info";
}

// Warnings repeat when something degrades under load (a failing claim, a refused export, a
// stalled loop under a storm): each message gets at most kWarnBurst lines per kWarnWindow, and the
// first line after a window that suppressed some says how many ("suppressed"). Errors are not
// limited (a person must act on each), nor info and debug (their volume is set by log.level).
constexpr int kWarnBurst = 10;
constexpr std::chrono::seconds kWarnWindow{10};

struct WarnWindow {
    std::chrono::steady_clock::time_point started;
    int lines = 0;
    std::int64_t suppressed = 0;
};

// True when the line may be written; `suppressed` gets the count of the window before, if any.
bool admit_warning(std::string_view message, std::int64_t& suppressed) {
    static std::mutex mutex;
    static std::unordered_map<std::string, WarnWindow> windows;
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex);
    WarnWindow& window = windows[std::string{message}];
    if (now - window.started >= kWarnWindow) {
        suppressed = window.suppressed;
        window = WarnWindow{now, 0, 0};
    }
    if (window.lines >= kWarnBurst) {
        ++window.suppressed;
        return false;
    }
    ++window.lines;
    return true;
}

}  // namespace

void init_logging(LogLevel min_level) {
    g_min_level = static_cast<int>(min_level);
    if (g_logger) {
        return;
    }
    constexpr std::size_t kQueueLines = 8192;
    spdlog::init_thread_pool(kQueueLines, 1);
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    g_logger = std::make_shared<spdlog::async_logger>(
        "herald", sink, spdlog::thread_pool(), spdlog::async_overflow_policy::overrun_oldest);
    g_logger->set_pattern("%v");
    g_logger->set_level(spdlog::level::trace);
    g_logger->flush_on(spdlog::level::trace);
}

void shutdown_logging() {
    if (!g_logger) {
        return;
    }
    g_logger->flush();
    spdlog::shutdown();
    g_logger.reset();
}

bool parse_log_level(std::string_view text, LogLevel& out) {
    for (LogLevel level : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
        if (text == level_name(level)) {
            out = level;
            return true;
        }
    }
    return false;
}

bool log_enabled(LogLevel level) {
    return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed);
}

void log(LogLevel level, std::string_view message, boost::json::object fields) {
    if (!log_enabled(level)) {
        return;
    }
    std::int64_t suppressed = 0;
    if (level == LogLevel::warn && !admit_warning(message, suppressed)) {
        return;
    }
    boost::json::object line;
    line.reserve(fields.size() + 4);
    line["ts"] = core::format_rfc3339(core::unix_now_ms());
    line["level"] = level_name(level);
    line["msg"] = message;
    for (auto& field : fields) {
        line[field.key()] = std::move(field.value());
    }
    if (suppressed > 0) {
        line["suppressed"] = suppressed;
    }
    const std::string text = boost::json::serialize(line);
    if (g_logger) {
        g_logger->info(text);
        return;
    }
    std::fprintf(stderr, "%s\n", text.c_str());
}

}  // namespace herald::observe
