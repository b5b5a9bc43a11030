// The dead-letter endpoints of NotificationsApi: the listing, retry and cancel.

#include "api/notifications.hpp"
#include "core/await_callback.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"
#include "mail/encoding.hpp"

#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace herald::api {
namespace {

using Field = boost::beast::http::field;
using http::Response;
using http::Status;

constexpr int kDefaultListLimit = 100;
constexpr int kMaxListLimit = 500;

Response not_found() {
    return http::problem_response(
        Status::not_found, "not-found", "Not found", "no notification with that id");
}

Response invalid_query(std::string parameter, std::string detail) {
    return http::problem_response(
        Status::bad_request,
        "invalid-query",
        "Invalid query",
        "a query parameter is invalid",
        {http::FieldProblem{{}, std::move(detail), {}, std::move(parameter), true}});
}

// 409 for a retry or cancel the notification's status does not allow; `notification_status`
// says which status it is in, so a client repeating a request whose answer it lost can tell.
Response status_conflict(store::Status status, std::string_view action, std::string_view allowed) {
    const std::string current{store::to_string(status)};
    boost::json::object body = http::problem_body(
        Status::conflict,
        "status-conflict",
        "Not possible in the notification's status",
        fmt::format(
            "the notification is {}; only {} notifications can be {}", current, allowed, action));
    body["notification_status"] = current;
    return http::problem_response(Status::conflict, body);
}

// The answer to a retry or cancel the store could not carry out.
Response change_failure(const boost::system::error_code& ec, const store::Store& store) {
    return ec == store::make_error_code(store::StoreError::not_found) ? not_found()
                                                                      : store_failure(ec, store);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// Percent-decoding (RFC 3986). '+' stays '+' (it is not a space outside HTML forms), so an
// offset like +01:00 may be sent as is. nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        if (i + 2 >= text.size()) {
            return std::nullopt;
        }
        const int high = hex_value(text[i + 1]);
        const int low = hex_value(text[i + 2]);
        if (high < 0 || low < 0) {
            return std::nullopt;
        }
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
    }
    return out;
}

constexpr std::string_view kBase64Url =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// RFC 4648 §5 without padding: standard base64 with the two URL-unsafe digits swapped.
std::string base64url(std::string_view bytes) {
    std::string out = mail::encoding::encode_base64(bytes);
    out.erase(out.find_last_not_of('=') + 1);
    std::replace(out.begin(), out.end(), '+', '-');
    std::replace(out.begin(), out.end(), '/', '_');
    return out;
}

std::optional<std::string> from_base64url(std::string_view text) {
    std::string out;
    std::uint32_t buffer = 0;
    int bits = 0;
    for (char c : text) {
        const auto value = kBase64Url.find(c);
        if (value == std::string_view::npos) {
            return std::nullopt;
        }
        buffer = (buffer << 6) | static_cast<std::uint32_t>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((buffer >> bits) & 0xff));
        }
    }
    return out;
}

// The cursor is base64url("UPDATED_AT.ID"): opaque to clients, who pass back what they got.
std::string encode_cursor(const store::ListCursor& cursor) {
    return base64url(fmt::format("{}.{}", cursor.updated_at, cursor.id));
}

std::optional<store::ListCursor> decode_cursor(std::string_view text) {
    const auto decoded = from_base64url(text);
    if (!decoded) {
        return std::nullopt;
    }
    const auto dot = decoded->find('.');
    if (dot == std::string::npos) {
        return std::nullopt;
    }
    store::ListCursor cursor;
    const char* first = decoded->data();
    const char* last = decoded->data() + dot;
    const auto [end, ec] = std::from_chars(first, last, cursor.updated_at);
    cursor.id = decoded->substr(dot + 1);
    if (ec != std::errc{} || end != last || cursor.updated_at < 0 ||
        !core::looks_like_uuid(cursor.id)) {
        return std::nullopt;
    }
    return cursor;
}

