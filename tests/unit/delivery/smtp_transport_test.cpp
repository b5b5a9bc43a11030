#include "delivery/smtp_transport.hpp"

#include "sample_message.hpp"

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include <mutex>
#include <thread>
#include <utility>

namespace herald::delivery {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using std::chrono::milliseconds;
using testing::outbound;
using testing::sample_message;
using testing::send_and_wait;

// What the fake server answers at each step of the transaction.
struct SmtpScript {
    std::string rcpt_reply = "250 ok";
    std::string data_reply = "354 go ahead";
    std::string end_reply = "250 queued";
    bool drop_after_data = false;  // read the whole message, then close without a reply
    // The first this many end-of-data replies are withheld: the server answers the final "."
    // only when the client's next command arrives on that connection (a server slower than the
    // client's deadline). A client that closed the connection never gets it.
    int late_end_replies = 0;
};

// Everything the fake server saw.
struct SmtpSession {
    std::string ehlo;
    std::string mail_from;
    std::string mail_parameters;  // what followed the address, e.g. " SIZE=313"
    std::vector<std::string> rcpt_to;
    std::string data;  // the message as received, before the end-of-data line
    int data_commands = 0;
    int connection = 0;  // which TCP connection carried it (1, 2, … in accept order)
};

// A minimal SMTP server on 127.0.0.1 (port 0), run by its own thread with Asio coroutines. It
// follows one script and records each transaction.
class FakeSmtpServer {
public:
    explicit FakeSmtpServer(SmtpScript script)
        : script_(std::move(script)), acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
        asio::co_spawn(io_, accept_loop(), asio::detached);
        thread_ = std::thread([this] { io_.run(); });
    }
    ~FakeSmtpServer() {
        io_.stop();
        thread_.join();
    }

    std::string url() const {
        return "smtp://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
    }
    std::vector<SmtpSession> sessions() {
        std::lock_guard lock(mutex_);
        return sessions_;
    }
    int connections() {
        std::lock_guard lock(mutex_);
        return connections_;
    }

private:
    asio::awaitable<void> accept_loop() {
        for (;;) {
            auto [error, socket] =
                co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
            if (error) {
                co_return;
            }
            int connection = 0;
            {
                std::lock_guard lock(mutex_);
                connection = ++connections_;
            }
            asio::co_spawn(io_, serve(std::move(socket), connection), asio::detached);
        }
    }

    asio::awaitable<void> serve(tcp::socket socket, int connection) {
        std::string buffer;
        auto reply = [&](std::string line) -> asio::awaitable<bool> {
            line += "\r\n";
            auto [error, n] = co_await asio::async_write(
                socket, asio::buffer(line), asio::as_tuple(asio::use_awaitable));
            co_return !error;
        };
        auto read_until = [&](std::string_view delimiter) -> asio::awaitable<std::string> {
            auto [error, n] = co_await asio::async_read_until(socket,
                                                              asio::dynamic_buffer(buffer),
                                                              delimiter,
                                                              asio::as_tuple(asio::use_awaitable));
            if (error) {
                co_return std::string();
            }
            std::string out = buffer.substr(0, n);
            buffer.erase(0, n);
            co_return out;
        };

        SmtpSession session;
        session.connection = connection;
        std::string withheld;  // a late end-of-data reply, sent before answering the next command
        if (!co_await reply("220 fake.example ESMTP")) {
            co_return;
        }
        for (;;) {
            std::string line = co_await read_until("\r\n");
            if (line.empty()) {
                co_return;
            }
            line.resize(line.size() - 2);
            if (!withheld.empty()) {
                co_await reply(std::exchange(withheld, {}));
            }
            const std::string verb = line.substr(0, 4);
            if (verb == "EHLO" || verb == "HELO") {
                session.ehlo = line.substr(5);
                co_await reply("250-fake.example");
                co_await reply("250 SIZE 10000000");
            } else if (line.rfind("MAIL FROM:", 0) == 0) {
                const std::string ehlo = session.ehlo;
                session = SmtpSession{};  // a new transaction on the same connection
                session.ehlo = ehlo;
                session.connection = connection;
                session.mail_from = line.substr(10, line.find(' ', 10) - 10);  // no SIZE=
                session.mail_parameters = line.substr(10 + session.mail_from.size());
                co_await reply("250 ok");
            } else if (line.rfind("RCPT TO:", 0) == 0) {
                session.rcpt_to.push_back(line.substr(8));
                co_await reply(script_.rcpt_reply);
            } else if (verb == "DATA") {
                ++session.data_commands;
                co_await reply(script_.data_reply);
                if (script_.data_reply.rfind("354", 0) != 0) {
                    continue;
                }
                std::string data = co_await read_until("\r\n.\r\n");
                session.data = data.substr(0, data.size() - 3);
                record(session);
                if (script_.drop_after_data) {
                    co_return;
                }
                if (take_late_end_reply()) {
                    withheld = script_.end_reply;
                    continue;
                }
                co_await reply(script_.end_reply);
            } else if (verb == "RSET" || verb == "NOOP") {
                co_await reply("250 ok");
            } else if (verb == "QUIT") {
                co_await reply("221 bye");
                co_return;
            } else {
                co_await reply("500 unknown command");
            }
        }
    }

