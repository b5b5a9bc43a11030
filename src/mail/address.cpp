#include "mail/address.hpp"

#include "core/text.hpp"
#include "mail/failure.hpp"
#include "mail/mime.hpp"

#include <idn2.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace herald::mail {

namespace {

using detail::fail;
using detail::ok;

using MailboxResult = boost::system::result<Mailbox, std::string>;
using TextResult = boost::system::result<std::string, std::string>;

constexpr std::size_t kMaxLocalPart = 64;  // RFC 5321 4.5.3.1.1
constexpr std::size_t kMaxAddress = 254;   // RFC 5321 path limit less the angle brackets
constexpr std::size_t kMaxDomain = 253;
constexpr std::size_t kMaxLabel = 63;
// Anything longer is refused before any parsing work (names included).
constexpr std::size_t kMaxInput = 2048;

bool is_ascii_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// RFC 5322 atext, plus any octet of a UTF-8 sequence (RFC 6532); '.' is handled apart.
bool is_local_part_char(unsigned char c) {
    if (c >= 0x80 || is_ascii_alnum(c)) {
        return true;
    }
    return std::string_view{"!#$%&'*+-/=?^_`{|}~"}.find(static_cast<char>(c)) !=
           std::string_view::npos;
}

bool has_non_ascii(std::string_view text) {
    return std::any_of(
        text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

std::string to_lower_ascii(std::string_view text) {
    std::string out{text};
    std::transform(out.begin(), out.end(), out.begin(), [](char c) {
        return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    });
    return out;
}

TextResult check_local_part(std::string_view local) {
    if (local.empty()) {
        return fail("address has an empty local part");
    }
    if (local.size() > kMaxLocalPart) {
        return fail("local part is longer than 64 octets");
    }
    for (const char c : local) {
        if (c != '.' && !is_local_part_char(static_cast<unsigned char>(c))) {
            return fail("local part contains a character that is not allowed");
        }
    }
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) {
        return fail("local part has a leading, trailing or double dot");
    }
    return ok(std::string{local});
}

// Converts an internationalised domain (or one with "xn--" labels, which libidn2 verifies) to
// its lower-case A-label form.
TextResult to_ascii_domain(std::string_view domain) {
    const std::string lowered = to_lower_ascii(domain);
    if (!has_non_ascii(domain) && lowered.find("xn--") == std::string::npos) {
        return ok(lowered);
    }
    char* converted = nullptr;
    const int rc = idn2_to_ascii_8z(lowered.c_str(), &converted, IDN2_NONTRANSITIONAL);
    const std::unique_ptr<char, decltype(&idn2_free)> owner{converted, &idn2_free};
    if (rc != IDN2_OK || converted == nullptr) {
        return fail("domain is not a valid internationalised domain name");
    }
    return ok(to_lower_ascii(converted));
}

TextResult check_domain(std::string_view raw) {
    if (raw.empty()) {
        return fail("address has an empty domain");
    }
    if (raw.front() == '[') {
        return fail("IP-literal domains are not supported");
    }
    auto converted = to_ascii_domain(raw);
    if (!converted) {
        return converted;
    }
    const std::string& domain = *converted;
    if (domain.size() > kMaxDomain) {
        return fail("domain is longer than 253 octets");
    }

    std::string_view last_label;
    std::size_t start = 0;
    while (start <= domain.size()) {
        const std::size_t dot = std::min(domain.find('.', start), domain.size());
        const std::string_view label{domain.data() + start, dot - start};
        if (label.empty()) {
            return fail("domain has an empty label");
        }
        if (label.size() > kMaxLabel) {
            return fail("domain label is longer than 63 octets");
        }
        const bool allowed = std::all_of(label.begin(), label.end(), [](char c) {
            return is_ascii_alnum(static_cast<unsigned char>(c)) || c == '-';
        });
        if (!allowed) {
            return fail("domain contains a character that is not allowed");
        }
        if (label.front() == '-' || label.back() == '-') {
            return fail("domain label starts or ends with a hyphen");
        }
        last_label = label;
        start = dot + 1;
    }
    const bool numeric_tld = std::all_of(
        last_label.begin(), last_label.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric_tld) {
        return fail("IP-literal domains are not supported");
    }
    return ok(domain);
}

TextResult normalize_address(std::string_view address) {
    if (address.empty()) {
        return fail("address is empty");
    }
    if (address.find_first_of(" \t") != std::string_view::npos) {
        return fail("address contains a space");
    }
    const std::size_t at = address.find('@');
    if (at == std::string_view::npos) {
        return fail("address has no '@'");
    }
    if (address.find('@', at + 1) != std::string_view::npos) {
        return fail("address has more than one '@'");
    }

    auto local = check_local_part(address.substr(0, at));
    if (!local) {
        return local;
    }
    auto domain = check_domain(address.substr(at + 1));
    if (!domain) {
        return domain;
    }
    std::string result = *local + "@" + *domain;
    if (result.size() > kMaxAddress) {
        return fail("address is longer than 254 octets");
    }
    return ok(result);
}

// Removes the quotes of every quoted-string in a display name and resolves their backslash
// escapes; unquoted text is kept as it is. The caller has checked that quotes balance.
std::string unquote_phrase(std::string_view phrase) {
    std::string out;
    bool in_quote = false;
    for (std::size_t i = 0; i < phrase.size(); ++i) {
        const char c = phrase[i];
        if (c == '"') {
            in_quote = !in_quote;
        } else if (in_quote && c == '\\' && i + 1 < phrase.size()) {
            out += phrase[++i];
        } else {
            out += c;
        }
    }
    return out;
}

// The positions of the angle brackets of "name <address>", or the reason the text is refused.
struct AngleAddr {
    std::size_t open = std::string_view::npos;
    std::size_t close = std::string_view::npos;
};

boost::system::result<AngleAddr, std::string> scan_mailbox(std::string_view text) {
    AngleAddr found;
    bool in_quote = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_quote) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_quote = false;
            }
            continue;
        }
        switch (c) {
            case '"':
                if (found.open != std::string_view::npos) {
                    return fail("quoted local parts are not supported");
                }
                in_quote = true;
                break;
            case ',':
                return fail("holds more than one address");
            case ':':
            case ';':
                return fail("address groups are not supported");
            case '(':
            case ')':
                return fail("comments are not supported");
            case '[':
            case ']':
                return fail("IP-literal domains are not supported");
            case '\\':
                return fail("has a backslash outside quotes");
            case '<':
                if (found.open != std::string_view::npos) {
                    return fail("has more than one '<'");
                }
                found.open = i;
                break;
            case '>':
                if (found.close != std::string_view::npos) {
                    return fail("has more than one '>'");
                }
                found.close = i;
                break;
            default:
                break;
        }
    }
    if (in_quote) {
        return fail("has an unbalanced quote");
    }
    return found;
}

}  // namespace

