#pragma once

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace herald::mail {

// The mustache sources of one template; an empty part renders nothing.
struct TemplateSource {
    std::string subject;
    std::string text;
    std::string html;
};

struct RenderedTemplate {
    std::string subject;
    std::string text;
    std::string html;
};

// Deepest `data` render() accepts, counting containers: the data object itself is level 1, so
// {"a":{"b":[1]}} is 3 levels deep. Intake should refuse deeper data first (with its own,
// not larger, limit); render refuses it without walking past the limit.
inline constexpr std::size_t kMaxTemplateDataDepth = 64;

// Deepest section nesting a template part may have ({{#a}}{{#b}}..{{/b}}{{/a}} is 2). Checked
// before the part is parsed: kainjow's parser copies each section's body text and recurses once
// per level, so its memory grows with size times depth. 16 is far beyond what a mail layout
// needs and keeps that copy within 16 times the part's size.
inline constexpr std::size_t kMaxTemplateSectionDepth = 16;

// Default cap on the bytes render() produces: subject, text and html together. The same as the
// default request body limit, so a template cannot make a message larger than a caller could
// have sent in full.
inline constexpr std::size_t kMaxRenderedBytes = std::size_t{1} << 20;

// Default cap on rendering work, in steps; see RenderLimits. 100 000 steps cover about 140 KB
// of markup rendered once (Gmail clips a message past 102 KB), or an order mail whose list
// of 600 items each renders a 7-line HTML table and a line of text (100 items take 16 000).
// They keep one render() call within about 50 ms of CPU at worst, measured on the costliest
// steps (86 000 pieces under a false section: parsed twice, never rendered); the cubic
// template over 500 items that used to take 6.7 s is refused in about a millisecond.
inline constexpr std::size_t kMaxRenderSteps = 100'000;

// Bounds on one render() call, shared by its three parts in order (subject, text, html).
// max_bytes caps the rendered bytes of all three parts together, so also of each one.
// max_steps caps the work, counted in steps:
//   - parsing a part: 1 for each piece the parser makes of it (a tag, a single space, tab or
//     line break, or a run of other text) and 1 for every 16 bytes of it, counted by a scan
//     before parsing, so an oversized part is never parsed;
//   - rendering: 1 for each text piece visited, and for each tag visited 1 plus 1 for every
//     32 bytes of its name, plus 8 more when the name is dotted ("a.b": looking it up splits
//     it, which costs more);
//   - 1 for each pass through a section's body (once per list item, once for a true value).
// Both caps are checked before any output is made, by walking the parsed template over `data`
// exactly as the renderer will and stopping as soon as a cap is passed: work that emits
// nothing (sections nested over long lists) is bounded as well as work that emits a lot.
// The bytes counted include blanks on lines the renderer then drops (standalone tags), so a
// template can be refused a few bytes before its output would reach max_bytes.
struct RenderLimits {
    std::size_t max_bytes = kMaxRenderedBytes;
    std::size_t max_steps = kMaxRenderSteps;
};

// Renders each part with `data` (kainjow mustache). Values are HTML-escaped in `html` only;
// subject and text get them verbatim. Partials ({{> name}}) render nothing, so no data value is
// ever parsed as a template; there are no lambdas. JSON null and false are falsy, numbers
// render in their shortest form. Fails with a one-line reason when a template does not parse,
// when `data` is deeper than kMaxTemplateDataDepth, when a part nests sections deeper than
// kMaxTemplateSectionDepth, when rendering would pass limits.max_bytes or limits.max_steps, or
// when the rendered subject holds CR or LF. Every template goes through these bounds, whether
// given inline or found in a TemplateLibrary. Pure; thread-safe.
boost::system::result<RenderedTemplate, std::string> render(const TemplateSource& source,
                                                            const boost::json::object& data,
                                                            const RenderLimits& limits = {});

namespace detail {

// What kainjow's parser (4.1) will build from a template part, found by a scan that follows
// its tokenising rules (delimiter changes included) but allocates nothing per piece. Exposed
// for the tests, which check it against the parser itself.
struct TemplateShape {
    std::size_t pieces = 0;         // components parsed, section-end tags included
    std::size_t section_depth = 0;  // deepest section nesting
};

// Stops at the first error the parser would stop at (the parse then fails on its own), and
// as soon as the nesting passes kMaxTemplateSectionDepth.
TemplateShape scan_template(std::string_view source);

}  // namespace detail

// Named templates read once at start from DIR/NAME/{subject,text,html}.mustache. A missing part
// is empty; a sub-directory with none of the three is skipped; trailing line breaks are removed
// from subject. Immutable after load, so find() is safe from any thread.
class TemplateLibrary {
public:
    // Fails (one line) when DIR is not a directory, or a part cannot be read, is not valid
    // UTF-8, does not parse as mustache, nests sections deeper than kMaxTemplateSectionDepth
    // or costs more than kMaxRenderSteps to parse (it could never render within the default
    // limits): templates are checked at start, not at first use. A loaded template renders
    // through render() and its bounds like any other.
    static boost::system::result<TemplateLibrary, std::string> load(const std::string& dir);
    // nullptr when no template has that name. The pointer lives as long as the library.
    const TemplateSource* find(const std::string& name) const;

private:
    std::map<std::string, TemplateSource> templates_;
};

}  // namespace herald::mail
