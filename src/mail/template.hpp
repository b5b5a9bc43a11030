#pragma once

#include <map>
#include <string>

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

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

// Renders each part with `data`. Values are HTML-escaped in `html` only; subject and text get
// them verbatim. Partials are not supported. A template that fails to parse gives its reason.
boost::system::result<RenderedTemplate, std::string> render(const TemplateSource& source,
                                                            const boost::json::object& data);

// Named templates read once at start from DIR/NAME/{subject,text,html}.mustache.
class TemplateLibrary {
public:
    static boost::system::result<TemplateLibrary, std::string> load(const std::string& dir);
    const TemplateSource* find(const std::string& name) const;

private:
    std::map<std::string, TemplateSource> templates_;
};

}  // namespace herald::mail
