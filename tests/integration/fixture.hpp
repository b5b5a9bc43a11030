#pragma once

#include "support/herald_peer.hpp"
#include "support/json_util.hpp"
#include "support/mail_parser.hpp"
#include "support/maildev_peer.hpp"
#include "support/metrics_text.hpp"
#include "support/mockmail_peer.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"
#include "support/smtp_recorder.hpp"
#include "support/temp_dir.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace herald::test {

// Base for the integration tests: a fresh temp dir per test (kept, with every peer's output,
// when the test fails, and its path printed), SIGPIPE ignored, and helpers that start peers the
// fixture owns: they live until the fixture is destroyed (heralds first, then the mail peers,
// then the temp dir), so a failure can still print their logs in TearDown.
class IntegrationTest : public ::testing::Test {
protected:
    void SetUp() override {
        ignore_sigpipe();
        dir_ = std::make_unique<TempDir>("herald-it");
    }

    void TearDown() override {
        if (!HasFailure()) {
            return;
        }
        dir_->keep();
        std::cerr << "[ evidence ] kept " << dir_->path() << "\n";
        for (const auto& herald : heralds_) {
            std::cerr << herald->logs() << "\n";
        }
        for (const auto& maildev : maildevs_) {
            std::cerr << maildev->log() << "\n";
        }
        for (const auto& mockmail : mockmails_) {
            std::cerr << mockmail->log() << "\n";
        }
    }

    const std::filesystem::path& dir() const { return dir_->path(); }

    static std::filesystem::path herald_binary() {
#ifdef HERALD_BINARY
        return HERALD_BINARY;
#else
        return {};
#endif
    }

    static std::optional<std::filesystem::path> mockmail_binary() {
#ifdef HERALD_MOCKMAIL_BINARY
        return std::filesystem::path{HERALD_MOCKMAIL_BINARY};
#else
        return std::nullopt;
#endif
    }

    // A herald under DIR/NAME, started unless `start` is false. Throws (failing the test) when
    // it does not become healthy.
    HeraldPeer& start_herald(HeraldOptions options,
                             const std::string& name = "herald",
                             bool start = true) {
        options.binary = herald_binary();
        heralds_.push_back(std::make_unique<HeraldPeer>(dir() / name, std::move(options)));
        if (start) {
            heralds_.back()->start();
        }
        return *heralds_.back();
    }

    MaildevPeer& start_maildev(MaildevOptions options = {}) {
        maildevs_.push_back(std::make_unique<MaildevPeer>(dir(), std::move(options)));
        return *maildevs_.back();
    }

    MockmailPeer& start_mockmail(MockmailOptions options = {}) {
        const auto binary = mockmail_binary();
        if (!binary) {
            throw std::runtime_error("herald-mockmail is not built in this tree");
        }
        options.binary = *binary;
        mockmails_.push_back(std::make_unique<MockmailPeer>(dir(), std::move(options)));
        return *mockmails_.back();
    }

    // A herald-mockmail that holds every send for `latency_ms` (provider() afterwards), and a
    // herald delivering to it over its http transport.
    HeraldPeer& start_herald_with_provider(int latency_ms, HeraldOptions options = {}) {
        MockmailOptions mock;
        mock.latency_ms = latency_ms;
        provider_ = &start_mockmail(mock);
        options.transport = provider_->send_url();
        return start_herald(std::move(options));
    }

    // The provider of start_herald_with_provider().
    MockmailPeer& provider() {
        return *provider_;
    }

    SmtpRecorder& start_recorder(SmtpRecorderOptions options = {}) {
        recorders_.push_back(std::make_unique<SmtpRecorder>(options));
        return *recorders_.back();
    }

    // A herald that delivers over plain SMTP to `maildev`.
    HeraldPeer& start_smtp_herald(MaildevPeer& maildev, HeraldOptions options = {}) {
        options.transport = maildev.smtp_url();
        return start_herald(std::move(options));
    }

    // What one accepted notification turned into at maildev.
    struct Delivered {
        std::string id;
        boost::json::value status;   // herald's GET body once the notification was sent
        boost::json::value message;  // maildev's JSON for the one message that arrived
        std::string raw;             // the DATA maildev received
        ParsedMail mail;             // mailparser's reading of `raw`
    };