MailboxResult make_mailbox(std::string_view name, std::string_view address) {
    if (contains_cr_or_lf(name)) {
        return fail("display name contains a line break");
    }
    if (contains_cr_or_lf(address)) {
        return fail("address contains a line break");
    }
    if (name.size() > kMaxInput || address.size() > kMaxInput) {
        return fail("mailbox is too long");
    }
    if (!is_valid_utf8(name)) {
        return fail("display name is not valid UTF-8");
    }
    if (!is_valid_utf8(address)) {
        return fail("address is not valid UTF-8");
    }
    const bool has_control = std::any_of(name.begin(), name.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return (c < 0x20 && c != '\t') || c == 0x7f;
    });
    if (has_control) {
        return fail("display name contains a control character");
    }

    auto normalized = normalize_address(core::trim_blanks(address));
    if (!normalized) {
        return fail(normalized.error());
    }
    return Mailbox{std::string{core::trim_blanks(name)}, std::move(*normalized)};
}

MailboxResult parse_mailbox(std::string_view text) {
    if (contains_cr_or_lf(text)) {
        return fail("contains a line break");
    }
    if (text.size() > kMaxInput) {
        return fail("mailbox is too long");
    }
    if (!is_valid_utf8(text)) {
        return fail("is not valid UTF-8");
    }
    const std::string_view trimmed = core::trim_blanks(text);
    if (trimmed.empty()) {
        return fail("mailbox is empty");
    }
    auto scanned = scan_mailbox(trimmed);
    if (!scanned) {
        return fail(scanned.error());
    }

    const AngleAddr angle = *scanned;
    const bool has_open = angle.open != std::string_view::npos;
    const bool has_close = angle.close != std::string_view::npos;
    if (!has_open && !has_close) {
        if (trimmed.find('"') != std::string_view::npos) {
            return fail("quoted local parts are not supported");
        }
        return make_mailbox({}, trimmed);
    }
    if (!has_open || !has_close || angle.close < angle.open) {
        return fail("has unbalanced angle brackets");
    }
    if (angle.close != trimmed.size() - 1) {
        return fail("has text after '>'");
    }
    const std::string name = unquote_phrase(core::trim_blanks(trimmed.substr(0, angle.open)));
    return make_mailbox(name, trimmed.substr(angle.open + 1, angle.close - angle.open - 1));
}

}  // namespace herald::mail
