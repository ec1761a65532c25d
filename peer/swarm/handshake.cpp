#include "peer/swarm/handshake.hpp"

#include <fmt/format.h>

#include "common/core/limits.hpp"

namespace seedshare {

namespace pp = peer_proto;

namespace {

std::string version_mismatch(std::uint16_t mine, std::uint16_t theirs) {
    return fmt::format("peer protocol version mismatch: this peer speaks {}, the other speaks {}",
                       mine, theirs);
}

net::FrameStream::Timeouts handshake_timeouts(const SwarmOptions& o) {
    return {
        .idle = o.handshake_timeout, .frame = o.handshake_timeout, .write = o.handshake_timeout};
}

// Reads one whole small frame and decodes it (handshake only).
net::awaitable<pp::Message> read_message(net::FrameStream& s) {
    const auto h = co_await s.read_header();
    if (h.payload_size() > pp::max_payload(h.type) ||
        h.type == static_cast<std::uint8_t>(pp::Type::kPiece))
        throw net::ProtocolError(
            fmt::format("unexpected message type {} during handshake", h.type));
    const auto payload = co_await s.read_payload(h);
    auto m = pp::decode(h.type, payload);
    if (!m) throw net::ProtocolError(m.error().message);
    co_return std::move(*m);
}

}  // namespace

net::awaitable<std::pair<std::shared_ptr<net::FrameStream>, pp::Hello>> handshake_out(
    const PeerAddress& where, const pp::Hello& ours, const SwarmOptions& options) {
    const HostPort target{where.address.to_string(), where.port};
    auto socket = co_await net::connect(target, options.connect_timeout);
    auto stream = std::make_shared<net::FrameStream>(std::move(socket), limits::kMaxPeerFrameBytes,
                                                     handshake_timeouts(options));
    net::spawn(stream->get_executor(), stream->watchdog(), Logger("peer", LogLevel::kOff),
               "watchdog");
    const Bytes greeting = pp::encode(ours);
    co_await stream->write(greeting);
    auto reply = co_await read_message(*stream);
    // A peer without the seed may name holders first (one PeerList, then
    // its Error): kept for the error.
    std::vector<PeerAddress> holders;
    if (auto* list = std::get_if<pp::PeerList>(&reply)) {
        for (const auto& p : list->peers) {
            if (holders.size() == limits::kPexMaxAdded) break;
            holders.push_back(PeerAddress{net::normalize(p.address), p.port});
        }
        reply = co_await read_message(*stream);
    }
    using Reason = HandshakeError::Reason;
    if (auto* err = std::get_if<pp::ErrorMsg>(&reply)) {
        stream->close();
        const Reason reason = err->code == pp::ErrorCode::kSelf ? Reason::kSelf
                              : err->code == pp::ErrorCode::kVersionMismatch
                                  ? Reason::kVersionMismatch
                                  : Reason::kRefused;
        HandshakeError e(reason, fmt::format("refused: {}", err->message), err->code);
        if (err->code == pp::ErrorCode::kUnknownSeed) e.holders = std::move(holders);
        throw e;
    }
    auto* hello = std::get_if<pp::Hello>(&reply);
    if (hello == nullptr) {
        stream->close();
        throw HandshakeError(Reason::kNotHello, "expected Hello in answer to Hello");
    }
    if (hello->version != pp::kVersion) {
        stream->close();
        throw HandshakeError(Reason::kVersionMismatch,
                             version_mismatch(pp::kVersion, hello->version));
    }
    if (hello->seed != ours.seed) {
        stream->close();
        throw HandshakeError(Reason::kOtherSeed, "answered for another seed");
    }
    if (hello->user == ours.user) {
        stream->close();
        throw HandshakeError(Reason::kSelf, "connected to itself");
    }
    co_return std::pair{stream, *hello};
}

}  // namespace seedshare