// The listing's query: every parameter at most once, none unknown. Either the query or the 400
// naming the first bad parameter.
std::variant<store::ListQuery, Response> read_list_query(std::string_view target) {
    store::ListQuery query;
    query.statuses = {store::Status::failed, store::Status::expired};
    query.limit = kDefaultListLimit;

    const auto question = target.find('?');
    std::string_view rest =
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
    std::vector<std::string> seen;
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        if (pair.empty()) {
            continue;
        }
        const auto eq = pair.find('=');
        const auto name = percent_decode(pair.substr(0, eq));
        const auto value =
            percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
        if (!name) {
            return invalid_query(std::string{pair.substr(0, eq)}, "malformed percent-encoding");
        }
        if (!value) {
            return invalid_query(*name, "malformed percent-encoding");
        }
        if (std::find(seen.begin(), seen.end(), *name) != seen.end()) {
            return invalid_query(*name, "given more than once");
        }
        seen.push_back(*name);

        if (*name == "status") {
            query.statuses.clear();
            std::string_view list = *value;
            for (;;) {
                const auto comma = list.find(',');
                const auto status = store::parse_status(list.substr(0, comma));
                if (!status) {
                    return invalid_query("status",
                                         "must be a comma-separated list of queued, sending, "
                                         "sent, retrying, failed, expired, cancelled");
                }
                query.statuses.push_back(*status);
                if (comma == std::string_view::npos) {
                    break;
                }
                list = list.substr(comma + 1);
            }
        } else if (*name == "created_after" || *name == "created_before") {
            const auto when = core::parse_rfc3339(*value);
            if (!when) {
                return invalid_query(*name,
                                     "must be an RFC 3339 date-time with an offset, e.g. "
                                     "2026-12-03T18:46:05Z");
            }
            (*name == "created_after" ? query.created_after : query.created_before) = *when;
        } else if (*name == "limit") {
            int limit = 0;
            const auto [end, ec] =
                std::from_chars(value->data(), value->data() + value->size(), limit);
            if (ec != std::errc{} || end != value->data() + value->size() || limit < 1 ||
                limit > kMaxListLimit) {
                return invalid_query(
                    "limit", fmt::format("must be a whole number from 1 to {}", kMaxListLimit));
            }
            query.limit = limit;
        } else if (*name == "cursor") {
            query.after = decode_cursor(*value);
            if (!query.after) {
                return invalid_query("cursor", "is not a cursor this listing returned");
            }
        } else {
            return invalid_query(*name, "unknown query parameter");
        }
    }
    return query;
}

bool is_json(std::string_view content_type) {
    std::string media{content_type.substr(0, content_type.find(';'))};
    while (!media.empty() && media.back() == ' ') {
        media.pop_back();
    }
    std::transform(media.begin(), media.end(), media.begin(), [](unsigned char c) {
        return static_cast<char>(std::tolower(c));
    });
    return media == "application/json";
}

// The optional body of a retry: empty, or {"max_age_s": N} / {"expires_at": "…"}. Either the
// expiry asked for or the 400 (415) to answer.
std::variant<RequestedExpiry, Response> read_retry_body(const http::Request& request,
                                                        int max_depth) {
    const std::string& text = request.body();
    if (std::all_of(text.begin(), text.end(), [](char c) {
            return c == ' ' || c == '\t' || c == '\r' || c == '\n';
        })) {
        return RequestedExpiry{};
    }
    if (!is_json(request[Field::content_type])) {
        return http::problem_response(Status::unsupported_media_type,
                                      "unsupported-media-type",
                                      "Unsupported media type",
                                      "the body must be application/json");
    }
    boost::json::parse_options options;
    options.max_depth = static_cast<std::size_t>(max_depth);
    boost::system::error_code ec;
    const boost::json::value body = boost::json::parse(text, ec, {}, options);
    if (ec) {
        // The same answers as intake gives for the same faults.
        const bool too_deep = ec == boost::json::error::too_deep;
        const std::string detail =
            too_deep ? fmt::format("the body nests deeper than {} levels", max_depth)
                     : fmt::format("the body is not valid JSON: {}", ec.message());
        return http::problem_response(Status::bad_request,
                                      too_deep ? "json-too-deep" : "malformed-json",
                                      too_deep ? "JSON nested too deeply" : "Malformed JSON",
                                      detail,
                                      {{"#", detail}});
    }
    std::vector<http::FieldProblem> problems;
    const auto* object = body.if_object();
    if (object == nullptr) {
        problems.push_back({"#", "the body must be a JSON object"});
    } else {
        for (const auto& member : *object) {
            if (member.key() != "max_age_s" && member.key() != "expires_at") {
                problems.push_back({"#/" + std::string{member.key()}, "unknown field"});
            }
        }
    }
    RequestedExpiry expiry;
    if (problems.empty()) {
        expiry = read_expiry(*object, problems);
    }
    if (!problems.empty()) {
        return http::problem_response(Status::bad_request,
                                      "invalid-retry",
                                      "Invalid retry",
                                      "one or more fields are invalid",
                                      problems);
    }
    return expiry;
}

