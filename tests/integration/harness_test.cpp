// Proves the integration harness against the peers alone, without herald: process control,
// ports, raw HTTP, the libcurl clients, maildev, mailparser and (when built) herald-mockmail.

#include "fixture.hpp"

#include "support/http_client.hpp"
#include "support/mime_checks.hpp"
#include "support/net.hpp"
#include "support/smtp_client.hpp"
#include "support/wait.hpp"

#include <gtest/gtest.h>

#include <errno.h>
#include <fstream>
#include <map>
#include <netinet/in.h>
#include <signal.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace herald::test {
namespace {

using namespace std::chrono_literals;

ProcessOptions shell(const std::filesystem::path& dir, const std::string& script) {
    ProcessOptions options;
    options.argv = {"/bin/sh", "-c", script};
    options.stdout_path = dir / "out.txt";
    options.stderr_path = dir / "err.txt";
    return options;
}

TEST(Process, ReportsTheExitCodeAndCapturesBothStreams) {
    TempDir dir;
    auto child = Process::start(shell(dir.path(), "echo to-out; echo to-err >&2; exit 3"));
    const auto status = child.wait_for(30s);
    ASSERT_TRUE(status.has_value());
    EXPECT_TRUE(status->exited);
    EXPECT_EQ(status->code, 3);
    EXPECT_EQ(child.stdout_text(), "to-out\n");
    EXPECT_EQ(child.stderr_text(), "to-err\n");
}

TEST(Process, PassesEnvironmentWorkingDirectoryAndStdin) {
    TempDir dir;
    std::ofstream{dir.path() / "in.txt"} << "from-stdin";
    auto options = shell(dir.path(), "printf '%s|%s|' \"$HERALD_IT_PROBE\" \"$(pwd)\"; cat");
    options.env["HERALD_IT_PROBE"] = "probe-value";
    options.cwd = dir.path();
    options.stdin_path = dir.path() / "in.txt";
    auto child = Process::start(options);
    ASSERT_TRUE(child.wait_for(30s).has_value());
    EXPECT_EQ(child.stdout_text(),
              "probe-value|" + std::filesystem::canonical(dir.path()).string() + "|from-stdin");
}

TEST(Process, SignalReachesTheChildByPid) {
    TempDir dir;
    auto child = Process::start(shell(dir.path(), "exec sleep 600"));
    ASSERT_TRUE(child.running());
    ASSERT_TRUE(child.signal(SIGTERM));
    const auto status = child.wait_for(30s);
    ASSERT_TRUE(status.has_value());
    EXPECT_FALSE(status->exited);
    EXPECT_EQ(status->signal, SIGTERM);
}

TEST(Process, DestructorKillsWhatItStarted) {
    TempDir dir;
    pid_t pid = 0;
    {
        auto child = Process::start(shell(dir.path(), "exec sleep 600"));
        pid = child.pid();
        ASSERT_EQ(::kill(pid, 0), 0);
    }
    errno = 0;
    EXPECT_EQ(::kill(pid, 0), -1);
    EXPECT_EQ(errno, ESRCH);
}

TEST(Process, ChildGetsDefaultSigpipeEvenWhenTheTestIgnoresIt) {
    TempDir dir;
    ignore_sigpipe();
    auto child = Process::start(shell(dir.path(), "grep SigIgn /proc/self/status"));
    ASSERT_TRUE(child.wait_for(30s).has_value());
    const std::string line = child.stdout_text();
    ASSERT_NE(line.find("SigIgn:"), std::string::npos) << line;
    const auto mask = std::stoull(line.substr(line.find(':') + 1), nullptr, 16);
    EXPECT_EQ(mask & (1ULL << (SIGPIPE - 1)), 0U) << line;
}

TEST(Process, StartThrowsForAMissingProgram) {
    ProcessOptions options;
    options.argv = {"/nonexistent/herald-it-no-such-binary"};
    EXPECT_THROW(Process::start(options), std::runtime_error);
}

TEST(FreePort, ReturnsAPortThatCanBeBound) {
    const auto port = free_port();
    ASSERT_NE(port, 0);
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ::close(fd);
    EXPECT_FALSE(port_accepts(port));
}

TEST(WaitUntil, ReturnsTrueAsSoonAsThePredicateHolds) {
    int calls = 0;
    EXPECT_TRUE(wait_until([&] { return ++calls == 3; }, 30s, 1ms));
    EXPECT_EQ(calls, 3);
    EXPECT_FALSE(wait_until([] { return false; }, 20ms, 1ms));
}

TEST(ParseResponse, ReadsContentLengthChunkedAndPipelinedResponses) {
    const std::string bytes =
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello"
        "HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n"
        "\r\nHTTP/1.1 204 No Content\r\n\r\n";
    std::size_t consumed = 0;
    auto first = parse_response(bytes, false, false, consumed);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->status, 200);
    EXPECT_EQ(first->body, "hello");
    EXPECT_EQ(first->headers.get("x-a"), "1");
    std::string_view rest = std::string_view{bytes}.substr(consumed);
    auto second = parse_response(rest, false, false, consumed);
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->status, 404);
    EXPECT_EQ(second->reason, "Not Found");
    EXPECT_EQ(second->body, "abcde");
    rest = rest.substr(consumed);
    auto third = parse_response(rest, false, false, consumed);
    ASSERT_TRUE(third.has_value());
    EXPECT_EQ(third->status, 204);
    EXPECT_EQ(consumed, rest.size());
    EXPECT_FALSE(
        parse_response("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", false, false, consumed)
            .has_value());
}

