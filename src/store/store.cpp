#include "store/store.hpp"

#include <array>
#include <string>
#include <utility>

namespace herald::store {
namespace {

constexpr std::array<std::pair<Status, std::string_view>, 7> kStatusNames{{
    {Status::queued, "queued"},
    {Status::sending, "sending"},
    {Status::sent, "sent"},
    {Status::retrying, "retrying"},
    {Status::failed, "failed"},
    {Status::expired, "expired"},
    {Status::cancelled, "cancelled"},
}};

class StoreCategory final : public boost::system::error_category {
public:
    const char* name() const noexcept override { return "herald.store"; }

    std::string message(int value) const override {
        switch (static_cast<StoreError>(value)) {
            case StoreError::stale_lease:
                return "the lease on this outbox entry is held by a newer claim";
            case StoreError::not_found:
                return "no such notification";
            case StoreError::unavailable:
                return "the database is unavailable";
            case StoreError::overloaded:
                return "the store's queue is full";
            case StoreError::shutting_down:
                return "the store is shutting down";
            case StoreError::already_exists:
                return "the notification already exists";
            case StoreError::deadline_expired:
                return "the write was still queued at its deadline";
            case StoreError::abandoned:
                return "the requester gave up before the write ran";
        }
        return "unknown store error";
    }
};

}  // namespace

std::string_view to_string(Status status) {
    for (const auto& [value, name] : kStatusNames) {
        if (value == status) {
            return name;
        }
    }
    return "unknown";
}

std::optional<Status> parse_status(std::string_view text) {
    for (const auto& [value, name] : kStatusNames) {
        if (name == text) {
            return value;
        }
    }
    return std::nullopt;
}

const boost::system::error_category& store_category() {
    static const StoreCategory category;
    return category;
}

boost::system::error_code make_error_code(StoreError e) {
    return {static_cast<int>(e), store_category()};
}

}  // namespace herald::store
