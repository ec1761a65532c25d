#include "peer/swarm/connection_budget.hpp"

#include <algorithm>

namespace seedshare {

std::optional<int> ConnectionBudget::rank(const Conn& c, bool starving,
                                          Clock::time_point now) const {
    if (c.swarm_complete && c.remote_complete) return 0;  // seed to seed: nothing to trade
    if (now - c.last_block >= settings_.idle_grace)
        return c.swarm_complete ? 1 : 2;  // an idle upload, then an idle download
    // Busy, or too new: only for a starving swarm, from one with plenty.
    if (starving && c.swarm_connections > settings_.min_share) return c.swarm_complete ? 3 : 4;
    return std::nullopt;
}

ConnectionBudget::Decision ConnectionBudget::make_room(std::span<const Conn> conns,
                                                       std::size_t others, std::size_t requester,
                                                       Clock::time_point now) const {
    if (conns.size() + others < settings_.cap) return {Verdict::kAdmit};
    const bool starving = requester < settings_.min_share;
    std::optional<std::size_t> victim;
    int victim_rank = 0;
    for (std::size_t i = 0; i < conns.size(); ++i) {
        const auto r = rank(conns[i], starving, now);
        if (!r) continue;
        // The lower rank; within a rank, the longest idle.
        if (!victim || *r < victim_rank ||
            (*r == victim_rank && conns[i].last_block < conns[*victim].last_block)) {
            victim = i;
            victim_rank = *r;
        }
    }
    if (!victim) return {Verdict::kRefuse};
    return {Verdict::kEvict, *victim};
}

std::size_t ConnectionBudget::share(std::size_t downloading, std::size_t swarm_max) const {
    const std::size_t even = settings_.cap / std::max<std::size_t>(1, downloading);
    return std::min(swarm_max, std::max(settings_.min_share, even));
}

}  // namespace seedshare