    bool take_late_end_reply() {
        std::lock_guard lock(mutex_);
        if (late_end_replies_ >= script_.late_end_replies) {
            return false;
        }
        ++late_end_replies_;
        return true;
    }

    void record(const SmtpSession& session) {
        std::lock_guard lock(mutex_);
        sessions_.push_back(session);
    }

    const SmtpScript script_;
    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::thread thread_;
    std::mutex mutex_;
    std::vector<SmtpSession> sessions_;
    int connections_ = 0;
    int late_end_replies_ = 0;
};

SmtpTransportOptions options_for(const FakeSmtpServer& server) {
    SmtpTransportOptions options;
    options.url = server.url();
    options.starttls = StartTls::off;
    return options;
}

TEST(SmtpTransport, SendsTheEnvelopeAndTheExactBytes) {
    FakeSmtpServer server({});
    SmtpTransportOptions options = options_for(server);
    options.helo = "herald.example";
    SmtpTransport transport(options);
    auto message = outbound(sample_message());

    const SendResult result = send_and_wait(transport, message);

    EXPECT_EQ(result.outcome, AttemptOutcome::sent) << result.detail;
    EXPECT_EQ(result.status_code, 250);
    const auto sessions = server.sessions();
    ASSERT_EQ(sessions.size(), 1u);
    EXPECT_EQ(sessions[0].ehlo, "herald.example");
    EXPECT_EQ(sessions[0].mail_from, "<noreply@example.com>");
    EXPECT_EQ(sessions[0].mail_parameters, " SIZE=" + std::to_string(message->mime.size()));
    EXPECT_EQ(sessions[0].rcpt_to,
              (std::vector<std::string>{
                  "<alice@example.com>", "<carol@example.com>", "<bob@example.com>"}));
    EXPECT_EQ(sessions[0].data, message->mime);
}

TEST(SmtpTransport, OpensAConnectionOfItsOwnForEachMessage) {
    FakeSmtpServer server({});
    SmtpTransport transport(options_for(server));

    EXPECT_EQ(send_and_wait(transport, outbound(sample_message())).outcome, AttemptOutcome::sent);
    EXPECT_EQ(send_and_wait(transport, outbound(sample_message())).outcome, AttemptOutcome::sent);

    const auto sessions = server.sessions();
    ASSERT_EQ(sessions.size(), 2u);
    EXPECT_EQ(sessions[0].connection, 1);
    EXPECT_EQ(sessions[1].connection, 2);
    EXPECT_EQ(server.connections(), 2);
}

TEST(SmtpTransport, OpensANewConnectionAfterAnAttemptThatTimedOut) {
    FakeSmtpServer server({.late_end_replies = 1});
    SmtpTransport transport(options_for(server));

    // The server answers the final "." only after the attempt's deadline.
    const SendResult first =
        send_and_wait(transport, outbound(sample_message(), "n-1", milliseconds{300}));
    const SendResult second = send_and_wait(transport, outbound(sample_message(), "n-1"));

    EXPECT_EQ(first.outcome, AttemptOutcome::ambiguous) << first.detail;
    EXPECT_EQ(second.outcome, AttemptOutcome::sent) << second.detail;
    EXPECT_EQ(second.status_code, 250);
    EXPECT_EQ(server.connections(), 2);
    const auto sessions = server.sessions();
    ASSERT_EQ(sessions.size(), 2u);
    EXPECT_EQ(sessions[0].connection, 1);
    EXPECT_EQ(sessions[1].connection, 2);
    EXPECT_EQ(sessions[1].data_commands, 1);
}

TEST(SmtpTransport, MapsARefusedRecipientToPermanentAndSendsNothing) {
    FakeSmtpServer server({.rcpt_reply = "550 no such user"});
    SmtpTransport transport(options_for(server));

    const SendResult result = send_and_wait(transport, outbound(sample_message()));

    EXPECT_EQ(result.outcome, AttemptOutcome::permanent) << result.detail;
    EXPECT_EQ(result.status_code, 550);
    EXPECT_TRUE(server.sessions().empty());  // never reached DATA: all recipients or none
}

