#include "mail/template.hpp"

#include "mail/failure.hpp"
#include "mail/mime.hpp"

#include <boost/json/value.hpp>
#include <fmt/format.h>
#include <kainjow/mustache.hpp>

#include <cassert>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>
#include <vector>

namespace herald::mail {

namespace {

using detail::fail;
using detail::ok;

namespace mustache = kainjow::mustache;
namespace fs = std::filesystem;

using DataResult = boost::system::result<mustache::data, std::string>;

// The data context with partials switched off: kainjow would otherwise render any string value
// of `data` named by a {{> name}} tag as a template, letting callers inject template code (and
// recurse without bound).
class DataContext : public mustache::context<std::string> {
public:
    using mustache::context<std::string>::context;

    const mustache::data* get_partial(const std::string& /*name*/) const override {
        return nullptr;
    }
};

// Depth counts containers: the top-level object is 1. Recursion stops at the limit, so an
// over-deep value is refused without being walked to its bottom.
DataResult to_mustache(const boost::json::value& value, std::size_t depth) {
    switch (value.kind()) {
        case boost::json::kind::null:
            return mustache::data{false};
        case boost::json::kind::bool_:
            return mustache::data{value.get_bool()};
        case boost::json::kind::int64:
            return mustache::data{std::to_string(value.get_int64())};
        case boost::json::kind::uint64:
            return mustache::data{std::to_string(value.get_uint64())};
        case boost::json::kind::double_:
            return mustache::data{fmt::format("{}", value.get_double())};
        case boost::json::kind::string:
            return mustache::data{std::string{value.get_string()}};
        case boost::json::kind::array: {
            if (depth + 1 > kMaxTemplateDataDepth) {
                break;
            }
            // kainjow 4.1's push_back copies, and copies are deep, so nested arrays cost their
            // size times their depth (a 600 KB body took 0.75 s). The elements are moved into
            // the vector the list owns instead: it is not const, only its accessor is. The
            // reserve matters: basic_data's move is not noexcept, so growth would copy.
            mustache::data list{mustache::data::type::list};
            auto& elements = const_cast<mustache::list&>(list.list_value());
            elements.reserve(value.get_array().size());
            for (const auto& element : value.get_array()) {
                auto converted = to_mustache(element, depth + 1);
                if (!converted) {
                    return converted;
                }
                elements.push_back(std::move(*converted));
            }
            return DataResult{boost::system::in_place_value, std::move(list)};
        }
        case boost::json::kind::object: {
            if (depth + 1 > kMaxTemplateDataDepth) {
                break;
            }
            mustache::data object{mustache::data::type::object};
            for (const auto& [key, element] : value.get_object()) {
                auto converted = to_mustache(element, depth + 1);
                if (!converted) {
                    return converted;
                }
                object[std::string{key}] = std::move(*converted);
            }
            return DataResult{boost::system::in_place_value, std::move(object)};
        }
    }
    return fail(
        fmt::format("template data is nested deeper than {} levels", kMaxTemplateDataDepth));
}

using Component = mustache::component<std::string>;
using mustache::tag_type;

// A tag's name is hashed once per context level each time it is looked up; charging a step per
// 32 bytes of it keeps the cost of one step bounded however long the names are.
constexpr std::size_t kNameBytesPerStep = 32;
// kainjow splits a dotted name ("order.id") through a string stream at every lookup, which
// costs about as much as eight plain steps.
constexpr std::size_t kDottedNameSteps = 8;
// Parsing costs per byte as well as per piece (kainjow copies the text, and copies each
// section's body once per enclosing level).
constexpr std::size_t kSourceBytesPerStep = 16;

// Steps to parse a part: see RenderLimits.
std::size_t parse_steps(const detail::TemplateShape& shape, std::size_t source_size) {
    return shape.pieces + source_size / kSourceBytesPerStep;
}

// Steps to visit a tag: see RenderLimits.
std::size_t tag_steps(const std::string& name) {
    const bool dotted = name.size() > 1 && name.find('.') != std::string::npos;
    return 1 + name.size() / kNameBytesPerStep + (dotted ? kDottedNameSteps : 0);
}

// What is left of RenderLimits while the parts render, in order.
struct Budget {
    std::size_t steps;
    std::size_t bytes;
};

enum class Overrun { none, steps, bytes };

// kainjow's html_escape turns < and > into 4-byte entities, & into a 5-byte one, " and ' into
// 6-byte ones.
std::size_t html_escaped_size(const std::string& text) {
    std::size_t size = text.size();
    for (const char c : text) {
        if (c == '&') {
            size += 4;
        } else if (c == '<' || c == '>') {
            size += 3;
        } else if (c == '"' || c == '\'') {
            size += 5;
        }
    }
    return size;
}

// Walks a parsed part the way kainjow's renderer does (basic_mustache::render_component and
// render_section in 4.1): the same tree, the same context lookups, the same sections taken and
// the same number of passes through each. It spends the budget instead of rendering and stops
// at the first overrun, so a template that would take too long or grow too large costs at
// most the budget to refuse. The bytes counted are every text piece and value the renderer
// appends, before it drops lines left blank by standalone tags, so they bound its output.
class CostWalk {
public:
    CostWalk(DataContext& context, Budget& budget, bool html)
        : context_(context), budget_(budget), html_(html) {}