    // POSTs `body`, expects 202, waits until herald reports it sent and exactly one message is
    // at maildev, reads and parses it, then empties maildev for the next case. Records a test
    // failure (and returns nullopt) at the first step that does not hold.
    std::optional<Delivered> deliver(HeraldPeer& herald,
                                     MaildevPeer& maildev,
                                     const std::string& body) {
        const auto response = herald.post_notification(body);
        const std::string id = accepted_id(response);
        if (id.empty()) {
            return std::nullopt;
        }
        Delivered out;
        out.id = id;
        auto status = herald.wait_for_status(id, {"sent", "failed"});
        if (!status || string_at(*status, "status") != "sent") {
            ADD_FAILURE() << "notification " << id << " was not sent: "
                          << (status ? json_text(*status) : std::string{"no status"});
            return std::nullopt;
        }
        out.status = std::move(*status);
        auto messages = maildev.wait_for_messages(1);
        if (messages.size() != 1) {
            ADD_FAILURE() << "expected exactly one message at maildev for " << id << ", got "
                          << messages.size();
            return std::nullopt;
        }
        out.message = std::move(messages[0]);
        out.raw = maildev.raw_source(string_at(out.message, "id"));
        out.mail = parse_mail(out.raw);
        maildev.delete_all();
        return out;
    }

    // The id of a 202 answer; "" (and a recorded failure) for anything else.
    static std::string accepted_id(const HttpResponse& response) {
        if (response.status != 202) {
            ADD_FAILURE() << "expected 202, got " << response.describe();
            return {};
        }
        const auto json = response.json();
        const std::string id = json ? string_at(*json, "id") : std::string{};
        if (id.empty()) {
            ADD_FAILURE() << "202 without an id: " << response.describe();
        }
        return id;
    }

private:
    std::unique_ptr<TempDir> dir_;
    std::vector<std::unique_ptr<MaildevPeer>> maildevs_;
    std::vector<std::unique_ptr<MockmailPeer>> mockmails_;
    std::vector<std::unique_ptr<SmtpRecorder>> recorders_;
    std::vector<std::unique_ptr<HeraldPeer>> heralds_;
    MockmailPeer* provider_ = nullptr;
};

// A Message-ID without its angle brackets, so herald's GET and the header compare.
inline std::string bare_message_id(std::string id) {
    if (id.size() >= 2 && id.front() == '<' && id.back() == '>') {
        id = id.substr(1, id.size() - 2);
    }
    return id;
}

inline HeraldOptions with_transport(std::string transport) {
    HeraldOptions options;
    options.transport = std::move(transport);
    return options;
}

inline HeraldOptions with_config(std::string toml) {
    HeraldOptions options;
    options.config_toml = std::move(toml);
    return options;
}

inline MaildevOptions maildev_on_port(std::uint16_t smtp_port) {
    MaildevOptions options;
    options.smtp_port = smtp_port;
    return options;
}

inline MaildevOptions maildev_hiding(std::vector<std::string> extensions) {
    MaildevOptions options;
    options.hide_extensions = std::move(extensions);
    return options;
}

// The upper-case verbs of SMTP command lines ("MAIL", "RCPT", …).
inline std::vector<std::string> smtp_verbs(const std::vector<std::string>& commands) {
    std::vector<std::string> verbs;
    for (const auto& line : commands) {
        std::string verb = line.substr(0, line.find_first_of(" :"));
        for (char& c : verb) {
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        verbs.push_back(verb);
    }
    return verbs;
}

// The header a problem+json answer names in its first `errors` entry; "" when none.
inline std::string problem_header(const HttpResponse& response) {
    const auto json = response.json();
    if (!json || !json->is_object()) {
        return {};
    }
    const auto* errors = json->as_object().if_contains("errors");
    if (errors == nullptr || !errors->is_array() || errors->as_array().empty()) {
        return {};
    }
    return string_at(errors->as_array()[0], "header");
}

// herald_intake_requests_total{outcome=OUTCOME} as herald's /metrics shows it now; -1 when absent.
inline double intake_count(HeraldPeer& herald, const std::string& outcome) {
    const auto scraped = herald.client().get("/metrics");
    return metric_value(scraped.body, "herald_intake_requests_total{outcome=\"" + outcome + "\"}")
        .value_or(-1);
}

// The regular files directly in `dir` (none when it cannot be read).
inline std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> files;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.is_regular_file()) {
            files.push_back(entry.path());
        }
    }
    return files;
}

// How many entries a directory holds (0 when it cannot be read).
inline std::size_t entries_in(const std::filesystem::path& dir) {
    std::size_t count = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator(dir, ec);
         !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
        ++count;
    }
    return count;
}

inline std::string json_body(const boost::json::object& object) {
    return json_text(object);
}

// The baseline body of the field cases, as an object a test changes before sending.
inline boost::json::object baseline_notification() {
    return boost::json::object{{"from", "Notifier <noreply@example.com>"},
                               {"to", boost::json::array{"alice@example.com"}},
                               {"subject", "Hello"},
                               {"text", "Hi"}};
}

}  // namespace herald::test
