#include "observe/log.hpp"

#include "core/time.hpp"

#include <boost/json/serialize.hpp>
#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>

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
    boost::json::object line;
    line.reserve(fields.size() + 3);
    line["ts"] = core::format_rfc3339(core::unix_now_ms());
    line["level"] = level_name(level);
    line["msg"] = message;
    for (auto& field : fields) {
        line[field.key()] = std::move(field.value());
    }
    const std::string text = boost::json::serialize(line);
    if (g_logger) {
        g_logger->info(text);
        return;
    }
    std::fprintf(stderr, "%s\n", text.c_str());
}

}  // namespace herald::observe
