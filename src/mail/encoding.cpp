#include "mail/encoding.hpp"

#include <algorithm>
#include <cstdint>

namespace herald::mail::encoding {

namespace {

constexpr std::string_view kEncodedWordPrefix = "=?UTF-8?B?";
constexpr std::string_view kEncodedWordSuffix = "?=";
constexpr std::size_t kEncodedWordOverhead = kEncodedWordPrefix.size() + kEncodedWordSuffix.size();
constexpr std::size_t kMinEncodedWord = 20;   // room for one 4-octet code point
constexpr std::size_t kDisplayNameWord = 64;  // fits after "Reply-To: " within kFoldColumn
constexpr std::size_t kQpMaxLine = 76;

constexpr char kHexDigits[] = "0123456789ABCDEF";

bool is_ascii_control(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

// RFC 5322 atext: the characters of an unquoted word in a display name.
bool is_atext(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return std::string_view{"!#$%&'*+-/=?^_`{|}~"}.find(static_cast<char>(c)) !=
           std::string_view::npos;
}

std::string replace_line_breaks(std::string_view text) {
    std::string out{text};
    std::replace_if(
        out.begin(), out.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
    return out;
}

// Words separated by exactly one space, none empty: the only spacing that survives being
// split into atoms and joined again with single spaces.
bool has_simple_spacing(std::string_view text) {
    if (text.empty() || text.front() == ' ' || text.back() == ' ') {
        return false;
    }
    return text.find("  ") == std::string_view::npos;
}

std::vector<std::string_view> split_on_spaces(std::string_view text) {
    std::vector<std::string_view> words;
    std::size_t start = 0;
    while (true) {
        const std::size_t space = text.find(' ', start);
        if (space == std::string_view::npos) {
            words.push_back(text.substr(start));
            return words;
        }
        words.push_back(text.substr(start, space - start));
        start = space + 1;
    }
}

// A word that cannot be written as-is in an unstructured header.
bool needs_encoding(std::string_view word) {
    if (word.size() > kMaxPlainWord || word.find("=?") != std::string_view::npos) {
        return true;
    }
    return std::any_of(word.begin(), word.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c >= 0x80 || is_ascii_control(c);
    });
}

std::size_t clamp_word_length(std::size_t max) {
    return std::clamp(max, kMinEncodedWord, kMaxEncodedWord);
}

void append_hex_escape(std::string& out, unsigned char c) {
    out += '=';
    out += kHexDigits[c >> 4];
    out += kHexDigits[c & 0x0f];
}

// The quoted-printable form of line[i]: literal where allowed, "=XX" otherwise.
std::string qp_token(std::string_view line, std::size_t i, bool at_line_start) {
    const auto c = static_cast<unsigned char>(line[i]);
    const bool last = i + 1 == line.size();
    std::string token;
    const bool literal_ok = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
    const bool dot_at_start = at_line_start && c == '.';
    const bool from_at_start = at_line_start && line.substr(i).starts_with("From ");
    if (literal_ok && !dot_at_start && !from_at_start) {
        token += static_cast<char>(c);
    } else {
        append_hex_escape(token, c);
    }
    return token;
}

// `continues`: the line will be followed by a soft break, so its last token needs room for '='.
void encode_qp_line(std::string_view line, bool continues, std::string& out) {
    std::size_t column = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
        std::string token = qp_token(line, i, column == 0);
        // A line that continues needs one column for the soft-break '='.
        const bool ends_line = i + 1 == line.size() && !continues;
        const std::size_t limit = ends_line ? kQpMaxLine : kQpMaxLine - 1;
        if (column + token.size() > limit) {
            out += "=\r\n";
            column = 0;
            token = qp_token(line, i, true);
        }
        out += token;
        column += token.size();
    }
}

}  // namespace

std::size_t utf8_sequence_length(unsigned char lead) {
    if (lead < 0x80) {
        return 1;
    }
    if ((lead & 0xe0) == 0xc0) {
        return 2;
    }
    if ((lead & 0xf0) == 0xe0) {
        return 3;
    }
    if ((lead & 0xf8) == 0xf0) {
        return 4;
    }
    return 1;
}

std::string normalize_line_breaks(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 32);
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\r') {
            out += "\r\n";
            if (i + 1 < text.size() && text[i + 1] == '\n') {
                ++i;
            }
        } else if (c == '\n') {
            out += "\r\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string encode_base64(std::string_view bytes) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                                (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                                static_cast<unsigned char>(bytes[i + 2]);
        out += kAlphabet[(n >> 18) & 0x3f];
        out += kAlphabet[(n >> 12) & 0x3f];
        out += kAlphabet[(n >> 6) & 0x3f];
        out += kAlphabet[n & 0x3f];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const std::uint32_t n = static_cast<unsigned char>(bytes[i]) << 16;
        out += kAlphabet[(n >> 18) & 0x3f];
        out += kAlphabet[(n >> 12) & 0x3f];
        out += "==";
    } else if (rest == 2) {
        const std::uint32_t n = (static_cast<unsigned char>(bytes[i]) << 16) |
                                (static_cast<unsigned char>(bytes[i + 1]) << 8);
        out += kAlphabet[(n >> 18) & 0x3f];
        out += kAlphabet[(n >> 12) & 0x3f];
        out += kAlphabet[(n >> 6) & 0x3f];
        out += '=';
    }
    return out;
}