TEST(SmtpTransport, MapsATemporaryRefusalToTransient) {
    FakeSmtpServer server({.rcpt_reply = "451 try again later"});
    SmtpTransport transport(options_for(server));

    const SendResult result = send_and_wait(transport, outbound(sample_message()));

    EXPECT_EQ(result.outcome, AttemptOutcome::transient) << result.detail;
    EXPECT_EQ(result.status_code, 451);
}

TEST(SmtpTransport, MapsARejectionAfterTheMessageToPermanent) {
    FakeSmtpServer server({.end_reply = "554 rejected as spam"});
    SmtpTransport transport(options_for(server));

    const SendResult result = send_and_wait(transport, outbound(sample_message()));

    EXPECT_EQ(result.outcome, AttemptOutcome::permanent) << result.detail;
    EXPECT_EQ(result.status_code, 554);
}

TEST(SmtpTransport, MapsADropAfterTheMessageToAmbiguous) {
    FakeSmtpServer server({.drop_after_data = true});
    SmtpTransport transport(options_for(server));

    const SendResult result = send_and_wait(transport, outbound(sample_message()));

    EXPECT_EQ(result.outcome, AttemptOutcome::ambiguous) << result.detail;
    EXPECT_EQ(server.sessions().size(), 1u);
}

TEST(SmtpTransport, MapsARefusedConnectionToTransient) {
    int port = 0;
    {
        asio::io_context io;
        tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
        port = acceptor.local_endpoint().port();
    }
    SmtpTransportOptions options;
    options.url = "smtp://127.0.0.1:" + std::to_string(port);
    options.starttls = StartTls::off;
    SmtpTransport transport(options);

    const SendResult result = send_and_wait(transport, outbound(sample_message()));

    EXPECT_EQ(result.outcome, AttemptOutcome::transient) << result.detail;
}

TEST(SmtpTransport, FailsAnAddressNeedingSmtputf8WithoutConnecting) {
    FakeSmtpServer server({});
    SmtpTransport transport(options_for(server));
    mail::Message message = sample_message();
    message.bcc = {{"", "jürgen@example.com"}};

    const SendResult result = send_and_wait(transport, outbound(message));

    EXPECT_EQ(result.outcome, AttemptOutcome::permanent);
    EXPECT_NE(result.detail.find("SMTPUTF8"), std::string::npos);
    EXPECT_EQ(server.connections(), 0);
}

TEST(SmtpTransport, RequiredStarttlsFailsAgainstAServerWithoutIt) {
    FakeSmtpServer server({});
    SmtpTransportOptions options = options_for(server);
    options.starttls = StartTls::required;
    SmtpTransport transport(options);

    const SendResult result = send_and_wait(transport, outbound(sample_message()));

    EXPECT_EQ(result.outcome, AttemptOutcome::transient) << result.detail;
    EXPECT_TRUE(server.sessions().empty());
}

TEST(ClassifySmtpAttempt, Takes421AsThrottlingAndListedFiveHundredsAsTransient) {
    EXPECT_EQ(classify_smtp_attempt(CURLE_RECV_ERROR, 421, false).outcome,
              AttemptOutcome::throttled);
    EXPECT_EQ(classify_smtp_attempt(CURLE_SEND_ERROR, 451, false).outcome,
              AttemptOutcome::transient);
    EXPECT_EQ(classify_smtp_attempt(CURLE_SEND_ERROR, 550, false, {550, 554}).outcome,
              AttemptOutcome::transient);
    EXPECT_EQ(classify_smtp_attempt(CURLE_SEND_ERROR, 553, false, {550, 554}).outcome,
              AttemptOutcome::permanent);
}

TEST(ClassifySmtpAttempt, UsesTheReplyCodeThenWhetherDataHadStarted) {
    EXPECT_EQ(classify_smtp_attempt(CURLE_OK, 250, true).outcome, AttemptOutcome::sent);
    EXPECT_EQ(classify_smtp_attempt(CURLE_SEND_ERROR, 452, false).outcome,
              AttemptOutcome::transient);
    EXPECT_EQ(classify_smtp_attempt(CURLE_LOGIN_DENIED, 535, false).outcome,
              AttemptOutcome::permanent);
    EXPECT_EQ(classify_smtp_attempt(CURLE_COULDNT_CONNECT, 0, false).outcome,
              AttemptOutcome::transient);
    EXPECT_EQ(classify_smtp_attempt(CURLE_OPERATION_TIMEDOUT, 250, false).outcome,
              AttemptOutcome::transient);
    EXPECT_EQ(classify_smtp_attempt(CURLE_OPERATION_TIMEDOUT, 354, true).outcome,
              AttemptOutcome::ambiguous);
    EXPECT_EQ(classify_smtp_attempt(CURLE_RECV_ERROR, 354, true).outcome,
              AttemptOutcome::ambiguous);
}

}  // namespace
}  // namespace herald::delivery
