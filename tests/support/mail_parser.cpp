#include "support/mail_parser.hpp"

#include "support/json_util.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

#include <fstream>
#include <stdexcept>

namespace herald::test {
namespace {

std::optional<std::string> optional_string(const boost::json::value& root, std::string_view key) {
    const auto* found = find_at(root, key);
    if (found == nullptr || !found->is_string()) {
        return std::nullopt;
    }
    return std::string{found->as_string()};
}

std::vector<MailAddress> addresses(const boost::json::value& root, std::string_view key) {
    std::vector<MailAddress> out;
    const auto* found = find_at(root, key);
    if (found == nullptr || !found->is_array()) {
        return out;
    }
    for (const auto& entry : found->as_array()) {
        out.push_back(MailAddress{string_at(entry, "name"), string_at(entry, "address")});
    }
    return out;
}

}  // namespace

ParsedMail parse_mail(std::string_view raw) {
    TempDir dir{"herald-parse"};
    const auto input = dir.path() / "message.eml";
    {
        std::ofstream out{input, std::ios::binary};
        out.write(raw.data(), static_cast<std::streamsize>(raw.size()));
    }
    ProcessOptions options;
    options.argv = {"node", parse_mail_script().string()};
    options.cwd = node_tools_dir();
    options.stdin_path = input;
    options.stdout_path = dir.path() / "out.json";
    options.stderr_path = dir.path() / "err.txt";
    Process node = Process::start(options);
    const auto status = node.wait_for(std::chrono::seconds{60});
    if (!status || !status->exited || status->code != 0) {
        throw std::runtime_error("parse-mail.js failed (" +
                                 (status ? status->describe() : std::string{"timed out"}) +
                                 "): " + tail(node.stderr_text()));
    }
    auto json = parse_json(node.stdout_text());
    if (!json) {
        throw std::runtime_error("parse-mail.js printed no JSON: " + tail(node.stdout_text()));
    }

    ParsedMail mail;
    mail.subject = optional_string(*json, "subject");
    mail.message_id = optional_string(*json, "messageId");
    mail.date = optional_string(*json, "date");
    mail.text = optional_string(*json, "text");
    mail.html = optional_string(*json, "html");
    mail.from = addresses(*json, "from");
    mail.to = addresses(*json, "to");
    mail.cc = addresses(*json, "cc");
    mail.bcc = addresses(*json, "bcc");
    mail.reply_to = addresses(*json, "replyTo");
    if (const auto* headers = find_at(*json, "headers"); headers && headers->is_object()) {
        for (const auto& field : headers->as_object()) {
            if (field.value().is_string()) {
                mail.headers[std::string{field.key()}] = std::string{field.value().as_string()};
            }
        }
    }
    if (const auto* lines = find_at(*json, "headerLines"); lines && lines->is_array()) {
        for (const auto& line : lines->as_array()) {
            mail.header_lines.emplace_back(string_at(line, "key"), string_at(line, "line"));
        }
    }
    mail.attachments = static_cast<int>(int_at(*json, "attachments", 0));
    mail.json = std::move(*json);
    return mail;
}

std::string normalize_newlines(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\r') {
            out.push_back('\n');
            if (i + 1 < text.size() && text[i + 1] == '\n') {
                ++i;
            }
        } else {
            out.push_back(c);
        }
    }
    return out;
}

bool body_matches(std::string_view decoded, std::string_view sent) {
    const std::string got = normalize_newlines(decoded);
    const std::string want = normalize_newlines(sent);
    if (got == want) {
        return true;
    }
    return !want.ends_with('\n') && got.size() == want.size() + 1 && got.ends_with('\n') &&
           got.compare(0, want.size(), want) == 0;
}

}  // namespace herald::test
