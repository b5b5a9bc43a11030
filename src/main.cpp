// herald: an email notification service. This file only wires the command line to the
// subcommands in src/cli.
#include "cli/commands.hpp"

#include <CLI/CLI.hpp>

namespace {

void add_config_options(CLI::App& command, std::string& config_file, herald::config::Overrides& o) {
    command.add_option("-c,--config", config_file, "TOML configuration file")
        ->envname("HERALD_CONFIG");
    command.add_option("--listen", o.listen, "HOST:PORT to listen on (default 127.0.0.1:8080)");
    command.add_option(
        "--store", o.store, "store URL: sqlite:PATH (default sqlite:./var/herald.db)");
    command.add_option("--transport",
                       o.transport,
                       "maildir:PATH, smtp://HOST:PORT, smtps://HOST:PORT or http(s)://URL");
    command.add_option("--io-threads", o.io_threads, "I/O threads (0: one per core)");
    command.add_option("--log-level", o.log_level, "debug, info, warn or error");
    command.add_option("--otlp-endpoint",
                       o.otlp_endpoint,
                       "OTLP/HTTP collector base URL (spans POSTed to URL/v1/traces)");
    command.add_option("--set", o.assignments, "KEY=VALUE for any non-secret setting")->take_all();
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"herald: accepts email notifications over HTTP and delivers them"};
    app.require_subcommand(1);

    std::string config_file;
    herald::config::Overrides overrides;
    auto* serve = app.add_subcommand("serve", "run the service");
    add_config_options(*serve, config_file, overrides);

    auto* config = app.add_subcommand("config", "configuration commands");
    config->require_subcommand(1);
    auto* check = config->add_subcommand("check", "print the effective configuration");
    add_config_options(*check, config_file, overrides);

    herald::cli::SendArguments send_arguments;
    auto* send = app.add_subcommand("send", "submit a notification to a running herald");
    send->add_option("--url", send_arguments.url, "herald's base URL");
    send->add_option("--from", send_arguments.from, "sender")->required();
    send->add_option("--to", send_arguments.to, "recipient (repeatable)")->required();
    send->add_option("--cc", send_arguments.cc, "copy recipient (repeatable)");
    send->add_option("--subject", send_arguments.subject, "subject")->required();
    send->add_option("--text", send_arguments.text, "plain-text body");
    send->add_option("--html", send_arguments.html, "HTML body");

    std::string status_url = "http://127.0.0.1:8080";
    std::string status_id;
    auto* status = app.add_subcommand("status", "show a notification's status");
    status->add_option("--url", status_url, "herald's base URL");
    status->add_option("id", status_id, "notification id")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        // app.exit prints the help text or the usage error; a usage error exits with 2.
        return app.exit(error) == 0 ? 0 : 2;
    }

    if (serve->parsed()) {
        return herald::cli::serve(config_file, overrides);
    }
    if (check->parsed()) {
        return herald::cli::config_check(config_file, overrides);
    }
    if (send->parsed()) {
        return herald::cli::send(send_arguments);
    }
    return herald::cli::status(status_url, status_id);
}
