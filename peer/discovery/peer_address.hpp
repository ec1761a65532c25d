// A place a peer might connect to: an IP address and a port. Learnt from
// trackers and peer exchange; small, so that what only passes addresses
// around needs nothing of the swarm.
#pragma once

#include <asio/ip/address.hpp>

#include <cstdint>
#include <string>

namespace seedshare {

// A place we might connect to.
struct PeerAddress {
    asio::ip::address address;
    std::uint16_t port = 0;
    bool operator==(const PeerAddress&) const = default;
    bool operator<(const PeerAddress& o) const {
        return address != o.address ? address < o.address : port < o.port;
    }
    std::string str() const;
};

}  // namespace seedshare
