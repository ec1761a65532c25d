// What the Node hands a channel connection to: the mesh of one channel's
// subscribers (peer/channel/channel_mesh.*, which sits above the Node). The
// Node greets every incoming connection; a first frame that is a
// ChannelHello goes to the endpoint registered for its channel.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "common/net/net.hpp"
#include "common/wire/channel_protocol.hpp"

namespace seedshare {

class ChannelEndpoint {
  public:
    virtual ~ChannelEndpoint() = default;
    // Takes over an accepted connection whose ChannelHello (this channel,
    // our protocol version, not ourselves) was read; answers it.
    virtual void accept(std::shared_ptr<net::FrameStream> stream,
                        const channel_proto::ChannelHello& hello) = 0;
    virtual std::size_t connection_count() const = 0;
    // Goodbye to every peer, then closes (the Node's stop).
    virtual net::awaitable<void> stop(std::chrono::milliseconds grace) = 0;
    // Closes everything at once, saying nothing.
    virtual void abort() = 0;
};

}  // namespace seedshare
