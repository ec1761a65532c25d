#include "common/core/address.hpp"

#include <fmt/format.h>

#include "common/core/limits.hpp"
#include "common/core/numbers.hpp"

namespace seedshare {

std::string HostPort::str() const {
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
    return fmt::format("{}:{}", host, port);
}

std::string endpoint_text(const asio::ip::address& address, std::uint16_t port) {
    if (address.is_v6()) return fmt::format("[{}]:{}", address.to_string(), port);
    return fmt::format("{}:{}", address.to_string(), port);
}

asio::ip::address unmapped(const asio::ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    return a;
}

std::string PeerAddress::str() const {
    return endpoint_text(address, port);
}

namespace {

bool is_dns_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

bool is_v6_char(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
           c == '.';
}

}  // namespace

Result<HostPort> parse_host_port(std::string_view text) {
    std::string_view host;
    std::string_view port;
    bool v6 = false;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos)
            return Error{fmt::format("'{}': missing ']' after IPv6 address", text)};
        host = text.substr(1, close - 1);
        if (close + 1 == text.size())
            return Error{fmt::format("'{}': lacks a port (expected [ADDR]:PORT)", text)};
        if (text[close + 1] != ':')
            return Error{fmt::format("'{}': expected ':PORT' after ']'", text)};
        port = text.substr(close + 2);
        v6 = true;
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos) {
            if (text.empty()) return Error{"empty (expected HOST:PORT)"};
            if (parse_u64(text))
                return Error{fmt::format("'{}': lacks a host (expected HOST:PORT)", text)};
            return Error{fmt::format("'{}': lacks a port (expected HOST:PORT)", text)};
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return Error{fmt::format("'{}': write IPv6 addresses in brackets, [ADDR]:PORT", text)};
    }
    if (host.empty()) return Error{fmt::format("'{}': empty host", text)};
    if (port.empty()) return Error{fmt::format("'{}': lacks a port (expected HOST:PORT)", text)};
    if (host.size() > limits::kMaxHostBytes)
        return Error{fmt::format("host is longer than {} bytes", limits::kMaxHostBytes)};
    for (char c : host) {
        if (v6 ? !is_v6_char(c) : !is_dns_char(c))
            return Error{fmt::format("'{}': bad character in host", text)};
    }
    const auto p = parse_u64(port);
    if (!p || *p == 0 || *p > 65535)
        return Error{fmt::format("'{}': port must be a number from 1 to 65535", text)};
    return HostPort{std::string(host), static_cast<std::uint16_t>(*p)};
}

}  // namespace seedshare
