// How one process shares its peer connections among its swarms (one swarm a
// file): a cap on them all (NodeOptions::max_connections), and, when it is
// reached, which connection gives way to a new one. Pure: the connections
// and the time in, a decision out; the Node runs it over its swarms.
//
// Why: a process holding many files keeps a swarm per file, and a complete
// swarm keeps its connections while they idle. Without a budget the cap
// fills with idle uploads and the one file a peer still lacks cannot get a
// connection from anyone (the 20-subscriber channel case in BENCHMARKS.md).
// As libtorrent does with its connection slots, a new connection closes an
// idle one rather than being refused: first seed to seed (both sides hold
// the file: nothing to trade), then connections that moved no block for
// `idle_grace`, those of complete swarms (idle uploads) before those of
// downloading ones, the longest idle first. A swarm with fewer than
// min_share connections (starving: the file a peer still lacks, or the one
// nobody fetches from us yet) may also take an active connection of a swarm
// that has more than min_share, a complete swarm's (an upload) first, the
// least recently active. Otherwise a connection that moves blocks is never
// closed for room: the new one is refused (kBusy on the wire, which the
// dialler retries soon).
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>

#include "common/core/limits.hpp"

namespace seedshare {

class ConnectionBudget {
  public:
    using Clock = std::chrono::steady_clock;

    struct Settings {
        std::size_t cap = limits::kMaxPeerConnections;
        // A connection that moved no block either way for this long may be
        // closed for room.
        Clock::duration idle_grace = std::chrono::seconds(10);
        // The fewest connections a downloading swarm dials for (share()).
        std::size_t min_share = 4;
    };

    // One open connection of one swarm.
    struct Conn {
        bool swarm_complete = false;   // we hold the whole file
        bool remote_complete = false;  // the remote holds it too
        // The last block it carried either way (or when it connected).
        Clock::time_point last_block{};
        std::size_t swarm_connections = 0;  // its swarm's open connections
    };

    enum class Verdict {
        kAdmit,   // there is room
        kEvict,   // close conns[victim], then admit
        kRefuse,  // full of connections that move blocks (or too new to judge)
    };
    struct Decision {
        Verdict verdict = Verdict::kRefuse;
        std::size_t victim = 0;  // index in the connections given (kEvict only)
    };

    explicit ConnectionBudget(Settings s) : settings_(s) {}

    // May one more connection open? `conns`: every open connection of every
    // swarm (those that may give way); `others`: connections that never give
    // way (channel meshes, dials in progress); `requester`: the open
    // connections of the swarm the new one is for.
    Decision make_room(std::span<const Conn> conns, std::size_t others, std::size_t requester,
                       Clock::time_point now) const;

    // The connections each of `downloading` swarms dials for: an even part of
    // the cap, at least min_share, at most `swarm_max` (its own limit).
    std::size_t share(std::size_t downloading, std::size_t swarm_max) const;

    const Settings& settings() const { return settings_; }

  private:
    // Which connections give way first (lower first); none: never.
    std::optional<int> rank(const Conn& c, bool starving, Clock::time_point now) const;

    Settings settings_;
};

}  // namespace seedshare
