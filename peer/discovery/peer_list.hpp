// The addresses a swarm could connect to, and what happened with each: the
// candidates of one swarm. Pure (no I/O, no clock of its own: every call that
// needs the time takes it), so the decisions are tested directly. Modelled on
// libtorrent's aux_/peer_list.hpp: one entry per address with its state,
// failures, when it may be tried again and where it was heard of; a bound on
// the size that evicts the least useful entries first.
//
// The swarm asks which candidates to dial (take_candidates) and reports what
// came of each dial and of each connection. An address is never dialled twice
// at once: a candidate handed out stays kConnecting until the swarm reports.
// Connections are counted per address (one dialled and one accepted may
// overlap while a simultaneous dial is resolved): an address is connected
// until its last connection ends, so the end of a replaced connection does
// not make a peer we are connected to a candidate again.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "common/core/address.hpp"

namespace seedshare {

class PeerList {
  public:
    using Clock = std::chrono::steady_clock;
    using TimePoint = Clock::time_point;

    enum class State {
        kIdle,        // may be dialled once retry_at has passed
        kConnecting,  // handed out by take_candidates, no answer yet
        kConnected,   // a connection to it is up (dialled or accepted)
        kBanned,      // it sent bad data: never dialled again
        kSelf,        // the address is this peer: never dialled again
    };
    // Where an address was heard of (a set: one address may come from several).
    enum class Source : std::uint8_t {
        kTracker = 1,
        kPeerExchange = 2,
        kIncoming = 4,      // it connected to us
        kBootstrap = 8,     // named by the user (--peer): never forgotten
        kAddressBook = 16,  // the process's address book remembered it
    };
    struct Entry {
        State state = State::kIdle;
        std::uint32_t failures = 0;     // failed dials and drops since the last success
        std::uint32_t connections = 0;  // live connections to it (reported up, not yet down)
        std::uint32_t busy = 0;         // "busy" answers since the last success
        TimePoint retry_at{};           // not dialled before
        std::uint8_t sources = 0;       // Source bits
        // It failed kForgetAfterFailures dials in a row: not handed out
        // again unless it connects to us or a tracker lists it again (then
        // one more dial after its backoff; gossip never revives it); the
        // first entry evicted when the list is full.
        bool forgotten = false;
        // The peer that first gossiped it, when a remote peer did (see add).
        std::optional<PeerAddress> origin;
        // Another peer gossiped it too: its first origin cannot retract it.
        bool corroborated = false;
        bool from(Source s) const { return (sources & static_cast<std::uint8_t>(s)) != 0; }
        // Heard of only from a remote peer's gossip: nothing we trust (a
        // tracker, our address book, the user, its own connection) vouches
        // for it. Such candidates are throttled per IP (take_candidates).
        bool hearsay() const {
            return origin.has_value() &&
                   sources == static_cast<std::uint8_t>(Source::kPeerExchange);
        }
    };

    static constexpr std::size_t kDefaultMaxSize = 1000;
    // How long a peer that said goodbye is left alone.
    static constexpr std::chrono::seconds kGoodbyeRest{30};

    explicit PeerList(std::size_t max_size = kDefaultMaxSize) : max_size_(max_size) {}

    // The wait before retrying an address that failed `failures` times before
    // this failure: 0.5 s doubling, at most 30 s.
    static Clock::duration backoff(std::uint32_t failures);
    // The wait before retrying an address that answered "busy" (its process
    // at its connection cap) `busy` times before: 1 s doubling, at most
    // kMaxBusyRest. Short: a busy peer makes room as its transfers end.
    static constexpr std::chrono::seconds kMaxBusyRest{8};
    static Clock::duration busy_rest(std::uint32_t busy);

    // Learns an address. Port 0 and unspecified addresses are ignored. When
    // the list is full, an idle entry that failed is evicted to make room
    // (the one that failed most); with none, the address is not taken.
    // `origin`: the peer that gossiped it (peer exchange, or holders named
    // by a peer that lacks the seed); it may add at most
    // kMaxCandidatesPerSource new addresses over the list's life, so that
    // what one peer says never fills the list. A loopback address gossiped
    // by a peer that is not itself on loopback is refused (it would aim us at
    // this machine's own services), and so is a multicast one. Returns true
    // when the address is new to the list.
    bool add(const PeerAddress& a, Source source,
             const std::optional<PeerAddress>& origin = std::nullopt);
    // `origin` says it dropped `a` (peer exchange's "dropped" list): a
    // candidate only it gossiped, never tried or reached without a failure
    // since, is removed (saving a dial that would fail). Anything else stays:
    // one peer cannot retract what others vouch for, nor wipe the failures
    // that keep a victim from being dialled again. Returns true when removed.
    // The origin's per-source count is not given back.
    bool retract(const PeerAddress& a, const PeerAddress& origin);
    // New addresses `origin` added so far, and addresses from anyone refused
    // for the per-source cap.
    std::size_t added_by(const PeerAddress& origin) const;
    std::size_t refused_for_cap() const { return refused_for_cap_; }

