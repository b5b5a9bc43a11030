// The field cases of /work/shared/cases/mail-input.md (M1–M7), end to end: the real herald, a
// real SMTP server (maildev) or the mock email API, and mailparser reading what arrived.

#include "fixture.hpp"

#include "support/mime_checks.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

namespace herald::test {
namespace {

using boost::json::array;
using boost::json::object;

class MailInput : public IntegrationTest {
protected:
    // Checks a 400 problem+json whose errors name a field under `pointer_prefix`.
    static void expect_field_problem(const HttpResponse& response,
                                     const std::string& pointer_prefix) {
        EXPECT_EQ(response.status, 400) << response.describe();
        EXPECT_EQ(
            response.headers.get("Content-Type").value_or("").find("application/problem+json"), 0U)
            << response.describe();
        const auto json = response.json();
        ASSERT_TRUE(json.has_value()) << response.describe();
        EXPECT_EQ(int_at(*json, "status", 0), 400) << response.body;
        EXPECT_FALSE(string_at(*json, "title").empty()) << response.body;
        const auto* errors = find_at(*json, "errors");
        ASSERT_TRUE(errors != nullptr && errors->is_array()) << response.body;
        bool named = false;
        for (const auto& error : errors->as_array()) {
            named = named || string_at(error, "pointer").starts_with(pointer_prefix);
        }
        EXPECT_TRUE(named) << "no error names " << pointer_prefix << ": " << response.body;
    }

