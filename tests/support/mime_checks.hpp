#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace herald::test {

// Byte-level checks of a raw RFC 5322 message as a provider received it. Pure functions.

// The header section (up to, not including, the first empty line) and the body after it.
std::string_view header_section(std::string_view raw);
std::string_view body_section(std::string_view raw);

// Lines split on CRLF; a final line without CRLF is included.
std::vector<std::string_view> crlf_lines(std::string_view raw);
// True when every CR is followed by LF and every LF follows a CR.
bool only_crlf_line_ends(std::string_view raw);
// The longest line in octets, without its CRLF.
std::size_t longest_line(std::string_view raw);
// True when some line is exactly ".".
bool has_lone_dot_line(std::string_view raw);
bool all_ascii(std::string_view bytes);
bool is_valid_utf8(std::string_view bytes);

// Every occurrence of header `name` (case-insensitive), each unfolded (CRLF before WSP removed),
// value only, leading space kept out.
std::vector<std::string> header_values(std::string_view raw, std::string_view name);
// The raw lines (folded continuation lines included, CRLF kept) of the first `name` header.
std::optional<std::string> raw_header(std::string_view raw, std::string_view name);

// RFC 2047 encoded-words ("=?charset?B|Q?text?=") appearing in `text`.
std::vector<std::string> encoded_words(std::string_view text);
// The octets one encoded-word stands for; nullopt when it is malformed.
std::optional<std::string> decode_encoded_word(std::string_view word);

}  // namespace herald::test
