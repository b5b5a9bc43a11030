#include "mail/mime.hpp"

#include "core/time.hpp"
#include "mail/encoding.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace herald::mail {

namespace {

namespace enc = encoding;

constexpr std::size_t kMaxHeaderName = 76;
constexpr std::size_t kMaxMessageId = 900;

constexpr std::array<std::string_view, 12> kReservedHeaders{"from",
                                                            "to",
                                                            "cc",
                                                            "bcc",
                                                            "subject",
                                                            "date",
                                                            "message-id",
                                                            "mime-version",
                                                            "reply-to",
                                                            "sender",
                                                            "return-path",
                                                            "received"};

char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return ascii_lower(x) == ascii_lower(y);
           });
}

// Folds between mailboxes: a mailbox that fits on a line is one atom ("Name <addr>,"), so it is
// never split; a longer one may fold between the words of its name and before its address.
std::string address_header(std::string_view name, const std::vector<Mailbox>& mailboxes) {
    const std::size_t whole_mailbox_max = enc::kFoldColumn - name.size() - 2;
    std::vector<std::string> atoms;
    for (std::size_t i = 0; i < mailboxes.size(); ++i) {
        const Mailbox& mailbox = mailboxes[i];
        std::vector<std::string> parts = enc::display_name_atoms(mailbox.name);
        parts.push_back(parts.empty() ? mailbox.address : "<" + mailbox.address + ">");
        if (i + 1 < mailboxes.size()) {
            parts.back() += ',';
        }
        std::string joined;
        for (const std::string& part : parts) {
            joined += (joined.empty() ? "" : " ") + part;
        }
        if (joined.size() <= whole_mailbox_max) {
            atoms.push_back(std::move(joined));
            continue;
        }
        for (std::string& part : parts) {
            atoms.push_back(std::move(part));
        }
    }
    return enc::fold_header(name, atoms);
}

// What may stand between the angle brackets of a msg-id: printable ASCII without '<' and '>'.
std::string sanitize_message_id(std::string_view id) {
    std::string out;
    for (const char c : id.substr(0, kMaxMessageId)) {
        if (c > ' ' && c < 0x7f && c != '<' && c != '>') {
            out += c;
        }
    }
    return out;
}

// 7bit needs only ASCII (no NUL), lines of at most 998 octets, and, for herald, no line that
// starts with '.' so that no transport's dot-stuffing can matter. `text` has CRLF line ends.
bool fits_7bit(std::string_view text) {
    std::size_t line_start = 0;
    while (line_start <= text.size()) {
        const std::size_t end = std::min(text.find("\r\n", line_start), text.size());
        const std::string_view line = text.substr(line_start, end - line_start);
        if (line.size() > enc::kMaxLineOctets || line.starts_with('.')) {
            return false;
        }
        const bool ascii = std::all_of(line.begin(), line.end(), [](char c) {
            const auto u = static_cast<unsigned char>(c);
            return u != 0 && u < 0x80;
        });
        if (!ascii) {
            return false;
        }
        line_start = end + 2;
    }
    return true;
}

bool mostly_non_ascii(std::string_view text) {
    const auto count = std::count_if(
        text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
    return static_cast<std::size_t>(count) * 2 > text.size();
}

enum class TransferEncoding { seven_bit, quoted_printable, base64 };

std::string_view to_string(TransferEncoding encoding) {
    switch (encoding) {
        case TransferEncoding::seven_bit:
            return "7bit";
        case TransferEncoding::quoted_printable:
            return "quoted-printable";
        case TransferEncoding::base64:
            return "base64";
    }
    return "7bit";
}

// One body part encoded for transfer. `content` carries no trailing line break of its own
// making: the CRLF that follows it (before a boundary or at the end of the message) belongs to
// the MIME structure, so the decoded part equals the normalised input exactly.
struct EncodedPart {
    std::string_view media_type;
    TransferEncoding encoding = TransferEncoding::seven_bit;
    std::string content;
};

EncodedPart encode_part(std::string_view media_type, std::string_view body, bool single_part) {
    const std::string normalized = enc::normalize_line_breaks(body);
    if (fits_7bit(normalized)) {
        return {media_type, TransferEncoding::seven_bit, normalized};
    }
    if (mostly_non_ascii(normalized)) {
        return {media_type, TransferEncoding::base64, enc::encode_base64_lines(normalized)};
    }
    // A single part ends the message, which must end with CRLF: a soft break keeps that CRLF
    // out of the decoded text.
    return {media_type,
            TransferEncoding::quoted_printable,
            enc::encode_quoted_printable(normalized, single_part)};
}

std::string part_headers(const EncodedPart& part) {
    std::string out = "Content-Type: ";
    out += part.media_type;
    out += "; charset=utf-8\r\nContent-Transfer-Encoding: ";
    out += to_string(part.encoding);
    out += "\r\n";
    return out;
}

std::string hex64(std::uint64_t value) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out(16, '0');
    for (int i = 15; i >= 0; --i) {
        out[static_cast<std::size_t>(i)] = kHex[value & 0xf];
        value >>= 4;
    }
    return out;
}

