#include "storm_config.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

#include <stdexcept>

namespace herald::storm {

Target parse_target(const std::string& url) {
    const auto parsed = boost::urls::parse_absolute_uri(url);
    if (!parsed) {
        throw std::invalid_argument("--url is not an absolute URL: " + url);
    }
    if (parsed->scheme() != "http") {
        throw std::invalid_argument("--url must be http:// (the storm speaks plain HTTP/1.1)");
    }
    if (!parsed->has_port() || parsed->port_number() == 0) {
        throw std::invalid_argument("--url needs an explicit port");
    }

    std::string host(parsed->encoded_host_address());
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    boost::system::error_code error;
    auto address = host == "localhost" ? boost::asio::ip::make_address("127.0.0.1")
                                       : boost::asio::ip::make_address(host, error);
    if (error) {
        throw std::invalid_argument("--url host must be a loopback address, not a name: " + host);
    }
    if (!address.is_loopback()) {
        throw std::invalid_argument("--url host is not a loopback address: " + host);
    }

    Target target;
    target.endpoint = {address, parsed->port_number()};
    target.host = std::string(parsed->encoded_host_and_port());
    target.path = parsed->encoded_path().empty() ? "/" : std::string(parsed->encoded_path());
    if (parsed->has_query()) {
        target.path += "?" + std::string(parsed->encoded_query());
    }
    return target;
}

}  // namespace herald::storm