TEST(BodyMatches, NormalisesLineEndsAndToleratesOneFinalLineBreak) {
    EXPECT_EQ(normalize_newlines("a\r\nb\rc\nd\r\r\n"), "a\nb\nc\nd\n\n");
    EXPECT_TRUE(body_matches("line one\nline two\n", "line one\r\nline two"));
    EXPECT_TRUE(body_matches("x\n.\n", "x\r."));
    EXPECT_FALSE(body_matches("x\n", "x\n\n"));
    EXPECT_FALSE(body_matches("line one\n", "line one\n."));
    EXPECT_FALSE(body_matches("x\n\n", "x"));
}

TEST(MimeChecks, FindsAndDecodesEncodedWords) {
    const std::string value = "=?UTF-8?B?UsOpc3Vtw6k=?= and =?utf-8?q?Z=C3=BCrich_x?=";
    const auto words = encoded_words(value);
    ASSERT_EQ(words.size(), 2U);
    EXPECT_EQ(decode_encoded_word(words[0]), "Résumé");
    EXPECT_EQ(decode_encoded_word(words[1]), "Zürich x");
    EXPECT_FALSE(decode_encoded_word("=?UTF-8?Q?bad=Z?=").has_value());
    // A base64 word ending in the middle of "é" (0xC3 0xA9) decodes to invalid UTF-8.
    EXPECT_FALSE(is_valid_utf8(decode_encoded_word("=?UTF-8?B?w6nD?=").value_or("")));
    EXPECT_TRUE(is_valid_utf8("東京 🎉"));
}

TEST(MimeChecks, SeesLineEndsLineLengthsDotsAndHeaders) {
    const std::string raw = "Subject: a\r\n b\r\nTo: x@example.com\r\n\r\nbody\r\n.\r\nend";
    EXPECT_TRUE(only_crlf_line_ends(raw));
    EXPECT_FALSE(only_crlf_line_ends("a\nb"));
    EXPECT_FALSE(only_crlf_line_ends("a\rb"));
    EXPECT_TRUE(has_lone_dot_line(raw));
    EXPECT_EQ(longest_line(raw), 17U);  // "To: x@example.com"
    EXPECT_EQ(header_values(raw, "subject"), std::vector<std::string>{"a b"});
    EXPECT_EQ(raw_header(raw, "SUBJECT"), "Subject: a\r\n b\r\n");
    EXPECT_EQ(body_section(raw), "body\r\n.\r\nend");
}

class HarnessTest : public IntegrationTest {};