    // Every raw-source property a provider must see for any accepted message.
    static void expect_well_formed(const std::string& raw) {
        EXPECT_TRUE(only_crlf_line_ends(raw)) << "bare CR or LF in:\n" << raw;
        EXPECT_LE(longest_line(raw), 998U);
        EXPECT_FALSE(has_lone_dot_line(raw)) << raw;
        EXPECT_TRUE(all_ascii(header_section(raw))) << header_section(raw);
        for (const auto line : crlf_lines(body_section(raw))) {
            EXPECT_FALSE(line.starts_with(".")) << "body line starts with '.': " << line;
        }
    }
};

// ---- M1: CR/LF injection into headers --------------------------------------------------------

TEST_F(MailInput, M1HeaderInjectionIsRefusedAndNothingReachesTheServer) {
    auto& maildev = start_maildev();
    auto& herald = start_smtp_herald(maildev);
    const auto with = [](const char* key, boost::json::value value) {
        auto body = baseline_notification();
        body[key] = std::move(value);
        return body;
    };
    const std::vector<std::pair<object, std::string>> cases = {
        {with("subject", "Invoice ready\r\nBcc: spy@example.net"), "#/subject"},
        {with("subject", "Hi\n\nbody starts here"), "#/subject"},
        {with("subject", "A\rBcc: spy@example.net"), "#/subject"},
        {with("headers", object{{"X-Campaign", "spring\r\nBcc: spy@example.net"}}), "#/headers"},
        {with("headers", object{{"X-Ok\r\nBcc", "x"}}), "#/headers"},
        {with("headers", object{{"X Bad Name", "v"}}), "#/headers"},
        {with("headers", object{{"Bcc", "spy@example.net"}}), "#/headers"},
        {with("to",
              array{object{{"name", "Alice\r\nBcc: spy@example.net"},
                           {"address", "alice@example.com"}}}),
         "#/to"},
        {with("to", array{"alice@example.com\r\nBcc: spy@example.net"}), "#/to"},
        {with("cc", array{"bob@example.com\nX-Injected: 1"}), "#/cc"},
        {with("from", "Support\r\nReply-To: spy@example.net <noreply@example.com>"), "#/from"},
    };
    for (const auto& [body, pointer] : cases) {
        SCOPED_TRACE(json_body(body));
        expect_field_problem(herald.post_notification(json_body(body)), pointer);
    }

    // Regression guard: a display name that needs no encoding goes through on one line. Once it
    // has arrived the dispatcher has run, so anything wrongly stored before it would be there too.
    auto guard = baseline_notification();
    guard["to"] = array{object{{"name", "Alice Example"}, {"address", "alice@example.com"}}};
    const std::string id = accepted_id(herald.post_notification(json_body(guard)));
    ASSERT_FALSE(id.empty());
    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    ASSERT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
    const auto messages = maildev.wait_for_messages(1);
    ASSERT_EQ(messages.size(), 1U) << "only the guard may arrive";
    for (const auto& message : messages) {
        const std::string raw = maildev.raw_source(string_at(message, "id"));
        EXPECT_EQ(raw.find("spy@example.net"), std::string::npos) << raw;
        EXPECT_EQ(raw.find("X-Injected"), std::string::npos) << raw;
        EXPECT_EQ(raw_header(raw, "To"), "To: Alice Example <alice@example.com>\r\n") << raw;
        EXPECT_EQ(json_text(message).find("spy@example.net"), std::string::npos);
        expect_well_formed(raw);
    }
}

// ---- M2: SMTP smuggling through the body -----------------------------------------------------

std::string smuggling_body(const std::string& first_terminator) {
    return "line one" + first_terminator +
           "MAIL FROM:<ceo@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n"
           "Subject: smuggled\r\n\r\nsecond\r\n.\r\nline after";
}

TEST_F(MailInput, M2SmugglingSequencesInTextOrHtmlArriveAsOneMessageWithTheBodyIntact) {
    auto& maildev = start_maildev();
    auto& herald = start_smtp_herald(maildev);
    const std::vector<std::string> terminators = {
        "\n.\r\n", "\n.\n", "\r.\r\n", "\r\n.\r", "\r\r\n.\r\n"};
    for (const char* part : {"text", "html"}) {
        for (std::size_t i = 0; i < terminators.size(); ++i) {
            const std::string subject = std::string{"M2 "} + part + " " + std::to_string(i + 1);
            const std::string content = smuggling_body(terminators[i]);
            SCOPED_TRACE(subject);
            auto body = baseline_notification();
            body.erase("text");
            body[part] = content;
            body["subject"] = subject;
            const auto delivered = deliver(herald, maildev, json_body(body));
            ASSERT_TRUE(delivered.has_value());
            EXPECT_EQ(delivered->mail.subject, subject);
            expect_well_formed(delivered->raw);
            const auto& decoded =
                std::string{part} == "text" ? delivered->mail.text : delivered->mail.html;
            EXPECT_TRUE(body_matches(decoded.value_or(""), content))
                << "decoded: " << json_text(boost::json::value(decoded.value_or("<none>")))
                << "\nsent: " << json_text(boost::json::value(content));
            const auto* envelope_to = find_path(delivered->message, "envelope.to");
            ASSERT_NE(envelope_to, nullptr);
            EXPECT_EQ(envelope_to->as_array().size(), 1U) << json_text(delivered->message);
            EXPECT_EQ(string_at(*find_path(delivered->message, "envelope.from"), "address"),
                      "noreply@example.com");
        }
    }
    // deliver() saw exactly one message per request; nothing smuggled arrived afterwards.
    for (const auto& message : maildev.messages()) {
        ADD_FAILURE() << "unexpected message: " << json_text(message);
    }
}

// What must hold on the wire for any one accepted message: one transaction, CRLF only, and no
// line that starts with '.' (herald writes none, so curl stuffs none).
void expect_one_clean_transaction(const SmtpRecorder& recorder, std::size_t recipients) {
    const auto verbs = smtp_verbs(recorder.commands());
    EXPECT_EQ(std::count(verbs.begin(), verbs.end(), "MAIL"), 1) << ::testing::PrintToString(verbs);
    EXPECT_EQ(std::count(verbs.begin(), verbs.end(), "RCPT"), static_cast<long>(recipients))
        << ::testing::PrintToString(verbs);
    EXPECT_EQ(std::count(verbs.begin(), verbs.end(), "DATA"), 1) << ::testing::PrintToString(verbs);
    for (const auto& verb : verbs) {
        EXPECT_TRUE(verb == "EHLO" || verb == "HELO" || verb == "MAIL" || verb == "RCPT" ||
                    verb == "DATA" || verb == "QUIT" || verb == "RSET" || verb == "NOOP")
            << "unexpected command " << verb;
    }
    const auto payloads = recorder.payloads();
    ASSERT_EQ(payloads.size(), 1U);
    EXPECT_TRUE(only_crlf_line_ends(payloads[0])) << payloads[0];
    EXPECT_LE(longest_line(payloads[0]), 998U);
    for (const auto line : crlf_lines(payloads[0])) {
        EXPECT_FALSE(line.starts_with(".")) << "line starts with '.' on the wire: " << line;
    }
}

// Waits for herald to report `id` sent and for the recorder to have seen the message.
void expect_sent_to_recorder(HeraldPeer& herald, SmtpRecorder& recorder, const std::string& id) {
    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    ASSERT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
    ASSERT_TRUE(wait_until([&] { return !recorder.payloads().empty(); }));
}

TEST_F(MailInput, M2SmugglingSequencesReachTheWireAsOneTransaction) {
    auto& recorder = start_recorder();
    auto& herald = start_herald(with_transport(recorder.url()));
    const std::vector<std::string> terminators = {
        "\n.\r\n", "\n.\n", "\r.\r\n", "\r\n.\r", "\r\r\n.\r\n"};
    for (const char* part : {"text", "html"}) {
        for (std::size_t i = 0; i < terminators.size(); ++i) {
            SCOPED_TRACE(std::string{part} + " variant " + std::to_string(i + 1));
            recorder.clear();
            auto body = baseline_notification();
            body.erase("text");
            body[part] = smuggling_body(terminators[i]);
            const std::string id = accepted_id(herald.post_notification(json_body(body)));
            ASSERT_FALSE(id.empty());
            expect_sent_to_recorder(herald, recorder, id);
            expect_one_clean_transaction(recorder, 1);
            for (const auto& command : recorder.commands()) {
                EXPECT_EQ(command.find("ceo@example.net"), std::string::npos) << command;
            }
        }
    }
}

// ---- M3: dot-stuffing ------------------------------------------------------------------------

TEST_F(MailInput, M3LeadingDotsSurviveFirstAndLastLinesIncluded) {
    auto& maildev = start_maildev();
    auto& herald = start_smtp_herald(maildev);
    const std::string text =
        ".first line starts with a dot\nhello\n.\nworld\n..two dots\n.hidden\n.";
    auto body = baseline_notification();
    body["text"] = text;
    const auto delivered = deliver(herald, maildev, json_body(body));
    ASSERT_TRUE(delivered.has_value());
    expect_well_formed(delivered->raw);
    EXPECT_TRUE(body_matches(delivered->mail.text.value_or(""), text))
        << json_text(boost::json::value(delivered->mail.text.value_or("<none>")));
}

// Lines of repeated "192.168.10.20", each starting at a different offset, so that wherever
// quoted-printable puts its soft breaks one of them lands just before a '.'.
std::string dotted_lines(std::size_t width, bool with_non_ascii) {
    const std::string unit = "192.168.10.20 ";
    std::string text;
    for (std::size_t offset = 0; offset < unit.size(); ++offset) {
        std::string line;
        while (line.size() < width + offset) {
            line += unit;
        }
        line = line.substr(offset, width);
        text += line + "\n";
    }
    if (with_non_ascii) {
        text += "Adresse: café\n";
    }
    return text + "192.168.10.20";
}

TEST_F(MailInput, M3NoDotIsLostWhereQuotedPrintableBreaksBeforeIt) {
    auto& maildev = start_maildev();
    auto& herald = start_smtp_herald(maildev);
    const std::vector<std::string> texts = {dotted_lines(76, false),
                                            dotted_lines(76, true),
                                            dotted_lines(77, true),
                                            dotted_lines(300, true),
                                            dotted_lines(1200, false)};
    for (const auto& text : texts) {
        SCOPED_TRACE(text.substr(0, 80));
        auto body = baseline_notification();
        body["text"] = text;
        const auto delivered = deliver(herald, maildev, json_body(body));
        ASSERT_TRUE(delivered.has_value());
        expect_well_formed(delivered->raw);
        EXPECT_TRUE(body_matches(delivered->mail.text.value_or(""), text))
            << json_text(boost::json::value(delivered->mail.text.value_or("<none>")));
    }
}

// ---- M4: lines longer than 998 octets ----------------------------------------------------------

TEST_F(MailInput, M4LongLinesAreWrappedAndDecodeToTheInput) {
    auto& maildev = start_maildev();
    auto& herald = start_smtp_herald(maildev);

    std::string html = "<p>";
    for (int i = 0; html.size() < 4996; ++i) {
        html += "cell-" + std::to_string(i) + " ";
    }
    html = html.substr(0, 4996) + "</p>";
    ASSERT_EQ(html.size(), 5000U);
    std::string words;
    for (int i = 0; i < 700; ++i) {
        words += (i ? " " : "") + std::string{"word"} + std::to_string(i);
    }
    std::string subject;
    for (int i = 0; subject.size() < 1200; ++i) {
        subject += (i ? " " : "") + std::string{"subject"} + std::to_string(i);
    }
    subject = subject.substr(0, 1200);
    while (subject.back() == ' ') {
        subject.back() = 'x';
    }
    ASSERT_EQ(subject.size(), 1200U);

    {
        SCOPED_TRACE("5000-character html line");
        auto body = baseline_notification();
        body.erase("text");
        body["html"] = html;
        const auto delivered = deliver(herald, maildev, json_body(body));
        ASSERT_TRUE(delivered.has_value());
        expect_well_formed(delivered->raw);
        EXPECT_TRUE(body_matches(delivered->mail.html.value_or(""), html));
    }
    {
        SCOPED_TRACE("700-word text line");
        auto body = baseline_notification();
        body["text"] = words;
        const auto delivered = deliver(herald, maildev, json_body(body));
        ASSERT_TRUE(delivered.has_value());
        expect_well_formed(delivered->raw);
        EXPECT_TRUE(body_matches(delivered->mail.text.value_or(""), words));
    }
    {
        SCOPED_TRACE("60 recipients");
        auto body = baseline_notification();
        array to;
        for (int i = 0; i < 60; ++i) {
            to.emplace_back("recipient" + std::to_string(i) + "@example.com");
        }
        body["to"] = to;
        const auto delivered = deliver(herald, maildev, json_body(body));
        ASSERT_TRUE(delivered.has_value());
        expect_well_formed(delivered->raw);
        const auto* envelope_to = find_path(delivered->message, "envelope.to");
        ASSERT_NE(envelope_to, nullptr);
        EXPECT_EQ(envelope_to->as_array().size(), 60U);
        ASSERT_EQ(delivered->mail.to.size(), 60U);
        for (int i = 0; i < 60; ++i) {
            EXPECT_EQ(delivered->mail.to[i].address,
                      "recipient" + std::to_string(i) + "@example.com");
        }
    }
    {
        SCOPED_TRACE("1200-character subject");
        auto body = baseline_notification();
        body["subject"] = subject;
        const auto delivered = deliver(herald, maildev, json_body(body));
        ASSERT_TRUE(delivered.has_value());
        expect_well_formed(delivered->raw);
        EXPECT_EQ(delivered->mail.subject, subject);
        const auto folded = raw_header(delivered->raw, "Subject");
        ASSERT_TRUE(folded.has_value());
        for (const auto line : crlf_lines(*folded)) {
            EXPECT_LE(line.size(), 998U);
        }
    }
}

TEST_F(MailInput, M4SixtyRecipientsAreSixtyRcptCommandsInOneTransaction) {
    auto& recorder = start_recorder();
    auto& herald = start_herald(with_transport(recorder.url()));
    auto body = baseline_notification();
    array to;
    for (int i = 0; i < 60; ++i) {
        to.emplace_back("recipient" + std::to_string(i) + "@example.com");
    }
    body["to"] = to;
    const std::string id = accepted_id(herald.post_notification(json_body(body)));
    ASSERT_FALSE(id.empty());
    expect_sent_to_recorder(herald, recorder, id);
    expect_one_clean_transaction(recorder, 60);
    std::vector<std::string> rcpts;
    for (const auto& command : recorder.commands()) {
        if (smtp_verbs({command})[0] == "RCPT") {
            rcpts.push_back(command);
        }
    }
    ASSERT_EQ(rcpts.size(), 60U);
    for (int i = 0; i < 60; ++i) {
        EXPECT_EQ(rcpts[i], "RCPT TO:<recipient" + std::to_string(i) + "@example.com>");
    }
}

// ---- M5: non-ASCII headers (RFC 2047) --------------------------------------------------------

void expect_encoded_words_sound(const std::string& header_value) {
    for (const auto& word : encoded_words(header_value)) {
        EXPECT_LE(word.size(), 75U) << word;
        const auto decoded = decode_encoded_word(word);
        ASSERT_TRUE(decoded.has_value()) << "malformed encoded-word " << word;
        EXPECT_TRUE(is_valid_utf8(*decoded)) << "encoded-word splits a code point: " << word;
    }
}

const std::vector<std::string>& m5_subjects() {
    static const std::vector<std::string> subjects = {
        "Résumé — Zürich → Kraków, 東京 & São Paulo 🎉 (confirmación nº 4711)",
        "éééééééééééééééééééééééééééééééééééééééé"};
    return subjects;
}

TEST_F(MailInput, M5NonAsciiSubjectsAndNamesAreEncodedWordsThatDecodeExactly) {
    auto& maildev = start_maildev();
    auto& herald = start_smtp_herald(maildev);
    for (const auto& subject : m5_subjects()) {
        SCOPED_TRACE(subject);
        auto body = baseline_notification();
        body["subject"] = subject;
        const auto delivered = deliver(herald, maildev, json_body(body));
        ASSERT_TRUE(delivered.has_value());
        expect_well_formed(delivered->raw);
        EXPECT_EQ(delivered->mail.subject, subject);
        const auto values = header_values(delivered->raw, "Subject");
        ASSERT_EQ(values.size(), 1U);
        EXPECT_FALSE(encoded_words(values[0]).empty()) << values[0];
        expect_encoded_words_sound(values[0]);
    }
    {
        SCOPED_TRACE("From display name");
        auto body = baseline_notification();
        body["from"] = "Zoë Ünlü <noreply@example.com>";
        const auto delivered = deliver(herald, maildev, json_body(body));
        ASSERT_TRUE(delivered.has_value());
        expect_well_formed(delivered->raw);
        ASSERT_EQ(delivered->mail.from.size(), 1U);
        EXPECT_EQ(delivered->mail.from[0], (MailAddress{"Zoë Ünlü", "noreply@example.com"}));
        const auto values = header_values(delivered->raw, "From");
        ASSERT_EQ(values.size(), 1U);
        expect_encoded_words_sound(values[0]);
        EXPECT_TRUE(values[0].ends_with("<noreply@example.com>")) << values[0];
        for (const auto& word : encoded_words(values[0])) {
            EXPECT_EQ(decode_encoded_word(word).value_or("").find('@'), std::string::npos)
                << "the address is inside an encoded-word: " << values[0];
        }
    }
}

TEST_F(MailInput, M5HttpTransportSendsTheUtf8SubjectUnchanged) {
    auto& mockmail = start_mockmail();
    auto& herald = start_herald(with_transport(mockmail.send_url()));
    for (const auto& subject : m5_subjects()) {
        SCOPED_TRACE(subject);
        mockmail.clear();
        auto body = baseline_notification();
        body["subject"] = subject;
        const std::string id = accepted_id(herald.post_notification(json_body(body)));
        ASSERT_FALSE(id.empty());
        const auto status = herald.wait_for_status(id, {"sent", "failed"});
        ASSERT_TRUE(status.has_value());
        ASSERT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
        const auto calls = mockmail.calls();
        ASSERT_EQ(calls.size(), 1U) << json_text(calls);
        EXPECT_EQ(string_at(calls[0], "subject"), subject) << json_text(calls[0]);
        // The request body as the provider received it, when the mock records it.
        if (const auto* recorded = find_at(calls[0], "body")) {
            std::optional<boost::json::value> sent;
            if (recorded->is_string()) {
                sent = parse_json(recorded->as_string());
            } else {
                sent = *recorded;
            }
            if (sent && find_at(*sent, "subject") != nullptr) {
                EXPECT_EQ(string_at(*sent, "subject"), subject) << json_text(*sent);
            }
        }
    }
}

// ---- M6: international addresses ------------------------------------------------------------

TEST_F(MailInput, M6InternationalDomainIsSentAsItsALabel) {
    auto& maildev = start_maildev(maildev_hiding({"SMTPUTF8"}));
    auto& herald = start_smtp_herald(maildev);
    auto body = baseline_notification();
    body["to"] = array{"user@bücher.example.com"};
    const auto delivered = deliver(herald, maildev, json_body(body));
    ASSERT_TRUE(delivered.has_value());
    expect_well_formed(delivered->raw);
    // maildev (smtp-server) and mailparser both show an A-label domain decoded to Unicode, so
    // the header is checked in the raw source and the envelope on the wire (next test).
    const auto to = header_values(delivered->raw, "To");
    ASSERT_EQ(to.size(), 1U);
    EXPECT_NE(to[0].find("user@xn--bcher-kva.example.com"), std::string::npos) << to[0];
    ASSERT_EQ(delivered->mail.to.size(), 1U);
    EXPECT_EQ(delivered->mail.to[0].address, "user@bücher.example.com");
}

TEST_F(MailInput, M6InternationalDomainIsAnALabelInTheSmtpEnvelope) {
    auto& recorder = start_recorder();
    auto& herald = start_herald(with_transport(recorder.url()));
    auto body = baseline_notification();
    body["to"] = array{"user@bücher.example.com"};
    const std::string id = accepted_id(herald.post_notification(json_body(body)));
    ASSERT_FALSE(id.empty());
    expect_sent_to_recorder(herald, recorder, id);
    expect_one_clean_transaction(recorder, 1);
    const auto commands = recorder.commands();
    EXPECT_NE(
        std::find(commands.begin(), commands.end(), "RCPT TO:<user@xn--bcher-kva.example.com>"),
        commands.end())
        << ::testing::PrintToString(commands);
    for (const auto& command : commands) {
        EXPECT_TRUE(all_ascii(command)) << command;
    }
}

TEST_F(MailInput, M6Utf8LocalPartToAServerWithoutSmtputf8IsRefusedNeverMangled) {
    auto& maildev = start_maildev(maildev_hiding({"SMTPUTF8"}));
    auto& herald = start_smtp_herald(maildev);
    auto body = baseline_notification();
    body["to"] = array{"jürgen@example.com"};
    const auto response = herald.post_notification(json_body(body));
    if (response.status == 422) {
        EXPECT_NE(response.body.find("SMTPUTF8"), std::string::npos) << response.describe();
    } else {
        const std::string id = accepted_id(response);
        ASSERT_FALSE(id.empty());
        const auto status = herald.wait_for_status(id, {"failed", "sent"});
        ASSERT_TRUE(status.has_value());
        EXPECT_EQ(string_at(*status, "status"), "failed") << json_text(*status);
        std::string reason = json_text(*status);
        EXPECT_NE(reason.find("SMTPUTF8"), std::string::npos)
            << "the failure reason does not mention SMTPUTF8: " << reason;
    }
    for (const auto& message : maildev.messages()) {
        ADD_FAILURE() << "delivered anyway: " << json_text(message);
    }
}

TEST_F(MailInput, M6Utf8LocalPartNeverReachesTheWireOfAServerWithoutSmtputf8) {
    auto& recorder = start_recorder();
    auto& herald = start_herald(with_transport(recorder.url()));
    auto body = baseline_notification();
    body["to"] = array{"jürgen@example.com"};
    const auto response = herald.post_notification(json_body(body));
    if (response.status != 422) {
        const std::string id = accepted_id(response);
        ASSERT_FALSE(id.empty());
        const auto status = herald.wait_for_status(id, {"failed", "sent"});
        ASSERT_TRUE(status.has_value());
        EXPECT_EQ(string_at(*status, "status"), "failed") << json_text(*status);
    }
    EXPECT_TRUE(recorder.payloads().empty()) << "a message was transferred";
    for (const auto& command : recorder.commands()) {
        EXPECT_TRUE(all_ascii(command)) << "non-ASCII on the wire: " << command;
        EXPECT_EQ(command.find("rgen@example.com"), std::string::npos) << command;
    }
}

// ---- M7: hostile JSON ------------------------------------------------------------------------

std::string nested_arrays(std::size_t depth) {
    return std::string(depth, '[') + std::string(depth, ']');
}

std::string nested_objects(std::size_t depth) {
    std::string out;
    out.reserve(depth * 6 + 1);
    for (std::size_t i = 0; i < depth; ++i) {
        out += "{\"a\":";
    }
    out += "1";
    out += std::string(depth, '}');
    return out;
}

// A body with `fragment` spliced in as raw JSON at `where`: "data" (with a template, so data is
// meaningful), "data-baseline" (the case's baseline body: text, no template), "headers" or "to".
std::string body_with(const std::string& where, const std::string& fragment) {
    const std::string from = R"({"from":"Notifier <noreply@example.com>",)";
    const std::string to = R"("to":["alice@example.com"],)";
    const std::string plain = R"("subject":"Hello","text":"Hi"})";
    if (where == "data") {
        return from + to +
               R"("template":{"subject":"Hello","text":"Hi {{name}}"},"data":{"name":"A","deep":)" +
               fragment + "}}";
    }
    if (where == "data-baseline") {
        return from + to + R"("data":{"deep":)" + fragment + "}," + plain;
    }
    if (where == "headers") {
        return from + to + R"("headers":{"X-Deep":)" + fragment + "}," + plain;
    }
    return from + R"("to":[)" + fragment + "]," + plain;  // inside a `to` element
}

TEST_F(MailInput, M7OverDeepJsonIsRefusedAndHeraldStaysUp) {
    auto& herald = start_herald({});
    const std::vector<std::pair<std::string, std::string>> depths = {
        {"100000 deep", nested_arrays(100000)}, {"5000 deep", nested_objects(5000)}};
    ASSERT_GE(depths[0].second.size(), 200000U);
    ASSERT_GE(depths[1].second.size(), 30000U);
    for (const char* where : {"data", "data-baseline", "headers", "to"}) {
        for (const auto& [label, fragment] : depths) {
            SCOPED_TRACE(std::string{where} + " " + label);
            const auto response = herald.post_notification(body_with(where, fragment));
            EXPECT_TRUE(response.status == 400 || response.status == 413) << response.describe();
            if (response.status == 400) {
                EXPECT_EQ(response.headers.get("Content-Type")
                              .value_or("")
                              .find("application/problem+json"),
                          0U)
                    << response.describe();
                // Refused for its depth, not for some other fault of the body.
                std::string problem = response.body;
                for (char& c : problem) {
                    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
                }
                EXPECT_TRUE(problem.find("deep") != std::string::npos ||
                            problem.find("depth") != std::string::npos ||
                            problem.find("nest") != std::string::npos)
                    << response.describe();
            }
            ASSERT_TRUE(herald.running()) << "herald died on " << where << " " << label;
            const auto next = herald.post_notification(json_body(baseline_notification()));
            EXPECT_EQ(next.status, 202) << next.describe();
        }
    }
}

TEST_F(MailInput, M7ThirtyTwoLevelsInDataAreAcceptedAndDelivered) {
    auto& herald = start_herald({});
    const std::string id =
        accepted_id(herald.post_notification(body_with("data", nested_objects(32))));
    ASSERT_FALSE(id.empty());
    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
}

// Whatever depth intake accepts, delivery must read back: the stored payload nests as deep as
// the request did. With the default limit of 64 levels, the body object and `metadata` take two.
TEST_F(MailInput, M7NotificationNestedToTheDepthLimitIsDelivered) {
    auto& herald = start_herald({});
    auto body_nesting = [](std::size_t levels) {
        return R"({"from":"Notifier <noreply@example.com>","to":["alice@example.com"],)"
               R"("subject":"Hello","text":"Hi","metadata":{"deep":)" +
               nested_objects(levels) + "}}";
    };
    EXPECT_EQ(herald.post_notification(body_nesting(63)).status, 400);

    const std::string id = accepted_id(herald.post_notification(body_nesting(62)));
    ASSERT_FALSE(id.empty());
    const auto status = herald.wait_for_status(id, {"sent", "failed"});
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(string_at(*status, "status"), "sent") << json_text(*status);
}

TEST_F(MailInput, M7ThirtyTwoLevelsInDataOfTheBaselineBodyAreAccepted) {
    auto& herald = start_herald({});
    const auto response = herald.post_notification(body_with("data-baseline", nested_objects(32)));
    EXPECT_EQ(response.status, 202) << response.describe();
}

}  // namespace
}  // namespace herald::test
