#include "http/types.hpp"

#include <boost/json/serialize.hpp>

namespace herald::http {

Response json_response(Status status, const boost::json::value& body) {
    return json_response(status, boost::json::serialize(body));
}

Response json_response(Status status, std::string body) {
    Response response{status, 11};
    response.set(beast_http::field::content_type, "application/json");
    response.body() = std::move(body);
    response.prepare_payload();
    return response;
}

boost::json::object problem_body(Status status,
                                 std::string_view type,
                                 std::string_view title,
                                 std::string_view detail,
                                 const std::vector<FieldProblem>& errors) {
    boost::json::object body;
    body["type"] = std::string{"/problems/"} + std::string{type};
    body["title"] = title;
    body["status"] = static_cast<int>(status);
    if (!detail.empty()) {
        body["detail"] = detail;
    }
    if (!errors.empty()) {
        boost::json::array list;
        for (const auto& e : errors) {
            if (e.pointer.empty() && !e.header.empty()) {
                list.push_back(boost::json::object{{"header", e.header}, {"detail", e.detail}});
            } else if (e.pointer.empty() && (e.in_query || !e.parameter.empty())) {
                list.push_back(
                    boost::json::object{{"parameter", e.parameter}, {"detail", e.detail}});
            } else {
                list.push_back(boost::json::object{{"pointer", e.pointer}, {"detail", e.detail}});
            }
        }
        body["errors"] = std::move(list);
    }
    return body;
}

Response problem_response(Status status, const boost::json::object& body) {
    Response response = json_response(status, body);
    response.set(beast_http::field::content_type, "application/problem+json");
    return response;
}

Response problem_response(Status status,
                          std::string_view type,
                          std::string_view title,
                          std::string_view detail,
                          const std::vector<FieldProblem>& errors) {
    return problem_response(status, problem_body(status, type, title, detail, errors));
}

}  // namespace herald::http
