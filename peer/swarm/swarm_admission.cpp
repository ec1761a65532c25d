// A swarm's connections as the process sees them: who may join (admit,
// accept), what to dial now (dial_candidates, within the swarm's share of
// the process's connections), and the view the process's ConnectionBudget
// decides on (budget_view, give_way).
#include <fmt/format.h>

#include <algorithm>

#include "peer/swarm/connection.hpp"
#include "peer/swarm/swarm.hpp"

namespace seedshare {

namespace pp = peer_proto;

std::optional<Refusal> Swarm::admit(const UserId& user, bool initiated_by_us) {
    using Reason = Refusal::Reason;
    if (stopping_) return Refusal{Reason::kLeaving, "this peer is leaving"};
    if (banned_users_.contains(user))
        return Refusal{Reason::kBanned, "this peer sent bad data before"};
    if (env_.refused && env_.refused->contains(user))
        return Refusal{Reason::kBanned, "this peer does not talk to you"};
    if (auto existing = connection_to(user)) {
        // Two peers dialled each other at once: both keep the connection that
        // the peer with the smaller user id initiated, and close the other.
        const bool new_by_smaller = initiated_by_us ? env_.user < user : user < env_.user;
        if (!new_by_smaller) return Refusal{Reason::kDuplicate, "already connected"};
        existing->close("replaced by a simultaneous connection");
    }
    // Connections closed but not yet torn down (the one just replaced, say)
    // do not count against the swarm's limit.
    const auto open =
        std::count_if(conns_.begin(), conns_.end(), [](const auto& c) { return !c->closed(); });
    if (static_cast<std::size_t>(open) >= options_.max_connections)
        return Refusal{Reason::kFull, "too many connections"};
    // An accepted connection takes a slot of the process's budget (a dial
    // took its slot before it started: dial_candidates).
    if (!initiated_by_us && env_.slots && env_.slots->make_room && !env_.slots->make_room(id_))
        return Refusal{Reason::kProcessFull, "this peer is at its connection limit"};
    return std::nullopt;
}

namespace {
// The code of the Error frame that tells a remote why it was refused.
pp::ErrorCode wire_code(Refusal::Reason r) {
    switch (r) {
        case Refusal::Reason::kDuplicate:
            return pp::ErrorCode::kDuplicate;
        case Refusal::Reason::kBanned:
            return pp::ErrorCode::kBanned;
        case Refusal::Reason::kLeaving:
        case Refusal::Reason::kFull:
        case Refusal::Reason::kProcessFull:
            return pp::ErrorCode::kBusy;
    }
    return pp::ErrorCode::kBusy;
}
}  // namespace

void Swarm::accept(std::shared_ptr<net::FrameStream> stream, const pp::Hello& theirs) {
    if (auto refusal = admit(theirs.user, false)) {
        log_.debug("refusing {}: {}", stream->remote(), refusal->message);
        pp::ErrorMsg error{wire_code(refusal->reason), std::move(refusal->message)};
        net::spawn(env_.ex, refuse(stream, std::move(error)), log_, "refusing");
        return;
    }
    auto conn = std::make_shared<PeerConnection>(shared_from_this(), std::move(stream), theirs,
                                                 std::nullopt);
    conns_.insert(conn);
    if (const auto where = listed_as(*conn))
        peer_list_.connected(*where, PeerList::Source::kIncoming);
    conn->start(/*send_hello=*/true);
    if (conns_.size() == 1) wake_connect();  // its loop may have ended with nothing to watch
}

net::awaitable<void> Swarm::refuse(std::shared_ptr<net::FrameStream> stream, pp::ErrorMsg error) {
    co_await stream->write(pp::encode(error));
    stream->close();
}

void Swarm::dial_candidates(net::Clock::time_point now) {
    const auto* slots = env_.slots.get();
    // Within the swarm's own limit and, with a budget, its share of the
    // process's connections (smaller when many files download at once),
    // while fewer than what the file's size is worth are sources (DialPlan).
    std::size_t most = options_.max_connections;
    if (slots && slots->share) most = std::min(most, slots->share());
    const std::size_t target =
        std::min(dial_target(options_.max_connections, seed_.chunk_count()), most);
    const auto real_now = net::Clock::now();
    auto pool = pool_view(real_now);
    std::size_t n = DialPlan::dials(target, most, pool.open, pool.sources);
    // At the limit with no source: one connection that is none gives its
    // room to a new peer (one per pass, and only if there is one to dial).
    std::shared_ptr<PeerConnection> swap;
    if (n == 0 && DialPlan::swap(most, pool.open, pool.sources) && pool.swappable) {
        n = 1;
        swap = std::move(pool.swappable);
    }
    for (; n > 0; --n) {
        const auto next = peer_list_.take_candidates(1, now);
        if (next.empty()) break;
        if (swap) {
            swap->close("no source lately: its room goes to another peer");
            swap.reset();
        } else if (slots && slots->make_room && !slots->make_room(id_)) {
            // The process is full of connections that move data: later.
            peer_list_.connect_refused(next.front());
            break;
        }
        ++connecting_;  // counted by the budget from now (open_connections)
        dials_started_.insert(real_now);
        net::spawn(env_.ex, connect_to(next.front(), real_now), log_, "connect");
    }
}

Swarm::PoolView Swarm::pool_view(net::Clock::time_point real_now) const {
    const auto grace = options_.source_grace;
    PoolView v;
    v.open = connecting_;
    for (const auto started : dials_started_)
        if (real_now - started < grace) ++v.sources;
    auto quiet_since = net::Clock::time_point::max();
    for (const auto& c : conns_) {
        if (c->closed()) continue;
        ++v.open;
        // last_block_at is the later of the last block either way: when it is
        // recent and the last block received is not, the recent one was sent.
        const bool holds_missing = c->theirs().has_any_not_in(picker_.have());
        const DialPlan::Conn view{
            .bitfield_known = c->counted_in_picker(),
            .holds_missing = holds_missing,
            .holds_none = c->theirs().none(),
            .young = real_now - c->connected_at() < grace,
            .received_lately = c->downloaded() > 0 && real_now - c->last_received_at() < grace,
            .fed_lately = c->uploaded() > 0 && real_now - c->last_block_at() < grace,
            // (last_received_at is the connect time until a block comes: a
            // first block on its way is awaited too.)
            .awaited = c->outstanding_bytes() > 0 &&
                       real_now - c->last_received_at() < options_.stall_timeout,
            .spared_holder = c->spared() && holds_missing};
        if (DialPlan::source(view)) {
            ++v.sources;
        } else if (DialPlan::swappable(view) && c->last_block_at() < quiet_since) {
            quiet_since = c->last_block_at();
            v.swappable = c;
        }
    }
    return v;
}

std::size_t Swarm::open_connections() const {
    std::size_t n = connecting_;
    for (const auto& c : conns_)
        n += c->closed() ? 0 : 1;
    return n;
}

void Swarm::budget_view(std::vector<ConnectionBudget::Conn>& out) const {
    const std::size_t open = open_connections();
    for (const auto& c : conns_) {
        if (c->closed()) continue;
        out.push_back({.swarm_complete = complete(),
                       .remote_complete = c->counted_in_picker() && c->theirs().all(),
                       .last_block = c->last_block_at(),
                       .swarm_connections = open});
    }
}

void Swarm::give_way(std::size_t nth) {
    for (const auto& c : conns_) {
        if (c->closed()) continue;
        if (nth-- == 0) {
            if (env_.counters) ++env_.counters->connections_evicted;
            return c->close("closed to make room for another connection");
        }
    }
}

}  // namespace seedshare
