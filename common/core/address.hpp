// Tracker and peer addresses as written by users and in seed files: HOST:PORT,
// where HOST is a DNS name, an IPv4 address, or an IPv6 address in brackets;
// and the IP address + port of a peer (PeerAddress), as trackers and peer
// exchange hand them out.
#pragma once

#include <asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/core/result.hpp"

namespace seedshare {

struct HostPort {
    std::string host;  // without brackets
    std::uint16_t port = 0;

    // Canonical text: "host:port", or "[v6]:port".
    std::string str() const;
    auto operator<=>(const HostPort&) const = default;
};

// The tracker a seed names, and peers ask, when the user names none.
inline const HostPort kDefaultTracker{"127.0.0.1", 7000};

// Strict: a non-empty host of at most limits::kMaxHostBytes made of DNS-name
// characters (or a bracketed IPv6 literal), and a decimal port 1..65535.
Result<HostPort> parse_host_port(std::string_view text);

// "1.2.3.4:5" for IPv4, "[::1]:5" for IPv6: how every log line and message
// writes an endpoint.
std::string endpoint_text(const asio::ip::address& address, std::uint16_t port);

// Maps a v4-mapped IPv6 address back to IPv4, so one host has one address.
asio::ip::address unmapped(const asio::ip::address& a);

// A place a peer might connect to: an IP address and a port. Learnt from
// trackers and peer exchange (peer_proto::PeerAddress is this type), and
// ordered so that it can key a map of candidates.
struct PeerAddress {
    asio::ip::address address;
    std::uint16_t port = 0;
    bool operator==(const PeerAddress&) const = default;
    bool operator<(const PeerAddress& o) const {
        return address != o.address ? address < o.address : port < o.port;
    }
    // endpoint_text(address, port)
    std::string str() const;
};

}  // namespace seedshare