using ChangeResult = boost::system::result<store::StatusChange>;

}  // namespace

boost::asio::awaitable<Response> NotificationsApi::list(http::RequestContext context) {
    const auto client = authenticate(context.request);
    if (!client) {
        co_return unauthorized();
    }
    auto read = read_list_query(context.request.target());
    if (auto* refusal = std::get_if<Response>(&read)) {
        co_return std::move(*refusal);
    }
    store::ListQuery query = std::move(std::get<store::ListQuery>(read));
    query.client = *client;

    auto page = co_await core::await_call<boost::system::result<store::ListPage>>(
        store_, &store::Store::list, std::move(query));
    if (!page) {
        co_return store_failure(page.error(), store_);
    }
    boost::json::array items;
    for (const auto& view : page->notifications) {
        boost::json::object item = notification_json(view);
        item.erase("attempt_log");  // per notification on GET /v1/notifications/{id}
        items.push_back(std::move(item));
    }
    boost::json::object out{{"notifications", std::move(items)}};
    out["next_cursor"] = page->next ? boost::json::value(encode_cursor(*page->next)) : nullptr;
    co_return http::json_response(Status::ok, out);
}

boost::asio::awaitable<Response> NotificationsApi::retry(http::RequestContext context) {
    const auto client = authenticate(context.request);
    if (!client) {
        co_return unauthorized();
    }
    const std::string id = context.params.at(0);
    if (!core::looks_like_uuid(id)) {
        co_return not_found();
    }
    auto read = read_retry_body(context.request, options_.max_json_depth);
    if (auto* refusal = std::get_if<Response>(&read)) {
        co_return std::move(*refusal);
    }
    const core::UnixMs now = core::unix_now_ms();
    const auto expires_at =
        resolve_expiry(std::get<RequestedExpiry>(read), now, options_.default_max_age_s);
    if (!expires_at) {
        co_return http::problem_response(Status::bad_request,
                                         "invalid-retry",
                                         "Invalid retry",
                                         "one or more fields are invalid",
                                         {expires_at.error()});
    }

    store::RetryRequest request{id, *client, now, *expires_at};
    auto changed =
        co_await core::await_call<ChangeResult>(store_, &store::Store::retry, std::move(request));
    if (!changed) {
        co_return change_failure(changed.error(), store_);
    }
    if (changed->kind == store::StatusChange::Kind::conflict) {
        co_return status_conflict(changed->notification.status, "retried", "failed or expired");
    }
    if (on_committed_) {
        on_committed_();
    }
    co_return http::json_response(Status::ok, notification_json(changed->notification));
}

boost::asio::awaitable<Response> NotificationsApi::cancel(http::RequestContext context) {
    const auto client = authenticate(context.request);
    if (!client) {
        co_return unauthorized();
    }
    const std::string id = context.params.at(0);
    if (!core::looks_like_uuid(id)) {
        co_return not_found();
    }
    store::CancelRequest request{id, *client, core::unix_now_ms()};
    auto changed =
        co_await core::await_call<ChangeResult>(store_, &store::Store::cancel, std::move(request));
    if (!changed) {
        co_return change_failure(changed.error(), store_);
    }
    if (changed->kind == store::StatusChange::Kind::conflict) {
        co_return status_conflict(changed->notification.status, "cancelled", "queued or retrying");
    }
    // A request waiting for this notification's delivery (Prefer: wait) gets its final answer.
    if (changed->kind == store::StatusChange::Kind::changed && options_.outcomes != nullptr) {
        options_.outcomes->publish(id, store::Status::cancelled);
    }
    co_return http::json_response(Status::ok, notification_json(changed->notification));
}

}  // namespace herald::api