std::string encode_base64_lines(std::string_view bytes) {
    constexpr std::size_t kLineChars = 76;
    const std::string flat = encode_base64(bytes);
    std::string out;
    out.reserve(flat.size() + flat.size() / kLineChars * 2);
    for (std::size_t pos = 0; pos < flat.size(); pos += kLineChars) {
        if (pos != 0) {
            out += "\r\n";
        }
        out.append(flat, pos, kLineChars);
    }
    return out;
}

std::string encode_quoted_printable(std::string_view crlf_text, bool soft_final_break) {
    std::string out;
    out.reserve(crlf_text.size() + crlf_text.size() / 8);
    std::size_t pos = 0;
    while (true) {
        const std::size_t end = crlf_text.find("\r\n", pos);
        if (end == std::string_view::npos) {
            const std::string_view last = crlf_text.substr(pos);
            const bool soft = soft_final_break && !last.empty();
            encode_qp_line(last, soft, out);
            if (soft) {
                out += "=\r\n";
            }
            return out;
        }
        encode_qp_line(crlf_text.substr(pos, end - pos), false, out);
        out += "\r\n";
        pos = end + 2;
    }
}

std::vector<std::string> encode_words(std::string_view text,
                                      std::size_t first_max,
                                      std::size_t rest_max) {
    std::vector<std::string> words;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t max_chars = clamp_word_length(words.empty() ? first_max : rest_max);
        const std::size_t max_octets = (max_chars - kEncodedWordOverhead) / 4 * 3;
        std::size_t end = pos;
        while (end < text.size()) {
            const std::size_t length = std::min(
                utf8_sequence_length(static_cast<unsigned char>(text[end])), text.size() - end);
            if (end + length - pos > max_octets) {
                break;
            }
            end += length;
        }
        std::string word{kEncodedWordPrefix};
        word += encode_base64(text.substr(pos, end - pos));
        word += kEncodedWordSuffix;
        words.push_back(std::move(word));
        pos = end;
    }
    return words;
}

std::string fold_header(std::string_view name, const std::vector<std::string>& atoms) {
    std::string out{name};
    out += ':';
    std::size_t column = out.size();
    bool first = true;
    for (const std::string& atom : atoms) {
        if (!first && column + 1 + atom.size() > kFoldColumn) {
            out += "\r\n";
            column = 0;
        }
        out += ' ';
        out += replace_line_breaks(atom);
        column += 1 + atom.size();
        first = false;
    }
    out += "\r\n";
    return out;
}

std::vector<std::string> unstructured_atoms(std::string_view value, std::size_t name_length) {
    const std::string text = replace_line_breaks(value);
    const std::size_t first_max =
        kFoldColumn > name_length + 2 ? kFoldColumn - name_length - 2 : kMinEncodedWord;
    std::vector<std::string> atoms;
    if (text.empty()) {
        return atoms;
    }
    if (!has_simple_spacing(text)) {
        return encode_words(text, first_max, kMaxEncodedWord);
    }

    const std::vector<std::string_view> words = split_on_spaces(text);
    std::size_t i = 0;
    while (i < words.size()) {
        if (!needs_encoding(words[i])) {
            atoms.emplace_back(words[i]);
            ++i;
            continue;
        }
        // Adjacent encoded-words decode without the space between them, so a run of words
        // that need encoding is encoded together, spaces included.
        std::size_t j = i + 1;
        while (j < words.size() && needs_encoding(words[j])) {
            ++j;
        }
        const char* run_begin = words[i].data();
        const char* run_end = words[j - 1].data() + words[j - 1].size();
        const std::string_view run{run_begin, static_cast<std::size_t>(run_end - run_begin)};
        for (std::string& word :
             encode_words(run, atoms.empty() ? first_max : kMaxEncodedWord, kMaxEncodedWord)) {
            atoms.push_back(std::move(word));
        }
        i = j;
    }
    return atoms;
}

std::vector<std::string> display_name_atoms(std::string_view name) {
    const std::string text = replace_line_breaks(name);
    if (text.empty()) {
        return {};
    }
    const bool printable_ascii = std::all_of(text.begin(), text.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c >= 0x20 && c < 0x7f;
    });
    if (!printable_ascii || text.find("=?") != std::string::npos) {
        return encode_words(text, kDisplayNameWord, kDisplayNameWord);
    }

    if (has_simple_spacing(text)) {
        const std::vector<std::string_view> words = split_on_spaces(text);
        const bool all_atoms = std::all_of(words.begin(), words.end(), [](std::string_view w) {
            return w.size() <= kMaxPlainWord && std::all_of(w.begin(), w.end(), [](char c) {
                       return is_atext(static_cast<unsigned char>(c));
                   });
        });
        if (all_atoms) {
            return {words.begin(), words.end()};
        }
    }

    std::string quoted = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            quoted += '\\';
        }
        quoted += c;
    }
    quoted += '"';
    if (quoted.size() > kMaxPlainWord) {
        return encode_words(text, kDisplayNameWord, kDisplayNameWord);
    }
    return {std::move(quoted)};
}

}  // namespace herald::mail::encoding
