// Binding a listening socket the same way in both programs: the unspecified
// IPv6 address ("::") listens on IPv6 and IPv4 at once (dual stack) and, on a
// host without IPv6, falls back to 0.0.0.0; any other address listens as
// given. Failures are typed (ListenError names the endpoint and carries the
// error code); the callers word their own messages.
#pragma once

#include <asio.hpp>

#include <cstdint>
#include <string>

namespace seedshare::net {

using tcp = asio::ip::tcp;

// How the socket ended up listening.
enum class Stack {
    kAsAsked,       // the one address that was asked for
    kDual,          // "::": IPv6 and IPv4
    kIPv4Fallback,  // "::" was asked for, but IPv6 failed: 0.0.0.0 only
};

struct Listening {
    tcp::endpoint local;  // as bound (an ephemeral port filled in)
    Stack stack = Stack::kAsAsked;
    asio::error_code ipv6_error;  // kIPv4Fallback: why IPv6 failed
};

// Nothing could be bound. what() is "ENDPOINT: reason"; code() the error.
struct ListenError : asio::system_error {
    ListenError(const tcp::endpoint& wanted, const asio::error_code& ec);
    tcp::endpoint wanted;  // the endpoint asked for
};

// Opens, binds (reuse_address on) and listens `acceptor` on address:port.
// On failure the acceptor is closed and ListenError thrown.
Listening listen(tcp::acceptor& acceptor, const asio::ip::address& address, std::uint16_t port);

// "[::]:7000 (IPv4 and IPv6)", "0.0.0.0:7000 (IPv4 only)", "127.0.0.1:7000".
std::string listen_text(const Listening& l);

}  // namespace seedshare::net
