#include "mail/mime.hpp"

#include "mime_reader.hpp"

#include "core/time.hpp"
#include "mail/address.hpp"
#include "mail/encoding.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace herald::mail {
namespace {

using testing::decode_body;
using testing::decode_unstructured;
using testing::Entity;
using testing::expect_wire_safe;
using testing::find_boundary;
using testing::parse_address_list;
using testing::parse_entity;
using testing::split_lines;
using testing::split_multipart;

constexpr std::int64_t kDate = 1764787565123;

Mailbox mailbox(std::string_view text) {
    const auto parsed = parse_mailbox(text);
    EXPECT_TRUE(parsed) << text;
    return parsed ? *parsed : Mailbox{};
}

// The baseline of the field cases: Notifier to alice, "Hello", "Hi".
Message baseline() {
    Message message;
    message.from = mailbox("Notifier <noreply@example.com>");
    message.to = {mailbox("alice@example.com")};
    message.subject = "Hello";
    message.text = "Hi";
    message.message_id = "0190d7f0-1111-7000-8000-000000000001@herald.example";
    message.date_ms = kDate;
    return message;
}

std::string normalized(std::string_view text) {
    return encoding::normalize_line_breaks(text);
}

std::vector<std::string> header_names(const Entity& entity) {
    std::vector<std::string> names;
    for (const auto& field : entity.headers) {
        names.push_back(field.name);
    }
    return names;
}

bool has_header_line_starting(const std::string& composed, std::string_view prefix) {
    const std::string head = composed.substr(0, composed.find("\r\n\r\n"));
    for (const std::string_view line : split_lines(head)) {
        if (line.starts_with(prefix)) {
            return true;
        }
    }
    return false;
}

// The decoded text and html of a composed message, whichever structure it has.
struct Bodies {
    std::string text;
    std::string html;
};

Bodies bodies_of(const std::string& composed) {
    const Entity top = parse_entity(composed);
    const std::string type = top.value("Content-Type");
    Bodies out;
    if (type.starts_with("multipart/alternative")) {
        const std::string boundary = find_boundary(type);
        EXPECT_FALSE(boundary.empty());
        for (const std::string& raw : split_multipart(top.body, boundary)) {
            const Entity part = parse_entity(raw);
            const std::string part_type = part.value("Content-Type");
            (part_type.starts_with("text/html") ? out.html : out.text) = decode_body(part);
            for (const std::string_view line : split_lines(part.body)) {
                EXPECT_FALSE(line.starts_with(".")) << line;
            }
        }
        return out;
    }
    (type.starts_with("text/html") ? out.html : out.text) = decode_body(top);
    return out;
}

TEST(Compose, WritesTheBaselineMessageExactly) {
    const std::string expected =
        "Date: " + core::format_rfc5322(kDate) +
        "\r\n"
        "From: Notifier <noreply@example.com>\r\n"
        "To: alice@example.com\r\n"
        "Subject: Hello\r\n"
        "Message-ID: <0190d7f0-1111-7000-8000-000000000001@herald.example>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n"
        "Hi\r\n";
    EXPECT_EQ(compose(baseline()), expected);
}

TEST(Compose, OrdersHeadersAndNeverWritesBcc) {
    Message message = baseline();
    message.cc = {mailbox("Carol <carol@example.com>")};
    message.bcc = {mailbox("hidden@example.org")};
    message.reply_to = {mailbox("Support <support@example.com>")};
    message.headers = {{"X-Campaign", "spring"}, {"In-Reply-To", "<a@b>"}};
    const std::string composed = compose(message);
    const Entity entity = parse_entity(composed);
    EXPECT_EQ(header_names(entity),
              (std::vector<std::string>{"Date",
                                        "From",
                                        "To",
                                        "Cc",
                                        "Reply-To",
                                        "Subject",
                                        "Message-ID",
                                        "MIME-Version",
                                        "X-Campaign",
                                        "In-Reply-To",
                                        "Content-Type",
                                        "Content-Transfer-Encoding"}));
    EXPECT_EQ(composed.find("hidden@example.org"), std::string::npos);
    EXPECT_EQ(entity.value("Cc"), "Carol <carol@example.com>");
    EXPECT_EQ(entity.value("Reply-To"), "Support <support@example.com>");
    EXPECT_EQ(entity.value("X-Campaign"), "spring");
    expect_wire_safe(composed);
}

TEST(Compose, IsDeterministic) {
    Message message = baseline();
    message.html = "<p>Hi</p>";
    EXPECT_EQ(compose(message), compose(message));
}

// M1 regression guard.
TEST(Compose, WritesAPlainNameOnOneToLine) {
    Message message = baseline();
    const auto alice = make_mailbox("Alice Example", "alice@example.com");
    ASSERT_TRUE(alice);
    message.to = {*alice};
    const std::string composed = compose(message);
    EXPECT_NE(composed.find("\r\nTo: Alice Example <alice@example.com>\r\n"), std::string::npos);
}

// M1: the values are refused by validation before they reach compose; these are the checks
// validation uses, and compose's own defence should one get through.
TEST(Compose, InjectedSubjectsAreDetectedAndCannotAddAHeader) {
    const std::vector<std::string> subjects{"Invoice ready\r\nBcc: spy@example.net",
                                            "Hi\n\nbody starts here",
                                            "A\rBcc: spy@example.net"};
    for (const std::string& subject : subjects) {
        EXPECT_TRUE(contains_cr_or_lf(subject));
        Message message = baseline();
        message.subject = subject;
        const std::string composed = compose(message);
        expect_wire_safe(composed);
        EXPECT_FALSE(has_header_line_starting(composed, "Bcc:"));
        const Entity entity = parse_entity(composed);
        EXPECT_EQ(entity.count("Subject"), 1);
        EXPECT_EQ(decode_body(entity), "Hi\r\n");
    }
}

TEST(Compose, InjectedExtraHeadersAreDetectedAndDropped) {
    EXPECT_TRUE(contains_cr_or_lf("spring\r\nBcc: spy@example.net"));
    EXPECT_FALSE(is_valid_header_name("X-Ok\r\nBcc"));
    EXPECT_FALSE(is_valid_header_name("X Bad Name"));
    EXPECT_TRUE(is_reserved_header("Bcc"));

    Message message = baseline();
    message.headers = {{"X-Campaign", "spring\r\nBcc: spy@example.net"},
                       {"X-Ok\r\nBcc", "x"},
                       {"X Bad Name", "v"},
                       {"Bcc", "spy@example.net"},
                       {"content-type", "text/html"}};
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    EXPECT_FALSE(has_header_line_starting(composed, "Bcc"));
    EXPECT_FALSE(has_header_line_starting(composed, "X Bad"));
    EXPECT_FALSE(has_header_line_starting(composed, "content-type"));
    const Entity entity = parse_entity(composed);
    EXPECT_EQ(entity.count("X-Campaign"), 1);
    EXPECT_EQ(entity.value("Content-Type"), "text/plain; charset=utf-8");
}

TEST(Compose, InjectedAddressesNeverBecomeMailboxes) {
    EXPECT_FALSE(make_mailbox("Alice\r\nBcc: spy@example.net", "alice@example.com"));
    EXPECT_FALSE(parse_mailbox("alice@example.com\r\nBcc: spy@example.net"));
    EXPECT_FALSE(parse_mailbox("bob@example.com\nX-Injected: 1"));
    EXPECT_FALSE(parse_mailbox("Support\r\nReply-To: spy@example.net <noreply@example.com>"));

    // Defence in depth: a name with a line break that was stored anyway stays in its header.
    Message message = baseline();
    message.to = {{"Alice\r\nBcc: spy@example.net", "alice@example.com"}};
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    EXPECT_FALSE(has_header_line_starting(composed, "Bcc"));
}

// M2: every SMTP-smuggling terminator, in text, in html and in both.
TEST(Compose, NormalizesSmugglingTerminatorsAndLeavesNoLoneDot) {
    const std::string tail =
        "MAIL FROM:<ceo@example.net>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n"
        "Subject: smuggled\r\n\r\nsecond\r\n.\r\nline after";
    const std::vector<std::string> terminators{
        "\n.\r\n", "\n.\n", "\r.\r\n", "\r\n.\r", "\r\r\n.\r\n"};
    for (const std::string& terminator : terminators) {
        const std::string body = "line one" + terminator + tail;
        for (int variant = 0; variant < 3; ++variant) {
            Message message = baseline();
            message.text = variant == 1 ? "" : body;
            message.html = variant == 0 ? "" : body;
            const std::string composed = compose(message);
            expect_wire_safe(composed);
            EXPECT_EQ(composed.find("\r\n.\r\n"), std::string::npos);
            EXPECT_EQ(composed.find("\n.\n"), std::string::npos);
            const Bodies decoded = bodies_of(composed);
            if (variant != 1) {
                EXPECT_EQ(decoded.text, normalized(body));
            }
            if (variant != 0) {
                EXPECT_EQ(decoded.html, normalized(body));
            }
        }
    }
}

// M3
TEST(Compose, KeepsEveryDotOfADotStuffingBody) {
    const std::string text =
        ".first line starts with a dot\nhello\n.\nworld\n..two dots\n.hidden\n.";
    Message message = baseline();
    message.text = text;
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    const Entity entity = parse_entity(composed);
    EXPECT_EQ(entity.value("Content-Transfer-Encoding"), "quoted-printable");
    const std::string decoded = decode_body(entity);
    EXPECT_EQ(decoded, normalized(text));
    EXPECT_TRUE(decoded.starts_with(".first line"));
    EXPECT_TRUE(decoded.ends_with("\r\n."));
}

TEST(Compose, KeepsDotsWhereASoftBreakLandsBeforeThem) {
    std::string line;
    while (line.size() < 76) {
        line += "192.168.10.20";
    }
    line.resize(76);
    std::string plain;
    for (int i = 0; i < 30; ++i) {
        plain += line + "\n";
    }
    // 7bit as it is; forced to quoted-printable by one non-ASCII octet or by one long line.
    const std::vector<std::string> bodies{
        plain, "\xc3\xa9" + plain, std::string(1000, 'x') + "\n" + plain};
    for (const std::string& text : bodies) {
        for (std::size_t shift = 0; shift < 13; ++shift) {
            Message message = baseline();
            message.text = std::string(shift, '1') + text;
            const std::string composed = compose(message);
            expect_wire_safe(composed);
            EXPECT_EQ(decode_body(parse_entity(composed)), normalized(message.text));
        }
    }
}

// M4
TEST(Compose, EncodesA5000CharacterHtmlLine) {
    std::string html = "<p>";
    while (html.size() < 4996) {
        html += "lorem ipsum dolor sit amet. ";
    }
    html.resize(4996);
    html += "</p>";
    ASSERT_EQ(html.size(), 5000u);
    Message message = baseline();
    message.text.clear();
    message.html = html;
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    const Entity entity = parse_entity(composed);
    EXPECT_EQ(entity.value("Content-Type"), "text/html; charset=utf-8");
    EXPECT_EQ(entity.value("Content-Transfer-Encoding"), "quoted-printable");
    EXPECT_EQ(decode_body(entity), html);
}

TEST(Compose, EncodesA700WordTextLine) {
    std::string text;
    for (int i = 0; i < 700; ++i) {
        text += (i == 0 ? "" : " ") + std::string("word") + std::to_string(i);
    }
    Message message = baseline();
    message.text = text;
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    EXPECT_EQ(decode_body(parse_entity(composed)), text);
}

TEST(Compose, FoldsSixtyRecipientsBetweenAddresses) {
    Message message = baseline();
    message.to.clear();
    for (int i = 0; i < 60; ++i) {
        const std::string name = i % 3 == 0 ? "User " + std::to_string(i) + " <" : "<";
        message.to.push_back(mailbox(name + "user" + std::to_string(i) + "@example.com>"));
    }
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    const Entity entity = parse_entity(composed);
    const auto* to = entity.find("To");
    ASSERT_NE(to, nullptr);
    EXPECT_GT(std::count(to->raw.begin(), to->raw.end(), '\n'), 10);
    const auto lines = split_lines(to->raw);
    for (std::size_t i = 0; i < lines.size(); ++i) {
        EXPECT_LE(lines[i].size(), 78u);
        // Folds fall between mailboxes, never inside one.
        EXPECT_EQ(lines[i].ends_with(","), i + 1 < lines.size()) << lines[i];
    }
    const auto parsed = parse_address_list(to->unfolded);
    ASSERT_EQ(parsed.size(), 60u);
    for (int i = 0; i < 60; ++i) {
        EXPECT_EQ(parsed[i].address, "user" + std::to_string(i) + "@example.com");
        EXPECT_EQ(parsed[i].name, i % 3 == 0 ? "User " + std::to_string(i) : "");
    }
    EXPECT_EQ(message.recipients().size(), 60u);
}

TEST(Compose, FoldsA1200CharacterSubjectAtSpaces) {
    std::string subject;
    for (int i = 0; subject.size() < 1200; ++i) {
        subject += (i == 0 ? "" : " ") + std::string("part") + std::to_string(i);
    }
    subject.resize(1200);
    if (subject.back() == ' ') {
        subject.back() = 'x';
    }
    Message message = baseline();
    message.subject = subject;
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    const Entity entity = parse_entity(composed);
    const auto* field = entity.find("Subject");
    ASSERT_NE(field, nullptr);
    EXPECT_EQ(field->raw.find("=?"), std::string::npos) << "plain ASCII needs no encoding";
    for (const std::string_view line : split_lines(field->raw)) {
        EXPECT_LE(line.size(), 78u);
    }
    EXPECT_EQ(decode_unstructured(entity.value("Subject")), subject);
}

TEST(Compose, EncodesASubjectRunTooLongToFold) {
    for (const std::string& subject :
         {std::string(1200, 'a'), "prefix " + std::string(1200, 'b') + " suffix"}) {
        Message message = baseline();
        message.subject = subject;
        const std::string composed = compose(message);
        expect_wire_safe(composed);
        const Entity entity = parse_entity(composed);
        for (const std::string_view line : split_lines(entity.find("Subject")->raw)) {
            EXPECT_LE(line.size(), 78u);
        }
        EXPECT_EQ(decode_unstructured(entity.value("Subject")), subject);
    }
}

// M5
TEST(Compose, EncodesNonAsciiSubjectsSoTheyDecodeExactly) {
    const std::vector<std::string> subjects{
        "R\xc3\xa9sum\xc3\xa9 \xe2\x80\x94 Z\xc3\xbcrich \xe2\x86\x92 Krak\xc3\xb3w, "
        "\xe6\x9d\xb1\xe4\xba\xac & S\xc3\xa3o Paulo \xf0\x9f\x8e\x89 "
        "(confirmaci\xc3\xb3n n\xc2\xba 4711)",
        [] {
            std::string e;
            for (int i = 0; i < 40; ++i) {
                e += "\xc3\xa9";
            }
            return e;
        }(),
        "\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89"
        "\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89"
        "\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89\xf0\x9f\x8e\x89",
        "=?UTF-8?B?Zm9v?= is literal text",
        "  spaced  out\ttabs  ",
    };
    for (const std::string& subject : subjects) {
        Message message = baseline();
        message.subject = subject;
        const std::string composed = compose(message);
        expect_wire_safe(composed);
        const Entity entity = parse_entity(composed);
        EXPECT_EQ(decode_unstructured(entity.value("Subject")), subject);
    }
}

TEST(Compose, EncodesOnlyTheDisplayNameOfANonAsciiFrom) {
    Message message = baseline();
    message.from = mailbox("Zo\xc3\xab \xc3\x9cnl\xc3\xbc <noreply@example.com>");
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    const Entity entity = parse_entity(composed);
    const std::string from = entity.value("From");
    EXPECT_TRUE(from.starts_with("=?UTF-8?")) << from;
    EXPECT_TRUE(from.ends_with(" <noreply@example.com>")) << from;
    const auto parsed = parse_address_list(from);
    ASSERT_EQ(parsed.size(), 1u);
    EXPECT_EQ(parsed[0].name, "Zo\xc3\xab \xc3\x9cnl\xc3\xbc");
    EXPECT_EQ(parsed[0].address, "noreply@example.com");
}

TEST(Compose, QuotesAsciiNamesThatNeedIt) {
    Message message = baseline();
    message.to = {mailbox(R"("Example, Alice \"Al\"" <alice@example.com>)"),
                  mailbox("J. Public <jp@example.com>")};
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    const std::string to = parse_entity(composed).value("To");
    EXPECT_EQ(to, R"("Example, Alice \"Al\"" <alice@example.com>, "J. Public" <jp@example.com>)");
    const auto parsed = parse_address_list(to);
    ASSERT_EQ(parsed.size(), 2u);
    EXPECT_EQ(parsed[0].name, R"(Example, Alice "Al")");
    EXPECT_EQ(parsed[1].name, "J. Public");
}

TEST(Compose, EncodesLongAndOddDisplayNamesWithinLimits) {
    std::string long_name;
    for (int i = 0; i < 30; ++i) {
        long_name += "Z\xc3\xbcrich-\xe6\x9d\xb1\xe4\xba\xac ";
    }
    long_name += "end";
    Message message = baseline();
    message.to = {*make_mailbox(long_name, "a@example.com"),
                  *make_mailbox("=?UTF-8?B?c3B5?=", "b@example.com"),
                  *make_mailbox(std::string(1500, 'n'), "c@example.com")};
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    const auto parsed = parse_address_list(parse_entity(composed).value("To"));
    ASSERT_EQ(parsed.size(), 3u);
    EXPECT_EQ(parsed[0].name, long_name);
    EXPECT_EQ(parsed[1].name, "=?UTF-8?B?c3B5?=");
    EXPECT_EQ(parsed[2].name, std::string(1500, 'n'));
}

TEST(Compose, EncodesNonAsciiExtraHeaderValues) {
    Message message = baseline();
    message.headers = {
        {"X-City", "Z\xc3\xbcrich \xe2\x86\x92 Krak\xc3\xb3w"},
        {"X-Long-Header-Name-That-Takes-Room", std::string(300, 'v')},
        {"List-Unsubscribe", "<https://example.com/u?t=" + std::string(90, 't') + ">"}};
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    const Entity entity = parse_entity(composed);
    EXPECT_EQ(decode_unstructured(entity.value("X-City")), message.headers[0].second);
    EXPECT_EQ(decode_unstructured(entity.value("X-Long-Header-Name-That-Takes-Room")),
              message.headers[1].second);
    // A long but foldable-free ASCII value stays literal (structured headers need that).
    EXPECT_EQ(entity.value("List-Unsubscribe"), message.headers[2].second);
}

// M6
TEST(Compose, SendsAnIdnDomainAsALabels) {
    Message message = baseline();
    message.to = {
        mailbox("user@b\xc3\xbc"
                "cher.example.com")};
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    EXPECT_EQ(parse_entity(composed).value("To"), "user@xn--bcher-kva.example.com");
    EXPECT_EQ(message.recipients(), (std::vector<std::string>{"user@xn--bcher-kva.example.com"}));
}

TEST(Compose, KeepsAUtf8LocalPartLiteralAndFlagsIt) {
    Message message = baseline();
    message.to = {mailbox("j\xc3\xbcrgen@example.com")};
    EXPECT_TRUE(message.to[0].needs_smtputf8());
    const std::string composed = compose(message);
    expect_wire_safe(composed, true);
    EXPECT_EQ(parse_entity(composed).value("To"), "j\xc3\xbcrgen@example.com");
}

TEST(Compose, WritesMultipartAlternativeForTextAndHtml) {
    Message message = baseline();
    message.text = "Hi Alice\nsee you";
    message.html = "<p>Hi Alice</p>\n<p>caf\xc3\xa9</p>";
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    const Entity top = parse_entity(composed);
    const std::string type = top.value("Content-Type");
    EXPECT_TRUE(type.starts_with("multipart/alternative; boundary=\"")) << type;
    const std::string boundary = find_boundary(type);
    const auto parts = split_multipart(top.body, boundary);
    ASSERT_EQ(parts.size(), 2u);
    EXPECT_EQ(parse_entity(parts[0]).value("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(parse_entity(parts[1]).value("Content-Type"), "text/html; charset=utf-8");
    const Bodies decoded = bodies_of(composed);
    EXPECT_EQ(decoded.text, normalized(message.text));
    EXPECT_EQ(decoded.html, normalized(message.html));

    Message other = message;
    other.message_id = "another@herald.example";
    EXPECT_NE(find_boundary(parse_entity(compose(other)).value("Content-Type")), boundary);
}

TEST(Compose, PicksABoundaryThatNoPartContains) {
    Message message = baseline();
    message.text = "plain";
    message.html = "<p>plain</p>";
    const std::string first = find_boundary(parse_entity(compose(message)).value("Content-Type"));
    message.text = "--" + first + "\n--" + first + "_1--\nstill 7bit";
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    const std::string second = find_boundary(parse_entity(composed).value("Content-Type"));
    EXPECT_NE(second, first);
    EXPECT_EQ(message.text.find(second), std::string::npos);
    EXPECT_EQ(bodies_of(composed).text, normalized(message.text));
}

TEST(Compose, ChoosesTheTransferEncodingFromTheContent) {
    const auto encoding_of = [](const std::string& text) {
        Message message = baseline();
        message.text = text;
        const std::string composed = compose(message);
        expect_wire_safe(composed);
        const Entity entity = parse_entity(composed);
        const std::string decoded = decode_body(entity);
        EXPECT_TRUE(decoded == normalized(text) || decoded == normalized(text) + "\r\n");
        return entity.value("Content-Transfer-Encoding");
    };
    EXPECT_EQ(encoding_of("plain ascii\nlines"), "7bit");
    EXPECT_EQ(encoding_of(std::string(998, 'x')), "7bit");
    EXPECT_EQ(encoding_of(std::string(999, 'x')), "quoted-printable");
    EXPECT_EQ(encoding_of("one caf\xc3\xa9 in ascii text"), "quoted-printable");
    EXPECT_EQ(encoding_of(std::string("nul\0inside", 10)), "quoted-printable");
    EXPECT_EQ(encoding_of("ok\n.starts with dot"), "quoted-printable");
    EXPECT_EQ(encoding_of("\xe6\x9d\xb1\xe4\xba\xac\xe3\x81\xa7\xe4\xbc\x9a\xe3\x81\x84\xe3\x81"
                          "\xbe\xe3\x81\x97\xe3\x82\x87\xe3\x81\x86"),
              "base64");
}

TEST(Compose, KeepsTheFinalLineBreakSemanticsOfEachEncoding) {
    Message message = baseline();
    message.text = "caf\xc3\xa9";  // quoted-printable, no final line break
    EXPECT_EQ(decode_body(parse_entity(compose(message))), "caf\xc3\xa9");
    message.text = "caf\xc3\xa9\n";
    EXPECT_EQ(decode_body(parse_entity(compose(message))), "caf\xc3\xa9\r\n");
    message.text = "Hi\n";  // 7bit with its own final line break: not doubled
    EXPECT_EQ(decode_body(parse_entity(compose(message))), "Hi\r\n");
    message.text = "\xe6\x9d\xb1\xe4\xba\xac";  // base64
    EXPECT_EQ(decode_body(parse_entity(compose(message))), "\xe6\x9d\xb1\xe4\xba\xac");
}

TEST(Compose, WritesAnEmptyBodyAndEmptySubject) {
    Message message = baseline();
    message.text.clear();
    message.subject.clear();
    const std::string composed = compose(message);
    expect_wire_safe(composed);
    const Entity entity = parse_entity(composed);
    EXPECT_EQ(entity.value("Subject"), "");
    EXPECT_EQ(entity.value("Content-Type"), "text/plain; charset=utf-8");
    EXPECT_EQ(entity.body, "");
}

TEST(Compose, DropsAMalformedMessageIdAndKeepsAGoodOne) {
    Message message = baseline();
    message.message_id = "\r\n<>";
    EXPECT_EQ(parse_entity(compose(message)).count("Message-ID"), 0);
    message.message_id = "id@host";
    EXPECT_EQ(parse_entity(compose(message)).value("Message-ID"), "<id@host>");
}

TEST(IsValidHeaderName, AcceptsPrintableAsciiWithoutColon) {
    EXPECT_TRUE(is_valid_header_name("X-Campaign"));
    EXPECT_TRUE(is_valid_header_name("List-Unsubscribe-Post"));
    EXPECT_TRUE(is_valid_header_name("x!#$%&'*+-.^_`|~"));
    EXPECT_TRUE(is_valid_header_name(std::string(76, 'X')));
    EXPECT_FALSE(is_valid_header_name(std::string(77, 'X')));
    EXPECT_FALSE(is_valid_header_name(""));
    EXPECT_FALSE(is_valid_header_name("X Bad Name"));
    EXPECT_FALSE(is_valid_header_name("X-Ok\r\nBcc"));
    EXPECT_FALSE(is_valid_header_name("X:Y"));
    EXPECT_FALSE(is_valid_header_name("X-\xc3\xa9"));
    EXPECT_FALSE(is_valid_header_name("X-\t"));
    EXPECT_FALSE(is_valid_header_name("X-\x7f"));
}

TEST(IsReservedHeader, CoversHeraldsHeadersCaseInsensitively) {
    for (const char* name : {"From",
                             "to",
                             "CC",
                             "Bcc",
                             "subject",
                             "DATE",
                             "Message-Id",
                             "mime-version",
                             "Reply-To",
                             "Sender",
                             "Return-Path",
                             "Received",
                             "Content-Type",
                             "content-transfer-encoding",
                             "Content-X"}) {
        EXPECT_TRUE(is_reserved_header(name)) << name;
    }
    for (const char* name :
         {"X-Campaign", "In-Reply-To", "References", "List-Unsubscribe", "Contents", "Tox"}) {
        EXPECT_FALSE(is_reserved_header(name)) << name;
    }
}

TEST(IsValidUtf8, IsStrict) {
    EXPECT_TRUE(is_valid_utf8(""));
    EXPECT_TRUE(is_valid_utf8("ascii"));
    EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x8e\x89\xf4\x8f\xbf\xbf"));
    EXPECT_TRUE(is_valid_utf8(std::string("\0", 1)));
    EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong '/'
    EXPECT_FALSE(is_valid_utf8("\xe0\x80\xaf"));      // overlong
    EXPECT_FALSE(is_valid_utf8("\xf0\x80\x80\xaf"));  // overlong
    EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate U+D800
    EXPECT_FALSE(is_valid_utf8("\xed\xbf\xbf"));      // surrogate U+DFFF
    EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // U+110000
    EXPECT_FALSE(is_valid_utf8("\xf8\x88\x80\x80\x80"));
    EXPECT_FALSE(is_valid_utf8("\xc3"));  // truncated
    EXPECT_FALSE(is_valid_utf8("\xe2\x82"));
    EXPECT_FALSE(is_valid_utf8("\x80"));  // lone continuation
    EXPECT_FALSE(is_valid_utf8("\xc3\x28"));
    EXPECT_FALSE(is_valid_utf8("\xff"));
}

TEST(ContainsCrOrLf, FindsEitherAnywhere) {
    EXPECT_TRUE(contains_cr_or_lf("a\rb"));
    EXPECT_TRUE(contains_cr_or_lf("a\nb"));
    EXPECT_TRUE(contains_cr_or_lf("\r\n"));
    EXPECT_FALSE(contains_cr_or_lf("a b\tc"));
    EXPECT_FALSE(contains_cr_or_lf(""));
}

}  // namespace
}  // namespace herald::mail
