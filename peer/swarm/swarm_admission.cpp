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
    // process's connections (smaller when many files download at once).
    std::size_t want = options_.max_connections;
    if (slots && slots->share) want = std::min(want, slots->share());
    const std::size_t busy = conns_.size() + connecting_;
    for (std::size_t n = busy; n < want; ++n) {
        const auto next = peer_list_.take_candidates(1, now);
        if (next.empty()) break;
        if (slots && slots->make_room && !slots->make_room(id_)) {
            // The process is full of connections that move data: later.
            peer_list_.connect_refused(next.front());
            break;
        }
        ++connecting_;  // counted by the budget from now (open_connections)
        net::spawn(env_.ex, connect_to(next.front()), log_, "connect");
    }
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