    Overrun walk(const std::vector<Component>& pieces, std::size_t depth) {
        for (const auto& piece : pieces) {
            if (piece.is_text()) {
                if (!spend_steps(1)) {
                    return Overrun::steps;
                }
                if (!spend_bytes(piece.text.size())) {
                    return Overrun::bytes;
                }
                continue;
            }
            if (!spend_steps(tag_steps(piece.tag.name))) {
                return Overrun::steps;
            }
            const Overrun overrun = visit_tag(piece, depth);
            if (overrun != Overrun::none) {
                return overrun;
            }
        }
        return Overrun::none;
    }

private:
    Overrun visit_tag(const Component& piece, std::size_t depth) {
        const auto& tag = piece.tag;
        switch (tag.type) {
            case tag_type::variable:
            case tag_type::unescaped_variable: {
                const mustache::data* value = context_.get(tag.name);
                if (value == nullptr || !value->is_string()) {
                    return Overrun::none;
                }
                const std::string& text = value->string_value();
                // Bail out before scanning a value that cannot fit even unescaped.
                if (text.size() > budget_.bytes) {
                    return Overrun::bytes;
                }
                const bool escaped = html_ && tag.type == tag_type::variable;
                return spend_bytes(escaped ? html_escaped_size(text) : text.size())
                           ? Overrun::none
                           : Overrun::bytes;
            }
            case tag_type::section_begin: {
                const mustache::data* value = context_.get(tag.name);
                if (value == nullptr || value->is_false() || value->is_empty_list()) {
                    return Overrun::none;
                }
                if (!value->is_list()) {
                    return pass(piece, value, depth);
                }
                for (const auto& item : value->list_value()) {
                    const Overrun overrun = pass(piece, &item, depth);
                    if (overrun != Overrun::none) {
                        return overrun;
                    }
                }
                return Overrun::none;
            }
            case tag_type::section_begin_inverted: {
                const mustache::data* value = context_.get(tag.name);
                if (value != nullptr && !value->is_false() && !value->is_empty_list()) {
                    return Overrun::none;
                }
                return pass(piece, value, depth);
            }
            default:
                // Partials find nothing (DataContext), comments and delimiter changes emit
                // nothing.
                return Overrun::none;
        }
    }

    // One pass through a section's body with `item` (null for an inverted section over a
    // missing name) pushed on the context, as the renderer does.
    Overrun pass(const Component& section, const mustache::data* item, std::size_t depth) {
        // scan_template refused deeper nesting before the part was parsed.
        assert(depth < kMaxTemplateSectionDepth);
        if (!spend_steps(1)) {
            return Overrun::steps;
        }
        if (item == nullptr) {
            return walk(section.children, depth + 1);
        }
        context_.push(item);
        const Overrun overrun = walk(section.children, depth + 1);
        context_.pop();
        return overrun;
    }

