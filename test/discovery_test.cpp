// Discovery's pure cores: the pool planner (when to ask peers, trackers, the
// address book), the peer list's bounds against hostile gossip, the gate on
// peer-exchange messages, and the address book (bounds, expiry, its file
// format read as hostile input).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

#include "common/core/limits.hpp"
#include "peer/discovery/address_book.hpp"
#include "peer/discovery/peer_list.hpp"
#include "peer/discovery/pex_gate.hpp"
#include "peer/discovery/pool_planner.hpp"
#include "peer/discovery/refresh_gate.hpp"

namespace discovery_test {

using namespace seedshare;
using namespace std::chrono_literals;
using Ask = PoolPlanner::Ask;

namespace {

PeerAddress addr(const std::string& ip, std::uint16_t port = 7000) {
    return PeerAddress{asio::ip::make_address(ip), port};
}

const PoolPlanner::TimePoint t0 = PoolPlanner::TimePoint{} + 1h;

bool has(const std::vector<Ask>& asks, Ask a) {
    return std::find(asks.begin(), asks.end(), a) != asks.end();
}

SeedId seed_id(std::uint8_t b) {
    SeedId id;
    id.bytes.fill(b);
    return id;
}

}  // namespace

// --- the pool planner -----------------------------------------------------------

TEST_CASE("pool: below the mark with peers: ask them first, then the trackers") {
    PoolPlanner p({.min_peers = 4, .target = 50, .rediscover = 5s});
    const auto plan = p.plan({.connected = 2}, t0);
    REQUIRE(plan.asks.size() == 2);
    CHECK(plan.asks[0] == Ask::kPeers);
    CHECK(plan.asks[1] == Ask::kTrackers);
    // The address book only when no peer is left.
    CHECK_FALSE(has(plan.asks, Ask::kAddressBook));
}

TEST_CASE("pool: with no peer: the trackers (rescue), then the address book") {
    PoolPlanner p({.min_peers = 4, .target = 50, .rediscover = 5s});
    const auto plan = p.plan({.connected = 0}, t0);
    REQUIRE(plan.asks.size() == 2);
    CHECK(plan.asks[0] == Ask::kTrackers);
    CHECK(plan.asks[1] == Ask::kAddressBook);
}

TEST_CASE("pool: deferred trackers are not asked before their time, then are") {
    // A channel's file swarm starts with the holders the channel named.
    PoolPlanner p({.min_peers = 4, .target = 50, .rediscover = 5s});
    p.defer(Ask::kTrackers, t0 + 1s);
    auto plan = p.plan({.connected = 0, .connecting = 2}, t0);
    CHECK(plan.asks == std::vector<Ask>{Ask::kAddressBook});
    CHECK(plan.next <= t0 + 1s);  // planned again by the time they are due
    plan = p.plan({.connected = 0, .connecting = 2}, t0 + 500ms);
    CHECK_FALSE(has(plan.asks, Ask::kTrackers));
    plan = p.plan({.connected = 1}, t0 + 1s);
    CHECK(has(plan.asks, Ask::kTrackers));
    // A deferral never brings an ask forward.
    PoolPlanner q({.min_peers = 4, .target = 50, .rediscover = 5s});
    q.failed(Ask::kTrackers, t0);  // due at t0 + 0.5 s
    q.defer(Ask::kTrackers, t0 + 100ms);
    CHECK_FALSE(has(q.plan({.connected = 0}, t0 + 200ms).asks, Ask::kTrackers));
}

TEST_CASE("pool: at the mark, peers are not asked, at the target, trackers neither") {
    PoolPlanner p({.min_peers = 4, .target = 10, .rediscover = 5s});
    auto plan = p.plan({.connected = 4}, t0);
    CHECK(plan.asks == std::vector<Ask>{Ask::kTrackers});
    PoolPlanner full({.min_peers = 4, .target = 10, .rediscover = 5s});
    plan = full.plan({.connected = 8, .connecting = 2}, t0);
    CHECK(plan.asks.empty());
    CHECK(plan.next == t0 + 5s);
}

TEST_CASE("pool: fruitless asks back off, doubling to 30 s, what brings peers resets") {
    PoolPlanner p({.min_peers = 4, .target = 50, .rediscover = 5s});
    auto now = t0;
    std::vector<PoolPlanner::Clock::duration> gaps;
    auto last = now;
    // Peers and the book asked, nothing comes back; the trackers fail.
    for (int i = 0; i < 200 && gaps.size() < 9; ++i) {
        const auto plan = p.plan({.connected = 0}, now);
        if (has(plan.asks, Ask::kAddressBook)) {
            if (now != t0) gaps.push_back(now - last);
            last = now;
            p.answered(Ask::kAddressBook, 0, now);
        }
        if (has(plan.asks, Ask::kTrackers)) p.failed(Ask::kTrackers, now);
        REQUIRE(plan.next > now);
        now = plan.next;
    }
    REQUIRE(gaps.size() == 9);
    CHECK(gaps[0] == 500ms);
    CHECK(gaps[1] == 1s);
    CHECK(gaps[2] == 2s);
    CHECK(gaps.back() == 30s);
    // A book answer that brings candidates: asked again soon.
    const auto plan = p.plan({.connected = 0}, now + 1h);
    REQUIRE(has(plan.asks, Ask::kAddressBook));
    p.answered(Ask::kAddressBook, 3, now + 1h);
    const auto again = p.plan({.connected = 0}, now + 1h + 500ms);
    CHECK(has(again.asks, Ask::kAddressBook));
}

TEST_CASE(
    "pool: a failing tracker is retried with backoff, an answering one soon, then every "
    "rediscover") {
    PoolPlanner p({.min_peers = 4, .target = 50, .rediscover = 5s});
    REQUIRE(has(p.plan({.connected = 0}, t0).asks, Ask::kTrackers));
    p.failed(Ask::kTrackers, t0);
    CHECK_FALSE(has(p.plan({.connected = 0}, t0 + 400ms).asks, Ask::kTrackers));
    REQUIRE(has(p.plan({.connected = 0}, t0 + 500ms).asks, Ask::kTrackers));
    p.failed(Ask::kTrackers, t0 + 500ms);
    CHECK_FALSE(has(p.plan({.connected = 0}, t0 + 1400ms).asks, Ask::kTrackers));
    auto now = t0 + 1500ms;
    REQUIRE(has(p.plan({.connected = 0}, now).asks, Ask::kTrackers));
    // It answers: soon again at first, never later than rediscover.
    for (int i = 0; i < 20; ++i) {
        p.answered(Ask::kTrackers, 1, now);
        const auto plan = p.plan({.connected = 5}, now);
        CHECK(plan.next - now <= 5s);
        now = plan.next;
        REQUIRE(has(p.plan({.connected = 5}, now).asks, Ask::kTrackers));
    }
}

// --- the peer list against hostile gossip ---------------------------------------

TEST_CASE("peer list: one source adds at most kMaxCandidatesPerSource of 10,000 addresses") {
    PeerList list;
    const auto hostile = addr("10.9.9.9", 6000);
    for (std::uint32_t i = 0; i < 10000; ++i) {
        const auto a = PeerAddress{asio::ip::make_address_v4(0x0b000000u + i), 7000};
        list.add(a, PeerList::Source::kPeerExchange, hostile);
    }
    CHECK(list.added_by(hostile) == limits::kMaxCandidatesPerSource);
    CHECK(list.size() == limits::kMaxCandidatesPerSource);
    CHECK(list.refused_for_cap() == 10000 - limits::kMaxCandidatesPerSource);
    // Another source still gets its share; the tracker is not capped.
    CHECK(list.add(addr("10.1.1.1"), PeerList::Source::kPeerExchange, addr("10.9.9.8")));
    CHECK(list.add(addr("10.1.1.2"), PeerList::Source::kTracker));
}

TEST_CASE("peer list: one victim named many times is one candidate, dialled once at a time") {
    PeerList list;
    const auto victim = addr("10.5.5.5", 80);
    std::size_t attempts = 0;
    auto now = PeerList::TimePoint{} + 1h;
    for (int i = 0; i < 1000; ++i) {
        list.add(victim, PeerList::Source::kPeerExchange, addr("10.9.9.9", 6000));
        list.add(victim, PeerList::Source::kPeerExchange,
                 addr("10.9.9." + std::to_string(i % 200), 6001));
        for (const auto& a : list.take_candidates(50, now)) {
            CHECK(a == victim);
            ++attempts;
            list.connect_failed(a, now);
        }
        now += 10ms;  // 10 s in all
    }
    // At 0, 0.5, 1.5 and 3.5 s (backoff), then forgotten: named again by
    // 200 sources, it is not dialled again.
    CHECK(list.size() == 1);
    CHECK(attempts == limits::kForgetAfterFailures);
}

TEST_CASE(
    "peer list: an address failing kForgetAfterFailures times is forgotten, unless the user named "
    "it") {
    PeerList list;
    auto now = PeerList::TimePoint{} + 1h;
    list.add(addr("10.0.0.1"), PeerList::Source::kTracker);
    list.add(addr("10.0.0.2"), PeerList::Source::kBootstrap);
    for (std::uint32_t i = 0; i < limits::kForgetAfterFailures; ++i) {
        now += 1h;
        for (const auto& a : list.take_candidates(10, now))
            list.connect_failed(a, now);
    }
    REQUIRE(list.find(addr("10.0.0.1")) != nullptr);
    CHECK(list.find(addr("10.0.0.1"))->forgotten);
    REQUIRE(list.find(addr("10.0.0.2")) != nullptr);
    CHECK_FALSE(list.find(addr("10.0.0.2"))->forgotten);
    CHECK(list.find(addr("10.0.0.2"))->failures == limits::kForgetAfterFailures);
    // Named again by gossip or the address book, the forgotten one stays
    // out; the user's is retried.
    list.add(addr("10.0.0.1"), PeerList::Source::kPeerExchange, addr("10.9.9.9"));
    list.add(addr("10.0.0.1"), PeerList::Source::kAddressBook);
    auto taken = list.take_candidates(10, now + 1h);
    CHECK(taken == std::vector<PeerAddress>{addr("10.0.0.2")});
    for (const auto& a : taken)
        list.connect_failed(a, now + 1h);
    now += 2h;
    // Listed again by a tracker (it registered again), it gets one more dial;
    // failing that, it is forgotten at once.
    list.add(addr("10.0.0.1"), PeerList::Source::kTracker);
    taken = list.take_candidates(10, now);
    CHECK(taken == std::vector<PeerAddress>{addr("10.0.0.1"), addr("10.0.0.2")});
    for (const auto& a : taken)
        list.connect_failed(a, now);
    CHECK(list.find(addr("10.0.0.1"))->forgotten);
    CHECK(list.take_candidates(10, now + 1h) == std::vector<PeerAddress>{addr("10.0.0.2")});
    // It connects to us: it is back.
    list.connected(addr("10.0.0.1"), PeerList::Source::kIncoming);
    list.disconnected(addr("10.0.0.1"), false, now + 1h);
    CHECK(list.take_candidates(10, now + 2h) == std::vector<PeerAddress>{addr("10.0.0.1")});
}

TEST_CASE("peer list: a banned address is never handed out again, whoever names it") {
    PeerList list;
    list.add(addr("10.0.0.1"), PeerList::Source::kTracker);
    list.ban(addr("10.0.0.1"));
    list.add(addr("10.0.0.1"), PeerList::Source::kPeerExchange, addr("10.9.9.9"));
    list.add(addr("10.0.0.1"), PeerList::Source::kAddressBook);
    CHECK(list.take_candidates(10, PeerList::TimePoint{} + 100h).empty());
}

TEST_CASE("peer list: gossip cannot aim a flood at one machine through many ports") {
    // 50 hostile sources each name 50 ports of one victim machine: 2,500
    // candidates on one IP, every dial failing. Simulated for 120 s in 10 ms
    // steps, dialling whatever is handed out.
    const auto victim_ip = asio::ip::make_address("192.0.2.7");
    const auto run = [&](bool per_ip_rule) {
        PeerList list(5000);
        for (std::uint16_t s = 0; s < 50; ++s)
            for (std::uint16_t p = 0; p < 50; ++p) {
                const PeerAddress a{victim_ip, static_cast<std::uint16_t>(1000 + s * 50 + p)};
                // Without the rule: the same addresses as the tracker's (not hearsay).
                if (per_ip_rule)
                    list.add(a, PeerList::Source::kPeerExchange,
                             addr("10.9." + std::to_string(s) + ".1", 6000));
                else
                    list.add(a, PeerList::Source::kTracker);
            }
        std::size_t attempts = 0, most_at_once = 0;
        auto now = PeerList::TimePoint{} + 1h;
        for (int step = 0; step < 12000; ++step, now += 10ms) {
            const auto taken = list.take_candidates(50, now);
            most_at_once = std::max(most_at_once, taken.size());
            attempts += taken.size();
            for (const auto& a : taken)
                list.connect_failed(a, now);
        }
        return std::pair{attempts, most_at_once};
    };
    const auto [attempts, at_once] = run(true);
    const auto [unthrottled, unthrottled_at_once] = run(false);
    MESSAGE("dials at the victim's IP in 120 s: ", attempts, " (at most ", at_once,
            " at once); the same candidates from a tracker: ", unthrottled);
    CHECK(at_once <= PeerList::kMaxHearsayDialsPerIp);
    // kHearsayFailuresPerIp free, then one per rest: 0.5, 1, 2, ... 30 s.
    CHECK(attempts <= PeerList::kHearsayFailuresPerIp + 12);
    CHECK(attempts >= PeerList::kHearsayFailuresPerIp);
    CHECK(unthrottled == 2500 * limits::kForgetAfterFailures);  // what the rule prevents
    CHECK(unthrottled_at_once == 50);
}

TEST_CASE("peer list: a connection that succeeds at an IP lifts its hearsay throttle") {
    PeerList list;
    const auto ip = asio::ip::make_address("192.0.2.8");
    for (std::uint16_t p = 1; p <= 20; ++p)
        list.add(PeerAddress{ip, p}, PeerList::Source::kPeerExchange, addr("10.9.9.9"));
    auto now = PeerList::TimePoint{} + 1h;
    while (list.hearsay_failures(ip) < PeerList::kHearsayFailuresPerIp) {
        const auto taken = list.take_candidates(50, now);
        REQUIRE(!taken.empty());
        for (const auto& a : taken)
            list.connect_failed(a, now);
    }
    CHECK(list.take_candidates(50, now).empty());  // resting
    // One peer there is real: it connected to us.
    list.connected(PeerAddress{ip, 7000}, PeerList::Source::kIncoming);
    CHECK(list.hearsay_failures(ip) == 0);
    CHECK(list.take_candidates(50, now).size() == PeerList::kMaxHearsayDialsPerIp);
    // Other machines, and what a tracker lists, were never throttled.
    list.add(addr("10.0.0.1", 1), PeerList::Source::kPeerExchange, addr("10.9.9.9"));
    list.add(PeerAddress{ip, 30000}, PeerList::Source::kTracker);
    CHECK(list.take_candidates(50, now).size() == 2);
}

TEST_CASE("peer list: a peer two gossipers name goes ahead of ports one alone named at its IP") {
    // A hostile gossiper names 50 ports of a machine where one real peer
    // listens (port 6040); an honest peer names that one too. Once the IP's
    // hearsay throttle holds (one dial at a time, resting), the real peer
    // must not wait behind the dead ports in port order.
    PeerList list;
    const auto ip = asio::ip::make_address("192.0.2.9");
    const PeerAddress real{ip, 6040};
    for (std::uint16_t p = 6000; p < 6050; ++p)
        list.add(PeerAddress{ip, p}, PeerList::Source::kPeerExchange, addr("10.9.9.9"));
    auto now = PeerList::TimePoint{} + 1h;
    // The dead ports fail until the throttle holds (the real one not yet named twice).
    while (list.hearsay_failures(ip) < PeerList::kHearsayFailuresPerIp) {
        const auto taken = list.take_candidates(50, now);
        REQUIRE(!taken.empty());
        for (const auto& a : taken) {
            REQUIRE(a != real);
            list.connect_failed(a, now);
        }
    }
    list.add(real, PeerList::Source::kPeerExchange, addr("10.8.8.8"));
    REQUIRE(list.find(real)->corroborated);
    // The next dial the throttle allows at that IP is the real peer.
    std::optional<PeerAddress> next;
    for (int step = 0; step < 1000 && !next; ++step, now += 100ms) {
        const auto taken = list.take_candidates(50, now);
        REQUIRE(taken.size() <= 1);
        if (!taken.empty()) next = taken.front();
    }
    REQUIRE(next);
    CHECK(*next == real);
}

TEST_CASE("peer list: gossip naming this machine's loopback is taken only from a loopback peer") {
    PeerList list;
    CHECK_FALSE(list.add(addr("127.0.0.1", 22), PeerList::Source::kPeerExchange, addr("10.9.9.9")));
    CHECK_FALSE(list.add(addr("::1", 22), PeerList::Source::kPeerExchange, addr("10.9.9.9")));
    CHECK_FALSE(
        list.add(addr("224.0.0.1", 7000), PeerList::Source::kPeerExchange, addr("10.9.9.9")));
    CHECK(list.add(addr("127.0.0.1", 7001), PeerList::Source::kPeerExchange,
                   addr("127.0.0.1", 7002)));
    CHECK(list.add(addr("127.0.0.1", 7003), PeerList::Source::kTracker));
    CHECK(list.size() == 2);
}

TEST_CASE("peer list: a dropped list retracts only what that source alone gossiped, untried") {
    PeerList list;
    const auto gossip = addr("10.9.9.9", 6000);
    const auto other = addr("10.9.9.8", 6000);
    list.add(addr("10.0.0.1"), PeerList::Source::kPeerExchange, gossip);  // its own, untried
    list.add(addr("10.0.0.2"), PeerList::Source::kPeerExchange, other);   // another's
    list.add(addr("10.0.0.3"), PeerList::Source::kPeerExchange, gossip);  // also a tracker's
    list.add(addr("10.0.0.3"), PeerList::Source::kTracker);
    list.add(addr("10.0.0.4"), PeerList::Source::kPeerExchange, gossip);  // failed once
    list.add(addr("10.0.0.5"), PeerList::Source::kPeerExchange, gossip);  // connected
    auto now = PeerList::TimePoint{} + 1h;
    for (const auto& a : list.take_candidates(10, now)) {
        if (a == addr("10.0.0.4"))
            list.connect_failed(a, now);
        else if (a == addr("10.0.0.5"))
            list.connect_succeeded(a);
        else
            list.connect_refused(a);
    }
    // Named by another peer too: the first one cannot retract it.
    list.add(addr("10.0.0.6"), PeerList::Source::kPeerExchange, gossip);
    list.add(addr("10.0.0.6"), PeerList::Source::kPeerExchange, other);
    CHECK_FALSE(list.retract(addr("10.0.0.6"), gossip));
    CHECK(list.retract(addr("10.0.0.1"), gossip));
    CHECK_FALSE(list.retract(addr("10.0.0.2"), gossip));
    CHECK_FALSE(list.retract(addr("10.0.0.3"), gossip));
    CHECK_FALSE(list.retract(addr("10.0.0.4"), gossip));
    CHECK_FALSE(list.retract(addr("10.0.0.5"), gossip));
    CHECK_FALSE(list.retract(addr("10.0.0.9"), gossip));
    CHECK(list.find(addr("10.0.0.1")) == nullptr);
    CHECK(list.size() == 5);
    // Retracting does not give the source back its share of candidates.
    CHECK(list.added_by(gossip) == 5);
}

TEST_CASE("peer list: add, retract and add again never dials a victim more than the forget bound") {
    PeerList list;
    const auto victim = addr("10.5.5.5", 80);
    const auto hostile = addr("10.9.9.9", 6000);
    std::size_t attempts = 0;
    auto now = PeerList::TimePoint{} + 1h;
    for (int i = 0; i < 1000; ++i, now += 1s) {
        list.add(victim, PeerList::Source::kPeerExchange, hostile);
        for (const auto& a : list.take_candidates(10, now)) {
            ++attempts;
            list.connect_failed(a, now);
        }
        list.retract(victim, hostile);
    }
    CHECK(attempts <= limits::kForgetAfterFailures);
}

// --- the gate on peer-exchange messages -------------------------------------------

TEST_CASE("pex gate: a burst, then one per interval") {
    PexGate gate(4, 500ms);
    const auto t = PexGate::Clock::time_point{} + 1h;
    int passed = 0;
    for (int i = 0; i < 100; ++i)
        passed += gate.allow(t) ? 1 : 0;
    CHECK(passed == 4);
    CHECK_FALSE(gate.allow(t + 499ms));
    CHECK(gate.allow(t + 500ms));
    CHECK_FALSE(gate.allow(t + 600ms));
    // 10 s of flooding: the burst refilled at most, plus one per 500 ms.
    passed = 0;
    for (int ms = 0; ms < 10000; ms += 10)
        passed += gate.allow(t + 1s + std::chrono::milliseconds(ms)) ? 1 : 0;
    CHECK(passed <= 4 + 20);
}

// --- the address book -----------------------------------------------------------

TEST_CASE("address book: the file is re-read once a second, however many swarms ask") {
    // Issue 18: each of 3000 swarms starting with no peer asked the book,
    // and each ask read and merged the whole file (over 60% of a
    // subscriber's CPU in perf, files/s falling as the swarms grew).
    RefreshGate gate(1s);
    const auto t = RefreshGate::Clock::time_point{} + 1h;
    std::uint64_t reads = 0;
    for (int i = 0; i < 3000; ++i)
        reads += gate.due(t + std::chrono::microseconds(i * 300)) ? 1 : 0;  // 0.9 s of asks
    CHECK(reads == 1);
    CHECK(gate.due(t + 1s));  // a second later: read again, then quiet again
    CHECK_FALSE(gate.due(t + 1500ms));
    CHECK(gate.due(t + 2s + 1ms));
    CHECK(gate.reads() == 3);
}

TEST_CASE("address book: a full book merged into a full one keeps the most recent keys") {
    // The merge of the file into a full book evicts one key per new key: by
    // the index of newest sightings, the same keys the scan of every key chose.
    const AddressBook::Seconds now = 1'800'000'000;
    const auto key_n = [](std::uint32_t i) {
        SeedId id;
        id.bytes.fill(0);
        id.bytes[0] = static_cast<std::uint8_t>(i);
        id.bytes[1] = static_cast<std::uint8_t>(i >> 8);
        return AddressBook::key(id);
    };
    const std::uint32_t n = limits::kMaxAddressBookKeys;
    AddressBook ours;
    AddressBook file;
    for (std::uint32_t i = 0; i < n; ++i) {
        // Ours: keys 0..n-1, key i seen at now - 2n + 2i (even); the file:
        // keys n/2..n/2+n-1 seen at now - 2n + 2i - n + 1 (odd), so the
        // merged book holds the n most recent of both.
        ours.learn(key_n(i), addr("10.0.0.1"), now - 2 * n + 2 * i);
        file.learn(key_n(n / 2 + i), addr("10.0.0.2"), now - 3 * n + 2 * (n / 2 + i) + 1);
    }
    ours.merge(file);
    CHECK(ours.key_count() == n);
    // Every key kept is seen at least as recently as every key gone.
    AddressBook::Seconds oldest_kept = now;
    AddressBook::Seconds newest_gone = 0;
    for (std::uint32_t i = 0; i < n / 2 + n; ++i) {
        const auto k = key_n(i);
        const AddressBook::Seconds mine = i < n ? now - 2 * n + 2 * i : 0;
        const AddressBook::Seconds theirs =
            i >= n / 2 ? now - 3 * n + 2 * i + 1 : AddressBook::Seconds{0};
        const auto seen = std::max(mine, theirs);
        if (ours.holders(k, now, 2).empty())
            newest_gone = std::max(newest_gone, seen);
        else
            oldest_kept = std::min(oldest_kept, seen);
    }
    CHECK(newest_gone <= oldest_kept);
    // Forgetting and expiring keep the index true: the next key evicted is
    // the least recent one left.
    ours.expire(now + 7 * 24 * 3600 - n);  // drops keys seen before now - n
    ours.learn(key_n(5000), addr("10.0.0.3"), now);
    CHECK(ours.key_count() <= n);
    CHECK_FALSE(ours.holders(key_n(5000), now, 1).empty());
}

TEST_CASE("address book: holders most recent first, expired ones gone") {
    AddressBook book;
    const auto k = AddressBook::key(seed_id(1));
    const AddressBook::Seconds now = 1'800'000'000;
    book.learn(k, addr("10.0.0.1"), now - 100);
    book.learn(k, addr("10.0.0.2"), now - 10);
    book.learn(k, addr("10.0.0.3"), now - 8 * 24 * 3600);  // older than the lifetime
    const auto h = book.holders(k, now, 10);
    REQUIRE(h.size() == 2);
    CHECK(h[0] == addr("10.0.0.2"));
    CHECK(h[1] == addr("10.0.0.1"));
    CHECK(book.holders(AddressBook::key(seed_id(2)), now, 10).empty());
    book.expire(now);
    CHECK(book.entry_count() == 2);
}

TEST_CASE("address book: bounded in keys and in holders per key") {
    AddressBook book;
    AddressBook::Seconds now = 1'800'000'000;
    const auto k = AddressBook::key(seed_id(1));
    for (std::uint32_t i = 0; i < 1000; ++i)
        book.learn(k, PeerAddress{asio::ip::make_address_v4(0x0a000000u + i), 7000}, now + i);
    CHECK(book.entry_count() == limits::kMaxAddressBookHolders);
    // The most recent stay.
    CHECK(book.holders(k, now + 1000, 1).front() ==
          PeerAddress{asio::ip::make_address_v4(0x0a000000u + 999), 7000});
    for (std::uint32_t i = 0; i < limits::kMaxAddressBookKeys + 100; ++i) {
        SeedId id;
        id.bytes.fill(0);
        id.bytes[0] = static_cast<std::uint8_t>(i);
        id.bytes[1] = static_cast<std::uint8_t>(i >> 8);
        book.learn(AddressBook::key(id), addr("10.0.0.1"), now + 2000 + i);
    }
    CHECK(book.key_count() == limits::kMaxAddressBookKeys);
}

TEST_CASE("address book: encode and decode round trip, channels too") {
    AddressBook book;
    const AddressBook::Seconds now = 1'800'000'000;
    ChannelId ch;
    ch.bytes.fill(7);
    book.learn(AddressBook::key(seed_id(1)), addr("10.0.0.1", 7001), now);
    book.learn(AddressBook::key(seed_id(1)), addr("::1", 7002), now - 5);
    book.learn(AddressBook::key(ch), addr("10.0.0.9", 9), now);
    CHECK(book.dirty());
    auto back = AddressBook::decode(book.encode(), now);
    REQUIRE(back);
    CHECK_FALSE(back->dirty());
    CHECK(back->entry_count() == 3);
    CHECK(back->holders(AddressBook::key(seed_id(1)), now, 5) ==
          std::vector<PeerAddress>{addr("10.0.0.1", 7001), addr("::1", 7002)});
    CHECK(back->holders(AddressBook::key(ch), now, 5) ==
          std::vector<PeerAddress>{addr("10.0.0.9", 9)});
}

TEST_CASE("address book: a corrupt or hostile file is refused or cleaned, never trusted") {
    const AddressBook::Seconds now = 1'800'000'000;
    CHECK_FALSE(AddressBook::decode("", now));
    CHECK_FALSE(AddressBook::decode("{\"version\":1,\"keys\":", now));  // torn write
    CHECK_FALSE(AddressBook::decode("[]", now));
    CHECK_FALSE(AddressBook::decode("{\"version\":2,\"keys\":{}}", now));
    CHECK_FALSE(AddressBook::decode(std::string(limits::kMaxAddressBookBytes + 1, ' '), now));
    const std::string k = AddressBook::key(seed_id(1));
    const std::string text = "{\"version\":1,\"keys\":{\"" + k +
                             "\":[[\"10.0.0.1\",7000,1800000000],"
                             "[\"10.0.0.2\",0,1800000000],"                    // port 0
                             "[\"10.0.0.3\",70000,1800000000],"                // port too big
                             "[\"not an ip\",7000,1800000000],"                // not an address
                             "[\"0.0.0.0\",7000,1800000000],"                  // unspecified
                             "[\"10.0.0.4\",7000,1000],"                       // expired
                             "[\"10.0.0.5\",7000,9000000000],"                 // from the future
                             "[\"10.0.0.6\",-1,1800000000],"                   // negative port
                             "\"junk\",[1,2,3],[\"10.0.0.7\",7000]],"          // wrong shapes
                             "\"seed:XYZ\":[[\"10.0.0.8\",7000,1800000000]],"  // bad key
                             "\"other\":5}}";
    auto book = AddressBook::decode(text, now);
    REQUIRE(book);
    CHECK(book->holders(k, now, 100) == std::vector<PeerAddress>{addr("10.0.0.1")});
    CHECK(book->key_count() == 1);
}

TEST_CASE("address book: a file past the bounds is read only up to them") {
    const AddressBook::Seconds now = 1'800'000'000;
    std::string text = "{\"version\":1,\"keys\":{";
    for (std::uint32_t i = 0; i < 2 * limits::kMaxAddressBookKeys; ++i) {
        SeedId id;
        id.bytes.fill(0);
        id.bytes[0] = static_cast<std::uint8_t>(i);
        id.bytes[1] = static_cast<std::uint8_t>(i >> 8);
        if (i > 0) text += ',';
        text += '"';
        text += AddressBook::key(id);
        text += "\":[";
        for (std::uint32_t j = 0; j < (i == 0 ? 200u : 1u); ++j) {
            if (j > 0) text += ',';
            text += fmt::format("[\"10.0.{}.{}\",7000,1800000000]", j / 250, j % 250 + 1);
        }
        text += "]";
    }
    text += "}}";
    auto book = AddressBook::decode(text, now);
    REQUIRE(book);
    CHECK(book->key_count() == limits::kMaxAddressBookKeys);
    CHECK(book->entry_count() ==
          limits::kMaxAddressBookHolders + (limits::kMaxAddressBookKeys - 1));
}

}  // namespace discovery_test
