// Tracker and peer addresses as written by users and in seed files: HOST:PORT,
// where HOST is a DNS name, an IPv4 address, or an IPv6 address in brackets.
#pragma once

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

}  // namespace seedshare
