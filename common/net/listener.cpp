#include "common/net/listener.hpp"

#include "common/core/address.hpp"

namespace seedshare::net {

namespace {

asio::error_code try_listen(tcp::acceptor& acceptor, const tcp::endpoint& ep, bool dual) {
    asio::error_code ec;
    acceptor.close(ec);
    ec.clear();
    acceptor.open(ep.protocol(), ec);
    if (!ec && dual) acceptor.set_option(asio::ip::v6_only(false), ec);
    if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor.bind(ep, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    return ec;
}

}  // namespace

ListenError::ListenError(const tcp::endpoint& wanted_, const asio::error_code& ec)
    : asio::system_error(ec, endpoint_text(wanted_.address(), wanted_.port())), wanted(wanted_) {}

Listening listen(tcp::acceptor& acceptor, const asio::ip::address& address, std::uint16_t port) {
    const tcp::endpoint wanted(address, port);
    const bool dual = address.is_v6() && address.is_unspecified();
    Listening l;
    l.stack = dual ? Stack::kDual : Stack::kAsAsked;
    asio::error_code ec = try_listen(acceptor, wanted, dual);
    if (ec && dual) {
        l.stack = Stack::kIPv4Fallback;
        l.ipv6_error = ec;
        ec = try_listen(acceptor, tcp::endpoint(asio::ip::address_v4::any(), port), false);
    }
    if (ec) {
        asio::error_code ignored;
        acceptor.close(ignored);
        throw ListenError(wanted, ec);
    }
    l.local = acceptor.local_endpoint();
    return l;
}

std::string listen_text(const Listening& l) {
    std::string text = endpoint_text(l.local.address(), l.local.port());
    switch (l.stack) {
        case Stack::kDual:
            return text + " (IPv4 and IPv6)";
        case Stack::kIPv4Fallback:
            return text + " (IPv4 only)";
        case Stack::kAsAsked:
            break;
    }
    return text;
}

}  // namespace seedshare::net
