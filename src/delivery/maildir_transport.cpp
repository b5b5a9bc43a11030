#include "delivery/maildir_transport.hpp"

#include "core/thread_name.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace herald::delivery {
namespace {

std::string errno_text(std::string_view what, int error) {
    return fmt::format("{}: {}", what, std::strerror(error));
}

// Maildir escapes '/' and ':' in the host part, which would otherwise break the name.
std::string maildir_host() {
    char buffer[256] = {};
    if (gethostname(buffer, sizeof(buffer) - 1) != 0 || buffer[0] == '\0') {
        return "localhost";
    }
    std::string host;
    for (const char* c = buffer; *c != '\0'; ++c) {
        if (*c == '/') {
            host += "\\057";
        } else if (*c == ':') {
            host += "\\072";
        } else {
            host += *c;
        }
    }
    return host;
}

// Keeps the notification id readable in the file name without letting it add path separators,
// the ':' that starts Maildir flags, or dots that would split the name's fields.
std::string safe_id(std::string_view id) {
    std::string out;
    for (const char c : id.substr(0, 64)) {
        const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '_';
        out += keep ? c : '_';
    }
    return out;
}

bool write_all(int fd, std::string_view bytes, int& error) {
    while (!bytes.empty()) {
        const ssize_t written = ::write(fd, bytes.data(), bytes.size());
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            error = errno;
            return false;
        }
        bytes.remove_prefix(static_cast<std::size_t>(written));
    }
    return true;
}

SendResult transient(std::string detail) {
    SendResult result;
    result.outcome = AttemptOutcome::transient;
    result.detail = std::move(detail);
    return result;
}

}  // namespace

boost::system::result<std::unique_ptr<MaildirTransport>, std::string> MaildirTransport::open(
    std::filesystem::path root) {
    if (root.empty()) {
        return std::string("maildir path is empty");
    }
    std::error_code error;
    for (const char* sub : {"cur", "new", "tmp"}) {
        std::filesystem::create_directories(root / sub, error);
        if (error) {
            return fmt::format("cannot create {}: {}", (root / sub).string(), error.message());
        }
    }
    const int new_dir_fd = ::open((root / "new").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (new_dir_fd < 0) {
        return errno_text(fmt::format("cannot open {}", (root / "new").string()), errno);
    }
    return std::unique_ptr<MaildirTransport>(
        new MaildirTransport(std::move(root), new_dir_fd, maildir_host()));
}

MaildirTransport::MaildirTransport(std::filesystem::path root, int new_dir_fd, std::string host)
    : root_(std::move(root)), new_dir_fd_(new_dir_fd), host_(std::move(host)) {
    worker_ = std::thread([this] {
        core::name_this_thread("herald-maildir");
        run();
    });
}

MaildirTransport::~MaildirTransport() {
    stop();
    ::close(new_dir_fd_);
}

void MaildirTransport::send(std::shared_ptr<const OutboundMessage> message, Done done) {
    {
        std::lock_guard lock(mutex_);
        if (!stopping_) {
            queue_.emplace_back(std::move(message), std::move(done));
            wake_.notify_one();
            return;
        }
    }
    done(transient("transport stopped"));
}

void MaildirTransport::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    std::lock_guard lock(join_mutex_);
    if (worker_.joinable() && worker_.get_id() != std::this_thread::get_id()) {
        worker_.join();
    }
}

void MaildirTransport::run() {
    for (;;) {
        std::shared_ptr<const OutboundMessage> message;
        Done done;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) {
                break;
            }
            message = std::move(queue_.front().first);
            done = std::move(queue_.front().second);
            queue_.pop_front();
        }
        done(write(*message));
    }

    std::deque<std::pair<std::shared_ptr<const OutboundMessage>, Done>> abandoned;
    {
        std::lock_guard lock(mutex_);
        abandoned.swap(queue_);
    }
    for (auto& [message, done] : abandoned) {
        done(transient("transport stopped"));
    }
}

std::string MaildirTransport::unique_name(const OutboundMessage& message) {
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now).count();
    return fmt::format("{}.{}_{}_{}.{}",
                       seconds,
                       ::getpid(),
                       ++sequence_,
                       safe_id(message.notification_id),
                       host_);
}

SendResult MaildirTransport::write(const OutboundMessage& message) {
    const std::string name = unique_name(message);
    const std::filesystem::path tmp_path = root_ / "tmp" / name;
    const std::filesystem::path new_path = root_ / "new" / name;

    const int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        return transient(errno_text("maildir open", errno));
    }
    int error = 0;
    const char* failed_step = nullptr;
    if (!write_all(fd, message.mime, error)) {
        failed_step = "maildir write";
    } else if (::fsync(fd) != 0) {
        error = errno;
        failed_step = "maildir fsync";
    }
    if (::close(fd) != 0 && failed_step == nullptr) {
        error = errno;
        failed_step = "maildir close";
    }
    if (failed_step == nullptr && ::rename(tmp_path.c_str(), new_path.c_str()) != 0) {
        error = errno;
        failed_step = "maildir rename";
    }
    if (failed_step != nullptr) {
        ::unlink(tmp_path.c_str());
        return transient(errno_text(failed_step, error));
    }
    if (::fsync(new_dir_fd_) != 0) {
        // The file is already in new/; only the rename's durability across a power cut is in
        // doubt. Reported as transient like every I/O error, so a retry may leave a second copy.
        return transient(errno_text("maildir directory fsync", errno));
    }

    SendResult result;
    result.outcome = AttemptOutcome::sent;
    result.detail = fmt::format("new/{}", name);
    return result;
}

}  // namespace herald::delivery
