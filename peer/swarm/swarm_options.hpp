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
    // Connections a swarm holds at most (dialled or accepted); it dials for
    // itself only while fewer than dial_target() of them are sources
    // (DialPlan).
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
    // How long a new connection, or a dial under way, counts as a source
    // on trust, and how recent the last block from a peer must be for it to
    // count (DialPlan).
    std::chrono::milliseconds source_grace{2000};
};

// How many peers a swarm wants as sources at once. A connection brings data
// only while it has chunks we lack and a request or two under way, so a file
// of few chunks gains nothing from many of them, while each costs a
// handshake, a bitfield, a Have for every chunk its remote completes, and a
// teardown when both sides are complete: one file of 256 MiB to 20
// subscribers took 14.0 s, the same bytes as 64 files of 4 MiB 23.5 s, on
// the same two cores (BENCHMARKS.md, "Fewer connections for small files").
// Half the chunk count, at least kMinDialTarget, at most max_connections: a
// 4 MiB file (16 chunks of 256 KiB) wants 8, a file of 100 chunks or more
// the full max_connections.
inline constexpr std::size_t kMinDialTarget = 8;
constexpr std::size_t dial_target(std::size_t max_connections, std::uint32_t chunks) {
    const std::size_t half = chunks / 2;
    const std::size_t want = half < kMinDialTarget ? kMinDialTarget : half;
    return want < max_connections ? want : max_connections;
}

// Whom a downloading swarm dials: while fewer than `target` of its
// connections are sources, up to `most` connections in all; at `most` with
// no source at all, it swaps one connection that is none for a new peer. A
// connection is a source while its bitfield has not come (it may hold
// anything), while blocks come from it (within source_grace), and, for
// source_grace after it connected, if it holds a chunk we lack or nothing at
// all (a getter just starting, as every subscriber is at a channel's first
// sync). A dial under way counts for source_grace. So a peer as far along as
// we are, both waiting (a channel's changed file: every subscriber holds the
// unchanged chunks and waits for the new ones), and a holder that does not
// deliver (busy, refusing, or spared as a backup), do not hold the swarm
// back from dialling others: the tail a fixed count of connections made
// (BENCHMARKS.md, "Dialling for sources, not for a count"). Such connections
// stay open (they may become sources); only a swarm at its limit with no
// source left closes one, the quietest, and never one we send blocks to (it
// needs us), one we await blocks from (a slow holder), or a spared holder.
// (In a large swarm on slow links most connections deliver nothing in a
// given 2 s while a few do: no swapping there.)
struct DialPlan {
    struct Conn {
        bool bitfield_known = false;
        bool holds_missing = false;    // has a chunk we lack
        bool holds_none = false;       // has no chunk at all
        bool young = false;            // connected within source_grace
        bool received_lately = false;  // a block came from it within source_grace
        bool fed_lately = false;       // a block went to it within source_grace
        // A request of ours to it is under way and a block came from it (or
        // it connected) within stall_timeout: a slow holder, not one that
        // only refuses.
        bool awaited = false;
        // Spared (a backup or a publisher: asked only when the others fail)
        // and holds a chunk we lack: the swarm's fallback.
        bool spared_holder = false;
    };
    static constexpr bool source(const Conn& c) {
        return !c.bitfield_known || c.received_lately ||
               (c.young && (c.holds_missing || c.holds_none));
    }
    // May be closed to make room for another peer: not one we wait on (a
    // slow holder still delivering), nor a spared holder (quiet because it
    // is spared, and what the swarm turns to when the others fail).
    static constexpr bool swappable(const Conn& c) {
        return !source(c) && !c.young && !c.fed_lately && !c.awaited && !c.spared_holder;
    }
    // At the limit with no source at all: one swappable connection gives
    // its room to a new peer (one per pass).
    static constexpr bool swap(std::size_t most, std::size_t open, std::size_t sources) {
        return open >= most && sources == 0;
    }
    // New dials to start: `open` connections (and dials in flight) now, of
    // which `sources` (dials in flight count as sources).
    static constexpr std::size_t dials(std::size_t target, std::size_t most, std::size_t open,
                                       std::size_t sources) {
        if (open >= most || sources >= target) return 0;
        const std::size_t by_sources = target - sources;
        const std::size_t by_room = most - open;
        return by_sources < by_room ? by_sources : by_room;
    }
};

}  // namespace seedshare
