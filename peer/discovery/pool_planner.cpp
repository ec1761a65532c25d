#include "peer/discovery/pool_planner.hpp"

#include <algorithm>

namespace seedshare {

PoolPlanner::Clock::duration PoolPlanner::backoff(std::uint32_t rounds) {
    const auto ms = std::min<std::int64_t>(30000, 500LL << std::min<std::uint32_t>(rounds, 6));
    return std::chrono::milliseconds(ms);
}

PoolPlanner::Plan PoolPlanner::plan(const View& v, TimePoint now) {
    Plan p;
    const bool low = v.connected < settings_.min_peers;
    const bool below_target = v.connected + v.connecting < settings_.target;
    auto due = [&](Ask a) { return source(a).due <= now; };
    if (low && v.connected > 0 && due(Ask::kPeers)) p.asks.push_back(Ask::kPeers);
    if (below_target && due(Ask::kTrackers)) p.asks.push_back(Ask::kTrackers);
    if (v.connected == 0 && due(Ask::kAddressBook)) p.asks.push_back(Ask::kAddressBook);
    for (const Ask a : p.asks) {
        auto& s = source(a);
        // Until answered/failed says otherwise: not again before the backoff.
        s.due = now + backoff(s.fruitless);
        // Peers answer later, the book at once: either counts as fruitless
        // until answered() says it brought something.
        if (a == Ask::kTrackers)
            ++tracker_rounds_;
        else
            ++s.fruitless;
    }
    // Plan again when the first relevant source is due (a change of the
    // pool wakes the caller sooner).
    p.next = now + settings_.rediscover;
    if (low && v.connected > 0) p.next = std::min(p.next, source(Ask::kPeers).due);
    if (below_target) p.next = std::min(p.next, source(Ask::kTrackers).due);
    if (v.connected == 0) p.next = std::min(p.next, source(Ask::kAddressBook).due);
    p.next = std::max(p.next, now);
    return p;
}

void PoolPlanner::answered(Ask which, std::size_t learnt, TimePoint now) {
    auto& s = source(which);
    if (which == Ask::kTrackers) {
        // A tracker that answers is asked again soon at first (peers that
        // started with us register as they verify their first chunk), then
        // every `rediscover`.
        s.fruitless = 0;
        s.due = now + std::min<Clock::duration>(
                          settings_.rediscover,
                          std::chrono::milliseconds(250LL << std::min(tracker_rounds_, 6u)));
        return;
    }
    if (learnt == 0) return;
    s.fruitless = 0;
    s.due = std::min(s.due, now + backoff(0));
}

void PoolPlanner::defer(Ask which, TimePoint until) {
    auto& s = source(which);
    s.due = std::max(s.due, until);
}

void PoolPlanner::failed(Ask which, TimePoint now) {
    auto& s = source(which);
    s.due = now + backoff(s.fruitless++);
}

}  // namespace seedshare
