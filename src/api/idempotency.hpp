#pragma once

#include "api/validate.hpp"
#include "http/types.hpp"

#include <boost/json/value.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <optional>
#include <string>

namespace herald::api {

// An Idempotency-Key is 1 to 255 bytes of printable ASCII (space through '~'). It may be sent
// bare (`Idempotency-Key: order-42`) or as a structured-field string
// (`Idempotency-Key: "order-42"`, RFC 8941, with \" and \\ escapes); both name the same key.
inline constexpr std::size_t kMaxIdempotencyKeyBytes = 255;

// The request's Idempotency-Key: nullopt when the header is absent; an error naming the header
// when it is empty, too long, repeated, or holds a control or non-ASCII byte.
boost::system::result<std::optional<std::string>, http::FieldProblem> read_idempotency_key(
    const http::Request& request);

// JSON text with every object's keys in byte order and no spaces: equal for values that differ
// only in key order or layout.
std::string canonical_json(const boost::json::value& value);

// The fingerprint of a valid notification: the SHA-256 (hex) of the canonical JSON of what it
// asks herald to send — addresses as validation normalised them, templates rendered, custom
// headers ordered by lower-cased name, tags, metadata, and the expiry as asked (expires_at as an
// instant, so its spelling does not matter; max_age_s as a number of seconds, so a retry sent
// later still matches) — so two requests that differ only in JSON key order, spacing or address
// spelling (IDN domains, name quoting) match, and two that ask for different expiries do not.
std::string request_fingerprint(const ValidNotification& notification);

}  // namespace herald::api
