#pragma once

#include "delivery/transport.hpp"
#include "mail/message.hpp"
#include "mail/mime.hpp"

#include <chrono>
#include <future>
#include <memory>
#include <string>

namespace herald::delivery::testing {

inline mail::Message sample_message() {
    mail::Message message;
    message.from = {"Notifier", "noreply@example.com"};
    message.to = {{"Alice", "alice@example.com"}};
    message.cc = {{"", "carol@example.com"}};
    message.bcc = {{"", "bob@example.com"}};
    message.subject = "Hello";
    message.text = "Hi";
    message.message_id = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b@herald.example";
    message.date_ms = 1764787565123;
    return message;
}

inline std::shared_ptr<OutboundMessage> outbound(
    mail::Message message,
    std::string notification_id = "n-1",
    std::chrono::milliseconds timeout = std::chrono::seconds{10}) {
    auto out = std::make_shared<OutboundMessage>();
    out->notification_id = std::move(notification_id);
    out->mime = mail::compose(message);
    out->message = std::move(message);
    out->timeout = timeout;
    return out;
}

// Sends and waits for the result, with a generous bound for liveness only.
inline SendResult send_and_wait(Transport& transport, std::shared_ptr<OutboundMessage> message) {
    auto promise = std::make_shared<std::promise<SendResult>>();
    auto future = promise->get_future();
    transport.send(std::move(message),
                   [promise](SendResult result) { promise->set_value(std::move(result)); });
    if (future.wait_for(std::chrono::seconds{30}) != std::future_status::ready) {
        SendResult never;
        never.detail = "no result within 30 s";
        never.status_code = -1;
        return never;
    }
    return future.get();
}

}  // namespace herald::delivery::testing