    // Up to `limit` candidates to dial now: idle, their retry time passed.
    // They become kConnecting. In address order, except that hearsay only
    // one gossiper named comes after everything else. Hearsay candidates (see
    // Entry::hearsay) are throttled per IP address, whatever their ports, so
    // gossip cannot aim a flood of connections at one machine: at most
    // kMaxHearsayDialsPerIp dials to one IP at once; after
    // kHearsayFailuresPerIp failed dials to one IP (since a connection to
    // that IP last succeeded), one dial at a time, each after a rest that
    // doubles (backoff) per further failure.
    std::vector<PeerAddress> take_candidates(std::size_t limit, TimePoint now);
    static constexpr std::size_t kMaxHearsayDialsPerIp = 4;
    static constexpr std::uint32_t kHearsayFailuresPerIp = 8;
    // Failed hearsay dials to `ip` since a connection to it last succeeded.
    std::uint32_t hearsay_failures(const asio::ip::address& ip) const;

    // --- what came of a dial (the address was handed out by take_candidates) ---
    // The handshake succeeded and the connection joined the swarm (counted
    // until disconnected).
    void connect_succeeded(const PeerAddress& a);
    // Reached it, but it is already connected to us by another connection:
    // connected while that one is counted under `a`; else (it is counted
    // under another address of the peer) idle, resting kGoodbyeRest.
    void connect_duplicate(const PeerAddress& a, TimePoint now);
    // Reached it, but the swarm would not take the connection (leaving, full):
    // idle again, may be dialled again at once.
    void connect_refused(const PeerAddress& a);
    // It answered "busy" (full of connections that move data): idle, retried
    // after busy_rest; no failure, never forgotten for it.
    void connect_busy(const PeerAddress& a, TimePoint now);
    // The dial or handshake failed: idle, retried after backoff; after
    // kForgetAfterFailures failures in a row a learnt address is forgotten
    // (Entry::forgotten; one the user named, kBootstrap, is kept and retried).
    void connect_failed(const PeerAddress& a, TimePoint now);
    // (All three leave an address connected when a connection to it came up
    // meanwhile, accepted: the dial lost a race, nothing failed.)
    // The address is this peer: never dialled again.
    void connect_reached_self(const PeerAddress& a);

    // --- connections ---------------------------------------------------------
    // An accepted connection from the peer listening at `a` joined the swarm
    // (counted until disconnected). An address not in the list is added,
    // from `source`, when there is room.
    void connected(const PeerAddress& a, Source source);
    // One connection counted for `a` ended. When it was the last: a peer that
    // said goodbye rests kGoodbyeRest; one that failed is retried after
    // backoff. While another connection to it is up, nothing else changes.
    // Banned and self entries stay.
    void disconnected(const PeerAddress& a, bool goodbye, TimePoint now);
    // It sent bad data: never dialled again. Kept even past the size bound.
    void ban(const PeerAddress& a);

    const Entry* find(const PeerAddress& a) const;
    std::size_t size() const { return entries_.size(); }
    std::size_t max_size() const { return max_size_; }
    // Entries in a state / heard of from a source.
    std::size_t count(State s) const;
    std::size_t count_from(Source s) const;

  private:
    // Makes room for one more entry; false when nothing may be evicted.
    bool make_room();
    Entry* at(const PeerAddress& a);

    std::size_t max_size_;
    std::map<PeerAddress, Entry> entries_;
    // New addresses each gossiping peer added (bounded: at most max_size_
    // origins are counted; a new origin beyond that adds nothing).
    std::map<PeerAddress, std::size_t> by_origin_;
    std::size_t refused_for_cap_ = 0;
    // Per IP: failed hearsay dials since a connection to it succeeded, and
    // when the next hearsay dial may start (bounded: max_size_ IPs; when
    // full, the one with fewest failures makes room).
    struct IpRest {
        std::uint32_t failures = 0;
        TimePoint retry_at{};
    };
    std::map<asio::ip::address, IpRest> hearsay_ips_;
    void hearsay_failed(const asio::ip::address& ip, TimePoint now);
};

}  // namespace seedshare
