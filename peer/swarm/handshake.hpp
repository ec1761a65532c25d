// The dialling side of a peer handshake: connect, send Hello, read the
// answer. The accepting side is the Node's (it reads the Hello to find the
// swarm) and the connection's (it answers).
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/ids.hpp"
#include "common/net/net.hpp"
#include "common/wire/peer_protocol.hpp"
#include "peer/swarm/swarm_link.hpp"

namespace seedshare {

// The remote's answer to our Hello ended the handshake. Callers act on
// `reason` (and `remote_code`), never on the text; what() is for people.
struct HandshakeError : std::runtime_error {
    enum class Reason {
        kRefused,          // it answered Error (`remote_code` says why)
        kVersionMismatch,  // it speaks another peer protocol version (or said we do)
        kOtherSeed,        // it answered for another seed
        kSelf,             // we dialled ourselves (or it said so)
        kNotHello,         // it answered something other than Hello or Error
    };
    HandshakeError(Reason r, const std::string& what,
                   std::optional<peer_proto::ErrorCode> code = std::nullopt)
        : std::runtime_error(what), reason(r), remote_code(code) {}
    Reason reason;
    std::optional<peer_proto::ErrorCode> remote_code;  // the code of its Error frame
    // A peer that does not hold the seed may name holders it knows (a
    // PeerList before its kUnknownSeed Error): untrusted candidates.
    std::vector<PeerAddress> holders;
};

// Connects to `where` and exchanges Hellos for `seed`. Throws HandshakeError
// for an answer that ends the handshake, net::NotSeedshare when something
// else answers, and asio::system_error / net::TimeoutError / net::ProtocolError
// when the connection or the frames fail.
net::awaitable<std::pair<std::shared_ptr<net::FrameStream>, peer_proto::Hello>> handshake_out(
    const PeerAddress& where, const peer_proto::Hello& ours, const SwarmOptions& options);

}  // namespace seedshare
