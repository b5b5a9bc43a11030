#pragma once

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <cstddef>
#include <map>
#include <string>

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

// Renders each part with `data` (kainjow mustache). Values are HTML-escaped in `html` only;
// subject and text get them verbatim. Partials ({{> name}}) render nothing, so no data value is
// ever parsed as a template; there are no lambdas. JSON null and false are falsy, numbers
// render in their shortest form. Fails with a one-line reason when a template does not parse,
// when `data` is deeper than kMaxTemplateDataDepth, or when the rendered subject holds CR or
// LF. Pure; thread-safe.
boost::system::result<RenderedTemplate, std::string> render(const TemplateSource& source,
                                                            const boost::json::object& data);

// Named templates read once at start from DIR/NAME/{subject,text,html}.mustache. A missing part
// is empty; a sub-directory with none of the three is skipped; trailing line breaks are removed
// from subject. Immutable after load, so find() is safe from any thread.
class TemplateLibrary {
public:
    // Fails (one line) when DIR is not a directory, or a part cannot be read, is not valid
    // UTF-8 or does not parse as mustache: templates are checked at start, not at first use.
    static boost::system::result<TemplateLibrary, std::string> load(const std::string& dir);
    // nullptr when no template has that name. The pointer lives as long as the library.
    const TemplateSource* find(const std::string& name) const;

private:
    std::map<std::string, TemplateSource> templates_;
};

}  // namespace herald::mail
