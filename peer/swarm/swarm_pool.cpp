// The swarm's peer pool (swarm.hpp): candidates added and dialled, the
// connect loop (stalled connections, dials while downloading), discovery
// (the pool planner's asks of peers, trackers and the address book) and
// peer exchange. The loops run only while they have something to watch.
#include <fmt/format.h>

#include "common/core/plural.hpp"
#include "peer/discovery/address_book_file.hpp"
#include "peer/swarm/connection.hpp"
#include "peer/swarm/handshake.hpp"
#include "peer/swarm/swarm.hpp"

namespace seedshare {

namespace pp = peer_proto;
using namespace std::chrono_literals;

void Swarm::wake_connect() {
    if (stopping_) return;
    if (connect_running_) {
        connect_signal_.cancel();
        return;
    }
    connect_running_ = true;
    net::spawn(env_.ex, connect_loop(), log_, "connect loop");
}

void Swarm::wake_pex() {
    if (stopping_) return;
    if (pex_running_) {
        if (!pex_resting_) pex_signal_.cancel();
        return;
    }
    pex_running_ = true;
    net::spawn(env_.ex, pex_loop(), log_, "peer exchange");
}

namespace {

// Clears a loop's running flag however the loop ends (an exception too), so
// that the next wake starts it again.
struct SwarmLoopRunning {
    bool& running;
    ~SwarmLoopRunning() { running = false; }
};

}  // namespace

net::awaitable<void> Swarm::pex_loop() {
    auto self = shared_from_this();
    const SwarmLoopRunning flag{pex_running_};
    // Until nothing is left to gossip (wake_pex starts it again).
    while (!stopping_ && !(pex_pending_.empty() && pex_dropped_.empty())) {
        // Gather the peers that joined in the next moments into one message.
        co_await net::sleep_for(pex_signal_, options_.pex_batch);
        if (stopping_) break;
        // At most kPexMaxAdded per message; the rest waits for the next.
        std::set<PeerAddress> fresh;
        while (!pex_pending_.empty() && fresh.size() < limits::kPexMaxAdded)
            fresh.insert(pex_pending_.extract(pex_pending_.begin()));
        std::vector<PeerAddress> gone;
        while (!pex_dropped_.empty() && gone.size() < limits::kPexMaxAdded)
            gone.push_back(pex_dropped_.extract(pex_dropped_.begin()).value());
        for (const auto& c : conns_) {
            pp::PeerList list;
            const auto own = c->listen_address();
            for (const auto& a : fresh) {
                if (own && *own == a) continue;
                list.peers.push_back(pp::PeerAddress{a.address, a.port});
            }
            list.dropped = gone;
            if (!list.peers.empty() || !list.dropped.empty()) c->send_peers(list);
        }
        // A bounded rate (BEP 11): the next message not before pex_interval.
        pex_resting_ = true;
        co_await net::sleep_for(pex_signal_, options_.pex_interval);
        pex_resting_ = false;
    }
}

std::size_t Swarm::add_candidates(const std::vector<PeerAddress>& peers, PeerList::Source source,
                                  const std::optional<PeerAddress>& origin) {
    std::size_t added = 0;
    const auto now = address_book_now();
    for (const auto& p : peers) {
        const PeerAddress a{net::normalize(p.address), p.port};
        if (peer_list_.add(a, source, origin)) ++added;
        // A tracker's word is worth remembering; gossip is not, until a
        // handshake (connection_ready) shows the peer holds the file.
        if (source == PeerList::Source::kTracker && env_.book)
            env_.book->learn(AddressBook::key(id_), a, now);
    }
    if (added > 0) wake_connect();
    return added;
}

net::awaitable<void> Swarm::connect_to(PeerAddress where, net::Clock::time_point started) {
    auto self = shared_from_this();  // (connecting_ counts it: dial_candidates)
    struct Ended {
        std::multiset<net::Clock::time_point>& dials;
        net::Clock::time_point started;
        ~Ended() {
            if (const auto it = dials.find(started); it != dials.end()) dials.erase(it);
        }
    } ended{dials_started_, started};
    try {
        auto [stream, hello] = co_await handshake_out(where, env_.hello(id_), options_);
        --connecting_;
        if (const auto refusal = admit(hello.user, true)) {
            stream->close();
            // Already connected: reached by another connection.
            if (refusal->reason == Refusal::Reason::kDuplicate)
                peer_list_.connect_duplicate(where, env_.clock->now());
            else
                peer_list_.connect_refused(where);
            co_return;
        }
        auto conn =
            std::make_shared<PeerConnection>(shared_from_this(), std::move(stream), hello, where);
        conns_.insert(conn);
        peer_list_.connect_succeeded(where);
        conn->start(/*send_hello=*/false);
    } catch (const net::NotSeedshare& e) {
        // Something else listens at that address: say so once, retry rarely.
        --connecting_;
        peer_list_.connect_failed(where, env_.clock->now());
        const auto like = foreign_protocol_name(e.looks_like);
        const std::string line =
            like.empty() ? fmt::format("{} is not a seedshare peer ({})", where.str(), e.what())
                         : fmt::format("{} is not a seedshare peer (it answered like {})",
                                       where.str(), like);
        if (const auto* c = peer_list_.find(where); c && c->failures == 1)
            log_.warn("{}", line);
        else
            log_.debug("{}", line);
    } catch (const HandshakeError& e) {
        --connecting_;
        if (e.reason == HandshakeError::Reason::kSelf) {
            peer_list_.connect_reached_self(where);
        } else if (e.remote_code == pp::ErrorCode::kUnknownSeed) {
            // It lacks the seed, but may have named holders it knows: merged
            // as gossip from it (capped per source).
            peer_list_.connect_failed(where, env_.clock->now());
            if (env_.book) env_.book->forget(AddressBook::key(id_), where);
            const auto learnt = add_candidates(e.holders, PeerList::Source::kPeerExchange, where);
            log_.debug("{} does not hold the file; it named {} ({} new)", where.str(),
                       count_of(e.holders.size(), "holder"), learnt);
        } else if (e.remote_code == pp::ErrorCode::kBusy) {
            // Its process (or this swarm there) is full: soon again, no failure.
            peer_list_.connect_busy(where, env_.clock->now());
            log_.debug("{} is busy: {}", where.str(), e.what());
        } else if (e.remote_code == pp::ErrorCode::kDuplicate) {
            // It holds a connection with us already (it dialled us meanwhile).
            peer_list_.connect_duplicate(where, env_.clock->now());
            log_.debug("{}: connected already", where.str());
        } else {
            peer_list_.connect_failed(where, env_.clock->now());
            log_.debug("cannot connect to {}: {}", where.str(), e.what());
            if (e.reason == HandshakeError::Reason::kVersionMismatch)
                log_.warn("{}: {}", where.str(), e.what());
        }
    } catch (const std::exception& e) {
        --connecting_;
        peer_list_.connect_failed(where, env_.clock->now());
        log_.debug("cannot connect to {}: {}", where.str(), e.what());
    }
    wake_connect();
}

pp::PeerList Swarm::handshaken_peers(const PeerConnection* except) const {
    pp::PeerList known;
    for (const auto& c : conns_) {
        if (c.get() == except || known.peers.size() == limits::kPexMaxAdded) continue;
        if (c->closed() || !c->counted_in_picker()) continue;  // not through its handshake yet
        if (const auto a = c->listen_address())
            known.peers.push_back(pp::PeerAddress{a->address, a->port});
    }
    return known;
}

void Swarm::peers_heard(const std::shared_ptr<PeerConnection>& from,
                        const std::vector<PeerAddress>& peers,
                        const std::vector<PeerAddress>& dropped) {
    const auto origin = from->origin();
    for (const auto& a : dropped)
        peer_list_.retract(a, origin);
    const auto learnt = add_candidates(peers, PeerList::Source::kPeerExchange, origin);
    if (learnt > 0) planner_.answered(PoolPlanner::Ask::kPeers, learnt, env_.clock->now());
}

void Swarm::gossip_dropped(const PeerConnection* conn) {
    const auto addr = conn->listen_address();
    if (!addr) return;
    for (const auto& c : conns_)
        if (c.get() != conn && c->listen_address() == addr) return;  // still connected
    pex_pending_.erase(*addr);
    if (pex_dropped_.size() >= limits::kPexMaxDroppedPending) return;
    pex_dropped_.insert(*addr);
    wake_pex();
}

void Swarm::peers_asked(const std::shared_ptr<PeerConnection>& from) {
    // Always an answer (an empty list says: nobody else).
    from->send_peers(handshaken_peers(from.get()));
}

net::awaitable<void> Swarm::connect_loop() {
    auto self = shared_from_this();
    const SwarmLoopRunning flag{connect_running_};
    while (!stopping_) {
        // A connection's silence is measured in real time (its bytes move in
        // it); when to dial whom, on the swarm's clock.
        const auto now = net::Clock::now();
        for (const auto& c : conns_)
            if (c->stalled(now)) c->close("stalled: nothing received for a while");
        if (state_ == State::kDownloading) {
            // Connections idle for want of a chunk to ask (every chunk left
            // was refused lately, and refusals expire without a message)
            // look again: without this a download could wait forever.
            wake_fetchers();
            dial_candidates(env_.clock->now());
        }
        // A complete swarm with no connection has nothing to check: the loop
        // ends (wake_connect starts it again with a connection), so a process
        // serving thousands of files neither wakes thousands of times a
        // second nor keeps thousands of idle loops.
        if (state_ != State::kDownloading && conns_.empty()) break;
        connect_signal_.expires_after(1s);
        asio::error_code ec;
        co_await connect_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

net::awaitable<void> Swarm::discover_loop() {
    auto self = shared_from_this();
    while (!stopping_ && state_ == State::kDownloading) {
        const auto now = env_.clock->now();
        const auto plan =
            planner_.plan({.connected = conns_.size(), .connecting = connecting_}, now);
        for (const auto which : plan.asks) {
            co_await ask(which);
            if (stopping_ || state_ != State::kDownloading) co_return;
        }
        // Until the plan says, or the pool changes (a connection closed,
        // also while the asks above ran).
        co_await discover_signal_.sleep(plan.next - env_.clock->now());
    }
}

net::awaitable<void> Swarm::ask(PoolPlanner::Ask which) {
    using Ask = PoolPlanner::Ask;
    struct Count {
        std::size_t& n;
        ~Count() { ++n; }
    } count{asks_done_[static_cast<std::size_t>(which)]};
    switch (which) {
        case Ask::kPeers:
            log_.debug("{}: asking them for more peers", count_of(conns_.size(), "peer"));
            for (const auto& c : conns_)
                if (c->counted_in_picker()) c->ask_peers();
            break;
        case Ask::kTrackers: {
            if (!find_peers) {
                planner_.failed(which, env_.clock->now());
                break;
            }
            try {
                const auto found = co_await find_peers(options_.numwant);
                const auto learnt = add_candidates(found, PeerList::Source::kTracker);
                planner_.answered(which, learnt, env_.clock->now());
                // The answer may have said who is a backup peer.
                if (is_backup) {
                    const auto backups = std::count_if(found.begin(), found.end(), is_backup);
                    if (backups > 0)
                        log_.debug("the trackers named {}, {} a backup",
                                   count_of(found.size(), "peer"), backups);
                }
                for (const auto& c : conns_)
                    if (c->counted_in_picker()) c->set_spared(spares(*c));
            } catch (const std::exception& e) {
                log_.debug("asking for peers: {}", e.what());
                planner_.failed(which, env_.clock->now());
            }
            break;
        }
        case Ask::kAddressBook: {
            if (!env_.book) break;
            // Other processes of this machine may have learnt holders since
            // (a getter whose tracker died before naming any).
            if (env_.refresh_book) env_.refresh_book();
            const auto known =
                env_.book->holders(AddressBook::key(id_), address_book_now(), options_.numwant);
            const auto learnt = add_candidates(known, PeerList::Source::kAddressBook);
            if (learnt > 0)
                log_.debug("the address book named {} to try", count_of(learnt, "peer"));
            planner_.answered(which, learnt, env_.clock->now());
            break;
        }
    }
}

}  // namespace seedshare