    bool spend_steps(std::size_t steps) {
        if (steps > budget_.steps) {
            return false;
        }
        budget_.steps -= steps;
        return true;
    }

    bool spend_bytes(std::size_t bytes) {
        if (bytes > budget_.bytes) {
            return false;
        }
        budget_.bytes -= bytes;
        return true;
    }

    DataContext& context_;
    Budget& budget_;
    bool html_;
};

// Thrown by CappedOutput, caught in render_part only; it can only be thrown through a bug (the
// walk and the renderer disagreeing), and then turns into a refusal rather than a crash.
struct OutputOverrun {};

// The renderer's output stream. kainjow hands it one line at a time, so it cannot stop a
// template that grows within a line (the CostWalk does that); it is the backstop that keeps
// the output within the cap should the walk and the renderer ever disagree.
class CappedOutput {
public:
    CappedOutput(std::string& out, std::size_t cap) : out_(out), cap_(cap) {}

    CappedOutput& operator<<(const std::string& text) {
        if (text.size() > cap_ - out_.size()) {
            throw OutputOverrun{};
        }
        out_ += text;
        return *this;
    }

private:
    std::string& out_;
    std::size_t cap_;
};

std::string steps_reason(const RenderLimits& limits) {
    return fmt::format(
        "template needs more than {} rendering steps (too many list items, repeats or pieces)",
        limits.max_steps);
}

std::string bytes_reason(const RenderLimits& limits) {
    return fmt::format("template renders more than {} bytes (all parts together)",
                       limits.max_bytes);
}

// Spends on `source` what parsing and rendering it will cost, or fails with the reason once a
// bound is passed. Parses with kainjow's own parser so that the walk sees exactly what the
// renderer will; the tree is dropped on return, before the renderer parses the part again, so
// only one is held at a time.
boost::system::result<void, std::string> spend_on_part(std::string_view part_name,
                                                       const std::string& source,
                                                       const mustache::data& data,
                                                       bool html,
                                                       const RenderLimits& limits,
                                                       Budget& budget) {
    const detail::TemplateShape shape = detail::scan_template(source);
    if (shape.section_depth > kMaxTemplateSectionDepth) {
        return fail(fmt::format("{} template nests sections deeper than {} levels",
                                part_name,
                                kMaxTemplateSectionDepth));
    }
    const std::size_t parsing = parse_steps(shape, source.size());
    if (parsing > budget.steps) {
        return fail(steps_reason(limits));
    }
    budget.steps -= parsing;

    Component root;
    std::string error;
    mustache::context<std::string> parse_context;
    mustache::context_internal<std::string> parse_state{parse_context};
    mustache::parser<std::string> parser{source, parse_state, root, error};
    if (!error.empty()) {
        return fail(fmt::format("{} template: {}", part_name, error));
    }
    DataContext walk_context{&data};
    switch (CostWalk{walk_context, budget, html}.walk(root.children, 0)) {
        case Overrun::steps:
            return fail(steps_reason(limits));
        case Overrun::bytes:
            return fail(bytes_reason(limits));
        case Overrun::none:
            break;
    }
    return {};
}

boost::system::result<std::string, std::string> render_part(std::string_view part_name,
                                                            const std::string& source,
                                                            const mustache::data& data,
                                                            bool html,
                                                            const RenderLimits& limits,
                                                            Budget& budget) {
    if (source.empty()) {
        return ok(std::string{});
    }
    const std::size_t bytes_left = budget.bytes;
    if (auto spent = spend_on_part(part_name, source, data, html, limits, budget); !spent) {
        return fail(spent.error());
    }

    mustache::mustache tmpl{source};
    if (!tmpl.is_valid()) {
        return fail(fmt::format("{} template: {}", part_name, tmpl.error_message()));
    }
    if (!html) {
        tmpl.set_custom_escape([](const std::string& text) { return text; });
    }
    DataContext context{&data};
    std::string rendered;
    try {
        CappedOutput output{rendered, bytes_left};
        tmpl.render(context, output);
    } catch (const OutputOverrun&) {
        return fail(bytes_reason(limits));
    }
    if (!tmpl.is_valid()) {
        return fail(fmt::format("{} template: {}", part_name, tmpl.error_message()));
    }
    // The walk spent every byte it counted; the output can be shorter (blank standalone lines
    // are dropped), and only what it holds is kept from the budget.
    budget.bytes = bytes_left - rendered.size();
    return ok(std::move(rendered));
}

boost::system::result<std::string, std::string> read_part(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) {
        return ok(std::string{});
    }
    std::ifstream in{path, std::ios::binary};
    if (!in) {
        return fail(fmt::format("cannot read {}", path.string()));
    }
    std::string content{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
    if (in.bad()) {
        return fail(fmt::format("cannot read {}", path.string()));
    }
    if (!is_valid_utf8(content)) {
        return fail(fmt::format("{} is not valid UTF-8", path.string()));
    }
    const detail::TemplateShape shape = detail::scan_template(content);
    if (shape.section_depth > kMaxTemplateSectionDepth) {
        return fail(fmt::format(
            "{} nests sections deeper than {} levels", path.string(), kMaxTemplateSectionDepth));
    }
    if (parse_steps(shape, content.size()) > kMaxRenderSteps) {
        return fail(fmt::format("{} takes more than {} steps to parse and could never render",
                                path.string(),
                                kMaxRenderSteps));
    }
    mustache::mustache check{content};
    if (!check.is_valid()) {
        return fail(fmt::format("{}: {}", path.string(), check.error_message()));
    }
    return ok(content);
}

}  // namespace

namespace detail {

namespace {

bool is_space(char c) {
    return std::isspace(static_cast<unsigned char>(c)) != 0;
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && is_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_space(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

bool is_valid_delimiter(std::string_view delimiter) {
    for (const char c : delimiter) {
        if (c == '=' || is_space(c)) {
            return false;
        }
    }
    return true;
}

// A set-delimiter tag's trimmed contents, "=BEGIN END=", as kainjow 4.1 reads them.
bool read_delimiters(std::string_view contents, std::string& begin, std::string& end) {
    if (contents.size() < 5 || contents.back() != '=') {
        return false;
    }
    const std::string_view inner = trim(contents.substr(1, contents.size() - 2));
    const std::size_t space = inner.find(' ');
    if (space == std::string_view::npos) {
        return false;
    }
    const std::size_t next = inner.find_first_not_of(' ', space + 1);
    const std::string_view new_begin = inner.substr(0, space);
    const std::string_view new_end = inner.substr(next);
    if (!is_valid_delimiter(new_begin) || !is_valid_delimiter(new_end)) {
        return false;
    }
    begin = new_begin;
    end = new_end;
    return true;
}

// kainjow makes one piece of each of these whenever no tag starts at the position.
std::size_t whitespace_piece_size(std::string_view rest) {
    if (rest.starts_with("\r\n")) {
        return 2;
    }
    if (!rest.empty() &&
        (rest[0] == '\n' || rest[0] == '\r' || rest[0] == ' ' || rest[0] == '\t')) {
        return 1;
    }
    return 0;
}

}  // namespace

// Follows kainjow 4.1's parser::parse: a tag starts wherever the current begin delimiter
// does; with the default braces "{{{" opens a triple tag closed by "}}}"; a tag whose trimmed
// contents start with '=' changes the delimiters; '#' and '^' open a section and '/' closes
// one (an unopened close is an error). Outside tags, each space, tab or line break ("\r\n"
// counted once) is a piece and so is each run of other text.
TemplateShape scan_template(std::string_view source) {
    TemplateShape shape;
    std::string begin = "{{";
    std::string end = "}}";
    bool braces = true;
    bool in_text = false;
    std::size_t depth = 0;
    std::size_t position = 0;
    const auto end_text = [&] {
        if (in_text) {
            ++shape.pieces;
            in_text = false;
        }
    };

    while (position < source.size()) {
        const std::string_view rest = source.substr(position);
        if (!rest.starts_with(begin)) {
            if (const std::size_t size = whitespace_piece_size(rest); size > 0) {
                end_text();
                ++shape.pieces;
                position += size;
            } else {
                in_text = true;
                ++position;
            }
            continue;
        }

        end_text();
        std::size_t contents_start = position + begin.size();
        const bool triple =
            braces && position != source.size() - 2 && source[contents_start] == begin[0];
        if (triple) {
            ++contents_start;
        }
        const std::string_view closing = triple ? std::string_view{"}}}"} : std::string_view{end};
        const std::size_t closing_at = source.find(closing, contents_start);
        if (closing_at == std::string_view::npos) {
            return shape;  // unclosed tag
        }
        ++shape.pieces;
        const std::string_view contents =
            trim(source.substr(contents_start, closing_at - contents_start));
        if (!contents.empty() && contents[0] == '=') {
            if (!read_delimiters(contents, begin, end)) {
                return shape;  // invalid set-delimiter tag
            }
            braces = begin == "{{" && end == "}}";
        } else if (!triple && !contents.empty() && (contents[0] == '#' || contents[0] == '^')) {
            ++depth;
            if (depth > shape.section_depth) {
                shape.section_depth = depth;
            }
            if (depth > kMaxTemplateSectionDepth) {
                return shape;
            }
        } else if (!triple && !contents.empty() && contents[0] == '/') {
            if (depth == 0) {
                return shape;  // unopened section
            }
            --depth;
        }
        position = closing_at + closing.size();
    }
    end_text();
    return shape;
}

}  // namespace detail

boost::system::result<RenderedTemplate, std::string> render(const TemplateSource& source,
                                                            const boost::json::object& data,
                                                            const RenderLimits& limits) {
    // The object itself is level 1; its members are converted at level 2 and deeper.
    mustache::data context{mustache::data::type::object};
    for (const auto& [key, element] : data) {
        auto converted = to_mustache(element, 1);
        if (!converted) {
            return fail(converted.error());
        }
        context[std::string{key}] = std::move(*converted);
    }

    Budget budget{limits.max_steps, limits.max_bytes};
    auto subject = render_part("subject", source.subject, context, false, limits, budget);
    if (!subject) {
        return fail(subject.error());
    }
    if (contains_cr_or_lf(*subject)) {
        return fail("rendered subject contains a line break");
    }
    auto text = render_part("text", source.text, context, false, limits, budget);
    if (!text) {
        return fail(text.error());
    }
    auto html = render_part("html", source.html, context, true, limits, budget);
    if (!html) {
        return fail(html.error());
    }
    return RenderedTemplate{std::move(*subject), std::move(*text), std::move(*html)};
}

boost::system::result<TemplateLibrary, std::string> TemplateLibrary::load(const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return fail(fmt::format("template directory {} does not exist", dir));
    }
    TemplateLibrary library;
    for (const auto& entry : fs::directory_iterator{dir, ec}) {
        if (!entry.is_directory()) {
            continue;
        }
        const fs::path& base = entry.path();
        auto subject = read_part(base / "subject.mustache");
        auto text = read_part(base / "text.mustache");
        auto html = read_part(base / "html.mustache");
        for (const auto* part : {&subject, &text, &html}) {
            if (!*part) {
                return fail(part->error());
            }
        }
        if (subject->empty() && text->empty() && html->empty()) {
            continue;
        }
        // Editors end files with a newline; a subject is one line.
        while (!subject->empty() && (subject->back() == '\n' || subject->back() == '\r')) {
            subject->pop_back();
        }
        library.templates_[base.filename().string()] =
            TemplateSource{std::move(*subject), std::move(*text), std::move(*html)};
    }
    if (ec) {
        return fail(fmt::format("cannot list template directory {}: {}", dir, ec.message()));
    }
    return library;
}

const TemplateSource* TemplateLibrary::find(const std::string& name) const {
    const auto it = templates_.find(name);
    return it == templates_.end() ? nullptr : &it->second;
}

}  // namespace herald::mail