// A multipart message as a careful composer would write it: encoded subject and display name,
// quoted-printable text with leading dots, and an html part.
std::string sample_message() {
    return "From: =?UTF-8?Q?Zo=C3=AB_=C3=9Cnl=C3=BC?= <noreply@example.com>\r\n"
           "To: Alice Example <alice@example.com>\r\n"
           "Subject: =?UTF-8?B?UsOpc3Vtw6kg4oCUIFrDvHJpY2g=?=\r\n"
           "Message-ID: <harness-1@example.com>\r\n"
           "Date: Thu, 03 Dec 2026 18:46:05 +0000\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
           "\r\n"
           "--b1\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n"
           "\r\n"
           "=2Efirst line\r\n"
           "hello\r\n"
           "=2E\r\n"
           "--b1\r\n"
           "Content-Type: text/html; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 7bit\r\n"
           "\r\n"
           "<p>Hi</p>\r\n"
           "--b1--\r\n";
}

TEST_F(HarnessTest, MaildevReceivesWhatCurlSendsAndMailparserDecodesIt) {
    auto& maildev = start_maildev();
    const auto sent = send_smtp(maildev.smtp_port(),
                                "noreply@example.com",
                                {"alice@example.com", "hidden@example.com"},
                                sample_message());
    ASSERT_TRUE(sent.ok) << sent.error << " reply " << sent.reply_code;

    const auto messages = maildev.wait_for_messages(1);
    ASSERT_EQ(messages.size(), 1U);
    const std::string id = string_at(messages[0], "id");
    const auto* envelope_to = find_path(messages[0], "envelope.to");
    ASSERT_NE(envelope_to, nullptr);
    ASSERT_EQ(envelope_to->as_array().size(), 2U);
    EXPECT_EQ(string_at(envelope_to->as_array()[1], "address"), "hidden@example.com");

    const std::string raw = maildev.raw_source(id);
    EXPECT_EQ(raw, sample_message());
    const auto mail = parse_mail(raw);
    EXPECT_EQ(mail.subject, "Résumé — Zürich");
    ASSERT_EQ(mail.from.size(), 1U);
    EXPECT_EQ(mail.from[0], (MailAddress{"Zoë Ünlü", "noreply@example.com"}));
    ASSERT_EQ(mail.to.size(), 1U);
    EXPECT_EQ(mail.to[0], (MailAddress{"Alice Example", "alice@example.com"}));
    ASSERT_TRUE(mail.text.has_value());
    EXPECT_TRUE(body_matches(*mail.text, ".first line\nhello\n.")) << *mail.text;
    EXPECT_TRUE(body_matches(mail.html.value_or(""), "<p>Hi</p>")) << mail.html.value_or("");
    EXPECT_EQ(mail.message_id, "<harness-1@example.com>");
    EXPECT_EQ(mail.headers.at("mime-version"), "1.0");

    maildev.delete_all();
    EXPECT_TRUE(maildev.messages().empty());
}

TEST_F(HarnessTest, HttpClientReusesTheConnectionAndReadsHeadersInAnyCase) {
    auto& maildev = start_maildev();
    HttpClient client{"http://127.0.0.1:" + std::to_string(maildev.web_port())};
    const auto first = client.get("/email");
    ASSERT_EQ(first.status, 200) << first.describe();
    EXPECT_EQ(first.body, "[]");
    EXPECT_EQ(client.connections_opened(), 1);
    ASSERT_TRUE(first.headers.get("content-type").has_value());
    EXPECT_EQ(first.headers.get("CONTENT-TYPE"), first.headers.get("Content-Type"));
    const auto second = client.get("/healthz");
    EXPECT_EQ(second.status, 200);
    EXPECT_EQ(client.connections_opened(), 0);
}

