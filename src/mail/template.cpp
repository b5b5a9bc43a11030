#include "mail/template.hpp"

#include "mail/failure.hpp"
#include "mail/mime.hpp"

#include <boost/json/value.hpp>
#include <fmt/format.h>
#include <kainjow/mustache.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <system_error>

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
            mustache::data list{mustache::data::type::list};
            for (const auto& element : value.get_array()) {
                auto converted = to_mustache(element, depth + 1);
                if (!converted) {
                    return converted;
                }
                list.push_back(*converted);
            }
            return list;
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
            return object;
        }
    }
    return fail(
        fmt::format("template data is nested deeper than {} levels", kMaxTemplateDataDepth));
}

boost::system::result<std::string, std::string> render_part(std::string_view part_name,
                                                            const std::string& source,
                                                            const mustache::data& data,
                                                            bool html) {
    if (source.empty()) {
        return ok(std::string{});
    }
    mustache::mustache tmpl{source};
    if (!tmpl.is_valid()) {
        return fail(fmt::format("{} template: {}", part_name, tmpl.error_message()));
    }
    if (!html) {
        tmpl.set_custom_escape([](const std::string& text) { return text; });
    }
    DataContext context{&data};
    std::string rendered = tmpl.render(context);
    if (!tmpl.is_valid()) {
        return fail(fmt::format("{} template: {}", part_name, tmpl.error_message()));
    }
    return ok(rendered);
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
    mustache::mustache check{content};
    if (!check.is_valid()) {
        return fail(fmt::format("{}: {}", path.string(), check.error_message()));
    }
    return ok(content);
}

}  // namespace

boost::system::result<RenderedTemplate, std::string> render(const TemplateSource& source,
                                                            const boost::json::object& data) {
    // The object itself is level 1; its members are converted at level 2 and deeper.
    mustache::data context{mustache::data::type::object};
    for (const auto& [key, element] : data) {
        auto converted = to_mustache(element, 1);
        if (!converted) {
            return fail(converted.error());
        }
        context[std::string{key}] = std::move(*converted);
    }

    auto subject = render_part("subject", source.subject, context, false);
    if (!subject) {
        return fail(subject.error());
    }
    if (contains_cr_or_lf(*subject)) {
        return fail("rendered subject contains a line break");
    }
    auto text = render_part("text", source.text, context, false);
    if (!text) {
        return fail(text.error());
    }
    auto html = render_part("html", source.html, context, true);
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