// FNV-1a: a stable hash, so the same message_id always gives the same boundary.
std::uint64_t fnv1a(std::string_view text) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (const char c : text) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

// "=_" cannot occur in quoted-printable or base64 output; a 7bit part could hold it, so the
// boundary is checked against every part and varied until no part contains it.
std::string make_boundary(std::string_view message_id, const std::vector<EncodedPart>& parts) {
    const std::string base = "=_herald_" + hex64(fnv1a(message_id));
    for (std::size_t attempt = 0;; ++attempt) {
        const std::string candidate = attempt == 0 ? base : base + "_" + std::to_string(attempt);
        const bool clash = std::any_of(parts.begin(), parts.end(), [&](const EncodedPart& part) {
            return part.content.find(candidate) != std::string::npos;
        });
        if (!clash) {
            return candidate;
        }
    }
}

void append_single_part(std::string& out, const EncodedPart& part) {
    out += part_headers(part);
    out += "\r\n";
    out += part.content;
    const bool ends_with_break = part.content.ends_with("\r\n");
    if (!part.content.empty() && !ends_with_break) {
        out += "\r\n";
    }
}

void append_alternative(std::string& out,
                        std::string_view message_id,
                        const std::vector<EncodedPart>& parts) {
    const std::string boundary = make_boundary(message_id, parts);
    out += enc::fold_header("Content-Type",
                            {"multipart/alternative;", "boundary=\"" + boundary + "\""});
    out += "\r\n";
    for (const EncodedPart& part : parts) {
        out += "--" + boundary + "\r\n";
        out += part_headers(part);
        out += "\r\n";
        out += part.content;
        out += "\r\n";
    }
    out += "--" + boundary + "--\r\n";
}

}  // namespace

std::string compose(const Message& message) {
    std::string out;
    out += enc::fold_header("Date", {core::format_rfc5322(message.date_ms)});
    out += address_header("From", {message.from});
    if (!message.to.empty()) {
        out += address_header("To", message.to);
    }
    if (!message.cc.empty()) {
        out += address_header("Cc", message.cc);
    }
    if (!message.reply_to.empty()) {
        out += address_header("Reply-To", message.reply_to);
    }
    out += enc::fold_header("Subject", enc::unstructured_atoms(message.subject, 7));
    if (const std::string id = sanitize_message_id(message.message_id); !id.empty()) {
        out += enc::fold_header("Message-ID", {"<" + id + ">"});
    }
    out += "MIME-Version: 1.0\r\n";
    for (const auto& [name, value] : message.headers) {
        // Validation refuses these at intake; a stored message that holds one anyway must not
        // get to set Bcc, Content-Type or a malformed field.
        if (!is_valid_header_name(name) || is_reserved_header(name)) {
            continue;
        }
        out += enc::fold_header(name, enc::unstructured_atoms(value, name.size()));
    }

    const bool has_text = !message.text.empty();
    const bool has_html = !message.html.empty();
    if (has_text && has_html) {
        append_alternative(out,
                           message.message_id,
                           {encode_part("text/plain", message.text, false),
                            encode_part("text/html", message.html, false)});
    } else if (has_html) {
        append_single_part(out, encode_part("text/html", message.html, true));
    } else {
        append_single_part(out, encode_part("text/plain", message.text, true));
    }
    return out;
}

bool is_valid_header_name(std::string_view name) {
    if (name.empty() || name.size() > kMaxHeaderName) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u >= 33 && u <= 126 && c != ':';
    });
}

bool is_reserved_header(std::string_view name) {
    constexpr std::string_view kContentPrefix = "content-";
    if (name.size() >= kContentPrefix.size() &&
        iequals(name.substr(0, kContentPrefix.size()), kContentPrefix)) {
        return true;
    }
    return std::any_of(kReservedHeaders.begin(),
                       kReservedHeaders.end(),
                       [name](std::string_view reserved) { return iequals(name, reserved); });
}

bool is_valid_utf8(std::string_view text) {
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        if (lead < 0x80) {
            ++i;
            continue;
        }
        std::size_t length = 0;
        std::uint32_t code_point = 0;
        std::uint32_t minimum = 0;
        if ((lead & 0xe0) == 0xc0) {
            length = 2;
            code_point = lead & 0x1f;
            minimum = 0x80;
        } else if ((lead & 0xf0) == 0xe0) {
            length = 3;
            code_point = lead & 0x0f;
            minimum = 0x800;
        } else if ((lead & 0xf8) == 0xf0) {
            length = 4;
            code_point = lead & 0x07;
            minimum = 0x10000;
        } else {
            return false;
        }
        if (i + length > text.size()) {
            return false;
        }
        for (std::size_t k = 1; k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            if ((next & 0xc0) != 0x80) {
                return false;
            }
            code_point = (code_point << 6) | (next & 0x3f);
        }
        const bool surrogate = code_point >= 0xd800 && code_point <= 0xdfff;
        if (code_point < minimum || code_point > 0x10ffff || surrogate) {
            return false;
        }
        i += length;
    }
    return true;
}

bool contains_cr_or_lf(std::string_view text) {
    return text.find_first_of("\r\n") != std::string_view::npos;
}

}  // namespace herald::mail
