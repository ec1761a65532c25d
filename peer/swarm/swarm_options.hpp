// How a swarm and its connections behave: sizes, timeouts, pacing. Plain
// values, shared by the swarm (swarm_link.hpp) and the sans-I/O session
// (peer_session.hpp).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "common/core/limits.hpp"

namespace seedshare {

struct SwarmOptions {
    std::size_t max_connections = 50;
    // Chunk data being fetched or waiting for verification (getter memory).
    std::size_t fetch_budget_bytes = 40u << 20;
    std::uint32_t block_bytes = limits::kDefaultBlockBytes;
    // Bytes requested but not yet received, per connection: the measured
    // rate from that peer times pipeline_window, within [min, max]; min
    // until a rate is measured (one block by default: in a big swarm the
    // getter's RequestBudget spreads its requests over the peers that
    // deliver).
    std::uint64_t pipeline_min_bytes = limits::kDefaultBlockBytes;
    std::uint64_t pipeline_max_bytes = 16u << 20;
    std::chrono::milliseconds pipeline_window{300};
    // What a peer keeps queued to send, over all its requesters of the
    // file, before it refuses new chunks: this many blocks, or what it
    // sends in a second if more (UploadBacklog).
    std::uint32_t upload_queue_min_blocks = 4;
    std::chrono::milliseconds stall_timeout{15000};
    // How long a cancelled block is remembered (a Piece crossing the Cancel
    // is discarded, not taken for data never requested).
    std::chrono::milliseconds cancel_memory{60000};
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds handshake_timeout{limits::kPeerHandshakeTimeout};
    std::chrono::milliseconds idle_timeout{limits::kPeerIdleTimeout};
    std::chrono::milliseconds keepalive{30000};
    // Bad chunks a peer may send before it is dropped and not asked again.
    std::uint32_t max_strikes = 2;
    // Peers asked for from the tracker each time, and how often to ask
    // again while connected (sooner while no peer is connected).
    std::uint16_t numwant = 50;
    std::chrono::milliseconds rediscover{5000};
    // Peer exchange: new peers are gossiped to the others in batches (the
    // peers that joined within pex_batch), at most one per `pex_interval`.
    std::chrono::milliseconds pex_batch{200};
    std::chrono::milliseconds pex_interval{1000};
    // The pool's low-water mark: below it the swarm asks its peers for more
    // (GetPeers), then the trackers; with none, the address book too.
    std::size_t min_peers = 8;
};

}  // namespace seedshare
