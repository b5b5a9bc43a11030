#pragma once

#include "config/settings.hpp"

#include <boost/system/result.hpp>

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace herald::config {

// Reads an environment variable; returns nullopt when unset. Injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvLookup process_environment();

// Settings given on the command line, highest precedence. `assignments` are "key=value" pairs
// with keys as in the TOML file ("server.max_connections=64"); secrets are refused there.
struct Overrides {
    std::optional<std::string> listen;
    std::optional<std::string> store;
    std::optional<std::string> transport;
    std::optional<int> io_threads;
    std::optional<std::string> log_level;
    std::optional<std::string> otlp_endpoint;
    std::vector<std::string> assignments;
};

// Builds the effective settings: embedded defaults, then the TOML file (when `config_file` is
// not empty; a missing or malformed file is an error), then the OpenTelemetry variables
// OTEL_EXPORTER_OTLP_ENDPOINT and OTEL_SERVICE_NAME, then HERALD_<SECTION>_<KEY> environment
// variables, then `overrides`. Every value is checked; the first problem found is returned as a
// one-line message naming the setting and where it came from. Runs once at start.
boost::system::result<Settings, std::string> load_settings(const std::string& config_file,
                                                           const EnvLookup& env,
                                                           const Overrides& overrides);

// Every HERALD_<SECTION>_<KEY> variable load_settings reads.
std::vector<std::string> environment_names();

// The names of the variables in this process's environment.
std::vector<std::string> process_environment_names();

// Refuses a variable among `names` that looks like a setting but names none: HERALD_ followed by
// a settings section (HERALD_DELIVERY_RATE_PER_SEC), like an unknown key in the file. Returns a
// one-line message naming it; nullopt when there is none. Other HERALD_ variables (the test
// switches, build scripts' own) are left alone.
std::optional<std::string> check_environment_names(const std::vector<std::string>& names);

// The effective settings as TOML, with every secret replaced by "***" (or "" when unset).
std::string describe(const Settings& settings);

// "HOST:PORT" or "[V6]:PORT" split into its parts; port 0 is allowed (the OS picks one).
boost::system::result<std::pair<std::string, unsigned short>, std::string> split_host_port(
    const std::string& text);

// "550, 554" → {550, 554}: comma-separated SMTP 5xx reply codes (blanks around each allowed; ""
// gives none). nullopt when any item is not a code from 500 to 599.
std::optional<std::vector<int>> parse_reply_codes(const std::string& text);

}  // namespace herald::config
