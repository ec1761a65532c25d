#include "peer/discovery/peer_address.hpp"

#include <fmt/format.h>

namespace seedshare {

std::string PeerAddress::str() const {
    if (address.is_v6()) return fmt::format("[{}]:{}", address.to_string(), port);
    return fmt::format("{}:{}", address.to_string(), port);
}

}  // namespace seedshare
