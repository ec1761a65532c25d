// When a swarm looks for more peers, and where: the pool of connections has
// a target (the connection limit) and a low-water mark (--min-peers). Pure
// (the time is given), so the decisions are tested directly.
//
// - At or above the mark: the trackers now and then (new holders register
//   as they verify their first chunk): soon at first, then every
//   `rediscover`, while the pool is below its target.
// - Below the mark with peers connected: ask those peers for the peers they
//   know (peer exchange, GetPeers), then the trackers.
// - With no peer connected: the trackers ("rescue"), then the address book.
// Every source that brought nothing (or failed) is asked again after a
// backoff (0.5 s doubling, at most 30 s); what brings candidates resets it.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace seedshare {

class PoolPlanner {
  public:
    using Clock = std::chrono::steady_clock;
    using TimePoint = Clock::time_point;

    enum class Ask { kPeers, kTrackers, kAddressBook };

    struct Settings {
        std::size_t min_peers = 8;  // the low-water mark
        std::size_t target = 50;    // the connections wanted at most
        Clock::duration rediscover = std::chrono::seconds(5);
    };
    struct View {
        std::size_t connected = 0;   // connections in the swarm
        std::size_t connecting = 0;  // dials in progress
    };
    struct Plan {
        std::vector<Ask> asks;  // in this order
        TimePoint next;         // when to plan again at the latest
    };

    explicit PoolPlanner(Settings s) : settings_(s) {}

    // What to ask now. Each ask returned is taken as made: its next time is
    // set from its backoff, and answered() or failed() adjusts it. Asks of
    // peers and of the book count as fruitless (the backoff grows) until
    // answered() reports candidates learnt.
    Plan plan(const View& v, TimePoint now);
    // An ask brought `learnt` new candidates (0: nothing new). A tracker
    // that answered is asked again soon at first, then every `rediscover`.
    void answered(Ask which, std::size_t learnt, TimePoint now);
    // An ask failed (no tracker answered, no peer to ask).
    void failed(Ask which, TimePoint now);
    // `which` is not asked before `until`: the caller expects other sources
    // to suffice (a channel's file swarm starts with the holders the channel
    // named, and a small file is done before a tracker could answer).
    void defer(Ask which, TimePoint until);

    static Clock::duration backoff(std::uint32_t rounds);
    const Settings& settings() const { return settings_; }

  private:
    struct Source {
        TimePoint due{};              // asked again from then on
        std::uint32_t fruitless = 0;  // asks in a row that brought nothing
    };
    Source& source(Ask a) { return sources_[static_cast<std::size_t>(a)]; }

    Settings settings_;
    Source sources_[3];
    std::uint32_t tracker_rounds_ = 0;  // tracker asks so far (the early ramp)
};

}  // namespace seedshare