TEST_F(HarnessTest, RawConnectionReadsPipelinedResponsesInOrder) {
    auto& maildev = start_maildev();
    auto connection = RawConnection::connect(maildev.web_port());
    ASSERT_TRUE(connection.send_all(
        "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /nope HTTP/1.1\r\nHost: t\r\n\r\n"));
    const auto first = connection.read_response();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->status, 200);
    EXPECT_EQ(first->body, "true");
    const auto second = connection.read_response();
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(second->status, 404);
    ASSERT_TRUE(
        connection.send_all("GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    const auto third = connection.read_response();
    ASSERT_TRUE(third.has_value());
    EXPECT_EQ(third->status, 200);
    EXPECT_TRUE(connection.wait_closed());
}

// Reads an SMTP reply (possibly multi-line) off a raw connection.
std::string read_smtp_reply(RawConnection& connection) {
    std::string reply;
    wait_until(
        [&] {
            reply += connection.read_until_closed(50ms);
            const auto last_start = reply.rfind("\r\n", reply.size() >= 2 ? reply.size() - 3 : 0);
            const std::size_t line = last_start == std::string::npos ? 0 : last_start + 2;
            return reply.ends_with("\r\n") && reply.size() > line + 3 && reply[line + 3] == ' ';
        },
        30s,
        10ms);
    return reply;
}

TEST_F(HarnessTest, MaildevAdvertisesSmtputf8OnlyWhenNotHidden) {
    auto& plain = start_maildev();
    auto& hidden = start_maildev(maildev_hiding({"SMTPUTF8"}));
    for (auto* peer : {&plain, &hidden}) {
        auto connection = RawConnection::connect(peer->smtp_port());
        EXPECT_TRUE(read_smtp_reply(connection).starts_with("220"));
        ASSERT_TRUE(connection.send_all("EHLO harness\r\n"));
        const std::string ehlo = read_smtp_reply(connection);
        EXPECT_TRUE(ehlo.starts_with("250")) << ehlo;
        const bool offers = ehlo.find("SMTPUTF8") != std::string::npos;
        EXPECT_EQ(offers, peer == &plain) << ehlo;
        connection.send_all("QUIT\r\n");
    }
}

TEST_F(HarnessTest, SmtpRecorderSeesTheExactWire) {
    auto& recorder = start_recorder();
    const std::string message = "Subject: wire\r\n\r\n.leading dot\r\nplain\r\n.\r\n";
    const auto sent =
        send_smtp(recorder.port(), "a@example.com", {"b@example.com", "c@example.com"}, message);
    ASSERT_TRUE(sent.ok) << sent.error;
    ASSERT_TRUE(wait_until(
        [&] { return !recorder.commands().empty() && recorder.commands().back() == "QUIT"; }));
    const auto commands = recorder.commands();
    EXPECT_EQ(smtp_verbs(commands),
              (std::vector<std::string>{"EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"}));
    EXPECT_TRUE(commands[1].starts_with("MAIL FROM:<a@example.com>")) << commands[1];  // + SIZE=
    EXPECT_EQ(commands[3], "RCPT TO:<c@example.com>");
    const auto payloads = recorder.payloads();
    ASSERT_EQ(payloads.size(), 1U);
    EXPECT_EQ(payloads[0], "Subject: wire\r\n\r\n..leading dot\r\nplain\r\n..\r\n");
    EXPECT_EQ(dot_unstuff(payloads[0]), message);
    recorder.clear();
    EXPECT_TRUE(recorder.events().empty());
}

TEST_F(HarnessTest, MockmailRecordsEachSendWithItsIdempotencyKey) {
    auto& mockmail = start_mockmail();
    HttpClient client{mockmail.base_url()};
    const std::string body = R"({"from":"noreply@example.com","to":["alice@example.com"],)"
                             R"("subject":"Grüße","text":"x"})";
    const auto response =
        client.post_json("/v1/send", body, {{"Idempotency-Key", "harness-key-1"}});
    EXPECT_EQ(response.status / 100, 2) << response.describe();
    const auto calls = mockmail.calls();
    ASSERT_EQ(calls.size(), 1U) << json_text(calls);
    EXPECT_EQ(string_at(calls[0], "idempotency_key"), "harness-key-1");
    EXPECT_EQ(string_at(calls[0], "subject"), "Grüße");
    mockmail.clear();
    EXPECT_TRUE(mockmail.calls().empty());
}

TEST_F(HarnessTest, MockmailHoldsOnlyTheFirstSendsAndCountsCallsPerKey) {
    MockmailOptions options;
    options.latency_ms = 600000;
    options.latency_count = 1;
    auto& mockmail = start_mockmail(options);
    HttpClient client{mockmail.base_url()};
    const std::string body = R"({"from":"noreply@example.com","to":["a@example.com"],"text":"x"})";
    HttpRequest held;
    held.method = "POST";
    held.target = "/v1/send";
    held.headers = {{"Content-Type", "application/json"}, {"Idempotency-Key", "key-a"}};
    held.body = body;
    held.timeout = 300ms;  // the mock holds this one for ten minutes
    EXPECT_EQ(client.send(held).status, 0);

    HttpClient fresh{mockmail.base_url()};
    EXPECT_EQ(fresh.post_json("/v1/send", body, {{"Idempotency-Key", "key-a"}}).status, 200);
    EXPECT_EQ(fresh.post_json("/v1/send", body, {{"Idempotency-Key", "key-b"}}).status, 200);
    const auto counts = mockmail.key_counts();
    EXPECT_EQ(counts, (std::map<std::string, std::int64_t>{{"key-a", 2}, {"key-b", 1}}));
    const auto stats = mockmail.stats();
    EXPECT_EQ(int_at(stats, "calls", -1), 3);
    EXPECT_EQ(int_at(stats, "distinct_keys", -1), 2);
    EXPECT_EQ(int_at(stats, "repeated_calls", -1), 1);
}

TEST_F(HarnessTest, MockmailReadsAMailgunMultipartFormAndAnswersLikeMailgun) {
    auto& mockmail = start_mockmail();
    HttpClient client{mockmail.base_url()};
    HttpRequest request;
    request.method = "POST";
    request.target = "/v3/mg.example.com/messages";
    request.headers = {{"Content-Type", "multipart/form-data; boundary=xYz"}};
    request.body =
        "--xYz\r\nContent-Disposition: form-data; name=\"from\"\r\n\r\nZoë <z@example.com>\r\n"
        "--xYz\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\na@example.com\r\n"
        "--xYz\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nb@example.com\r\n"
        "--xYz\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\ntwo\r\nlines\r\n"
        "--xYz\r\nContent-Disposition: form-data; name=\"h:Message-Id\"\r\n\r\n<m@x>\r\n"
        "--xYz--\r\n";
    const auto response = client.send(request);
    EXPECT_EQ(response.status, 200) << response.describe();
    const auto answer = response.json();
    ASSERT_TRUE(answer.has_value()) << response.describe();
    EXPECT_EQ(string_at(*answer, "id"), "<mock-1@mg.example.com>");
    EXPECT_EQ(string_at(*answer, "message"), "Queued. Thank you.");

    const auto calls = mockmail.calls();
    ASSERT_EQ(calls.size(), 1U);
    EXPECT_EQ(string_at(calls[0], "route"), "mailgun");
    const auto& fields = calls[0].at("fields");
    EXPECT_EQ(fields.at("from"), "Zoë <z@example.com>");
    EXPECT_EQ(fields.at("to"), (boost::json::array{"a@example.com", "b@example.com"}));
    EXPECT_EQ(fields.at("text"), "two\r\nlines");
    EXPECT_EQ(string_at(calls[0], "message_id"), "<m@x>");
}

TEST_F(HarnessTest, MockmailAnswersSendgridWith202AndNoBodyAndRefusesAMalformedForm) {
    auto& mockmail = start_mockmail();
    HttpClient client{mockmail.base_url()};
    const auto sendgrid =
        client.post_json("/v3/mail/send",
                         R"({"personalizations":[{"to":[{"email":"a@example.com"}]}],)"
                         R"("from":{"email":"z@example.com","name":"Z"},"subject":"s",)"
                         R"("content":[{"type":"text/plain","value":"x"}]})");
    EXPECT_EQ(sendgrid.status, 202) << sendgrid.describe();
    EXPECT_TRUE(sendgrid.body.empty()) << sendgrid.describe();

    HttpRequest bad;
    bad.method = "POST";
    bad.target = "/v3/mg.example.com/messages";
    bad.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    bad.body = "from=%zz";
    EXPECT_EQ(client.send(bad).status, 400);

    const auto calls = mockmail.calls();
    ASSERT_EQ(calls.size(), 2U);
    EXPECT_EQ(calls[0].at("fields").at("from"), "Z <z@example.com>");
    EXPECT_EQ(calls[0].at("fields").at("to"), boost::json::array{"a@example.com"});
    EXPECT_EQ(int_at(calls[1], "answer", 0), 400);
}

}  // namespace
}  // namespace herald::test
