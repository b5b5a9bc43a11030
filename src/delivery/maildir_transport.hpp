#pragma once

#include "delivery/transport.hpp"

#include <boost/system/result.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace herald::delivery {

// Delivers into a Maildir (the qmail layout read by mutt, Dovecot, …): each message is written
// to ROOT/tmp/<unique>, fsynced, renamed into ROOT/new/, and ROOT/new/ is fsynced so the rename
// survives a crash. <unique> is "<seconds>.<pid>_<sequence>_<notification id>.<host>".
//
// All file I/O runs on one worker thread owned by the transport, in arrival order; send()
// only queues. Outcomes: `sent` once the file is in new/; `transient` for any I/O error (ENOSPC,
// EIO, permissions), with the errno text in the detail. stop() finishes the write in progress,
// fails the queued ones as transient and joins the worker.
class MaildirTransport final : public Transport {
public:
    // Creates ROOT and its cur/, new/ and tmp/ when missing (on the calling thread: meant for
    // start-up). Fails with a one-line reason when they cannot be created or opened.
    static boost::system::result<std::unique_ptr<MaildirTransport>, std::string> open(
        std::filesystem::path root);

    ~MaildirTransport() override;

    std::string_view name() const override { return "maildir"; }
    void send(std::shared_ptr<const OutboundMessage> message, Done done) override;
    void stop() override;

private:
    MaildirTransport(std::filesystem::path root, int new_dir_fd, std::string host);

    void run();
    SendResult write(const OutboundMessage& message);
    std::string unique_name(const OutboundMessage& message);

    const std::filesystem::path root_;
    const int new_dir_fd_;
    const std::string host_;      // the host part of file names, with '/' and ':' escaped
    std::uint64_t sequence_ = 0;  // worker thread only

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::pair<std::shared_ptr<const OutboundMessage>, Done>> queue_;  // guarded
    bool stopping_ = false;                                                      // guarded

    std::mutex join_mutex_;
    std::thread worker_;
};

}  // namespace herald::delivery
