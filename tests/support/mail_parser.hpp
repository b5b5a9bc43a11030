#pragma once

#include <boost/json/value.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace herald::test {

struct MailAddress {
    std::string name;
    std::string address;
    friend bool operator==(const MailAddress&, const MailAddress&) = default;
};

// What mailparser (npm, simpleParser) makes of a raw message: decoded values, as a mail client
// would show them. Text bodies come back with "\n" line ends.
struct ParsedMail {
    std::optional<std::string> subject;
    std::optional<std::string> message_id;  // with angle brackets, as in the header
    std::optional<std::string> date;        // ISO 8601
    std::optional<std::string> text;
    std::optional<std::string> html;
    std::vector<MailAddress> from;
    std::vector<MailAddress> to;
    std::vector<MailAddress> cc;
    std::vector<MailAddress> bcc;
    std::vector<MailAddress> reply_to;
    std::map<std::string, std::string> headers;  // lower-case name -> decoded value
    std::vector<std::pair<std::string, std::string>> header_lines;  // lower-case name, raw line
    int attachments = 0;
    boost::json::value json;  // everything parse-mail.js printed
};

// Runs `node tools/node/parse-mail.js` on `raw` and reads its JSON. Blocks up to a minute.
// Throws std::runtime_error (with the script's stderr) when the message cannot be parsed.
ParsedMail parse_mail(std::string_view raw);

// Line-end normalisation used to compare bodies: CRLF, lone CR and lone LF each become "\n".
std::string normalize_newlines(std::string_view text);

// True when a decoded body equals `sent` after normalising line ends. A single trailing "\n"
// that the decoded body has and `sent` lacks is tolerated: a MIME body ends with a line break.
bool body_matches(std::string_view decoded, std::string_view sent);

}  // namespace herald::test
