#include <doctest/doctest.h>

#include <set>
#include <string>

#include "common/core/limits.hpp"
#include "peer/discovery/peer_list.hpp"

namespace peer_list_test {

using namespace seedshare;
using namespace std::chrono_literals;
using State = PeerList::State;
using Source = PeerList::Source;

namespace {

PeerAddress addr(const std::string& ip, std::uint16_t port = 7000) {
    return PeerAddress{asio::ip::make_address(ip), port};
}

const PeerList::TimePoint t0 = PeerList::TimePoint{} + 1h;

}  // namespace

TEST_CASE("peer list: added addresses are dialled once, in address order") {
    PeerList list;
    CHECK(list.add(addr("10.0.0.2"), Source::kTracker));
    CHECK(list.add(addr("10.0.0.1"), Source::kTracker));
    CHECK_FALSE(list.add(addr("10.0.0.1"), Source::kPeerExchange));  // known already
    CHECK(list.size() == 2);
    const auto first = list.take_candidates(10, t0);
    REQUIRE(first.size() == 2);
    CHECK(first[0] == addr("10.0.0.1"));
    CHECK(first[1] == addr("10.0.0.2"));
    CHECK(list.find(first[0])->state == State::kConnecting);
    // Never the same address twice at once.
    CHECK(list.take_candidates(10, t0 + 1h).empty());
    CHECK(list.count(State::kConnecting) == 2);
}

TEST_CASE("peer list: port 0 and unspecified addresses are ignored") {
    PeerList list;
    CHECK_FALSE(list.add(addr("10.0.0.1", 0), Source::kTracker));
    CHECK_FALSE(list.add(addr("0.0.0.0"), Source::kTracker));
    CHECK_FALSE(list.add(addr("::"), Source::kTracker));
    list.connected(addr("0.0.0.0"), Source::kIncoming);
    CHECK(list.size() == 0);
}

TEST_CASE("peer list: take_candidates hands out at most the limit") {
    PeerList list;
    for (int i = 1; i <= 5; ++i)
        list.add(addr("10.0.0." + std::to_string(i)), Source::kTracker);
    CHECK(list.take_candidates(0, t0).empty());
    CHECK(list.take_candidates(2, t0).size() == 2);
    CHECK(list.take_candidates(2, t0).size() == 2);
    CHECK(list.take_candidates(2, t0).size() == 1);
    CHECK(list.count(State::kIdle) == 0);
}

TEST_CASE("peer list: a failed dial is retried after a doubling backoff") {
    PeerList list;
    const auto a = addr("10.0.0.1");
    list.add(a, Source::kBootstrap);  // named by the user: never forgotten
    auto now = t0;
    for (std::uint32_t n = 0; n < 10; ++n) {
        REQUIRE(list.take_candidates(1, now).size() == 1);
        list.connect_failed(a, now);
        const auto wait = PeerList::backoff(n);
        CHECK(list.find(a)->failures == n + 1);
        CHECK(list.find(a)->state == State::kIdle);
        CHECK(list.take_candidates(1, now + wait - 1ms).empty());
        now += wait;
    }
    CHECK(PeerList::backoff(0) == 500ms);
    CHECK(PeerList::backoff(1) == 1000ms);
    CHECK(PeerList::backoff(5) == 16000ms);
    CHECK(PeerList::backoff(6) == 30000ms);
    CHECK(PeerList::backoff(100) == 30000ms);
}

TEST_CASE("peer list: success clears the failures") {
    PeerList list;
    const auto a = addr("10.0.0.1");
    list.add(a, Source::kTracker);
    list.take_candidates(1, t0);
    list.connect_failed(a, t0);
    list.take_candidates(1, t0 + 1h);
    list.connect_succeeded(a);
    CHECK(list.find(a)->state == State::kConnected);
    CHECK(list.find(a)->failures == 0);
    CHECK(list.take_candidates(1, t0 + 2h).empty());  // connected: not dialled
}

TEST_CASE("peer list: a duplicate counts as connected, a refusal may be retried at once") {
    PeerList list;
    const auto a = addr("10.0.0.1");
    const auto b = addr("10.0.0.2");
    list.add(a, Source::kTracker);
    list.add(b, Source::kTracker);
    list.take_candidates(2, t0);
    list.connected(a, Source::kIncoming);  // its connection to us
    list.connect_duplicate(a, t0);
    list.connect_refused(b);
    CHECK(list.find(a)->state == State::kConnected);
    CHECK(list.find(b)->state == State::kIdle);
    CHECK(list.find(b)->failures == 0);
    const auto again = list.take_candidates(2, t0);
    REQUIRE(again.size() == 1);
    CHECK(again[0] == b);
}

TEST_CASE("peer list: self is never dialled again") {
    PeerList list;
    const auto a = addr("10.0.0.1");
    list.add(a, Source::kTracker);
    list.take_candidates(1, t0);
    list.connect_reached_self(a);
    CHECK(list.find(a)->state == State::kSelf);
    list.disconnected(a, false, t0);
    CHECK(list.find(a)->state == State::kSelf);
    CHECK(list.take_candidates(1, t0 + 24h).empty());
}

TEST_CASE("peer list: goodbye rests the peer, a drop backs off") {
    PeerList list;
    const auto a = addr("10.0.0.1");
    const auto b = addr("10.0.0.2");
    list.connected(a, Source::kIncoming);
    list.connected(b, Source::kIncoming);
    list.disconnected(a, /*goodbye=*/true, t0);
    list.disconnected(b, /*goodbye=*/false, t0);
    CHECK(list.find(a)->failures == 0);
    CHECK(list.find(b)->failures == 1);
    auto ready = list.take_candidates(10, t0 + PeerList::backoff(0));
    REQUIRE(ready.size() == 1);
    CHECK(ready[0] == b);
    CHECK(list.take_candidates(10, t0 + PeerList::kGoodbyeRest - 1ms).empty());
    ready = list.take_candidates(10, t0 + PeerList::kGoodbyeRest);
    REQUIRE(ready.size() == 1);
    CHECK(ready[0] == a);
}

TEST_CASE("peer list: a banned address is never dialled, whatever is reported") {
    PeerList list;
    const auto a = addr("10.0.0.1");
    const auto unknown = addr("10.0.0.9");
    list.connected(a, Source::kIncoming);
    list.ban(a);
    list.ban(unknown);  // never heard of: banned all the same
    for (const auto& x : {a, unknown}) {
        list.disconnected(x, false, t0);
        list.connect_failed(x, t0);
        list.connect_refused(x);
        list.connect_succeeded(x);
        list.connect_duplicate(x, t0);
        list.connect_reached_self(x);
        list.connected(x, Source::kIncoming);
        list.add(x, Source::kPeerExchange);
        CHECK(list.find(x)->state == State::kBanned);
    }
    CHECK(list.take_candidates(10, t0 + 24h).empty());
}

TEST_CASE("peer list: sources are remembered, several per address") {
    PeerList list;
    list.add(addr("10.0.0.1"), Source::kTracker);
    list.add(addr("10.0.0.1"), Source::kPeerExchange);
    list.add(addr("10.0.0.2"), Source::kPeerExchange);
    list.connected(addr("10.0.0.3"), Source::kIncoming);
    CHECK(list.find(addr("10.0.0.1"))->from(Source::kTracker));
    CHECK(list.find(addr("10.0.0.1"))->from(Source::kPeerExchange));
    CHECK_FALSE(list.find(addr("10.0.0.1"))->from(Source::kIncoming));
    CHECK(list.count_from(Source::kTracker) == 1);
    CHECK(list.count_from(Source::kPeerExchange) == 2);
    CHECK(list.count_from(Source::kIncoming) == 1);
}

TEST_CASE("peer list: bounded, the idle entry that failed most makes room") {
    PeerList list(3);
    const auto a = addr("10.0.0.1");
    const auto b = addr("10.0.0.2");
    const auto c = addr("10.0.0.3");
    list.add(a, Source::kTracker);
    list.add(b, Source::kTracker);
    list.add(c, Source::kTracker);
    // Full, nobody failed: the newcomer is not taken.
    CHECK_FALSE(list.add(addr("10.0.0.4"), Source::kTracker));
    list.connected(addr("10.0.0.5"), Source::kIncoming);
    CHECK(list.size() == 3);
    CHECK(list.find(addr("10.0.0.4")) == nullptr);
    // a fails twice, b once: a goes first, then b.
    list.take_candidates(3, t0);
    list.connect_failed(a, t0);
    list.connect_failed(b, t0);
    list.take_candidates(1, t0 + 1h);  // a again
    list.connect_failed(a, t0 + 1h);
    CHECK(list.add(addr("10.0.0.4"), Source::kTracker));
    CHECK(list.find(a) == nullptr);
    CHECK(list.find(b) != nullptr);
    CHECK(list.add(addr("10.0.0.5"), Source::kTracker));
    CHECK(list.find(b) == nullptr);
    CHECK(list.size() == 3);
    // c is connecting (dial in flight), the others untried: nothing to evict.
    CHECK_FALSE(list.add(addr("10.0.0.6"), Source::kTracker));
}

TEST_CASE("peer list: connecting, connected, banned and self entries are never evicted") {
    PeerList list(4);
    const auto connecting = addr("10.0.0.1");
    const auto connected = addr("10.0.0.2");
    const auto banned = addr("10.0.0.3");
    const auto self = addr("10.0.0.4");
    for (const auto& x : {connecting, connected, banned, self})
        list.add(x, Source::kBootstrap);  // never forgotten, however often it fails
    list.take_candidates(4, t0);
    // Each failed many times before reaching its state.
    for (int i = 0; i < 5; ++i) {
        for (const auto& x : {connecting, connected, banned, self})
            list.connect_failed(x, t0);
        list.take_candidates(4, t0 + 24h);
    }
    list.connected(connected, Source::kIncoming);
    list.ban(banned);
    list.connect_reached_self(self);
    CHECK(list.find(connecting)->state == State::kConnecting);
    CHECK_FALSE(list.add(addr("10.0.0.9"), Source::kTracker));
    CHECK(list.size() == 4);
}

TEST_CASE("peer list: a flood from one source stays bounded") {
    PeerList list(100);
    std::size_t added = 0;
    for (int i = 0; i < 10000; ++i)
        added +=
            list.add(addr("10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1)),
                     Source::kPeerExchange);
    CHECK(added == 100);
    CHECK(list.size() == 100);
    // The same victim address many times is one candidate, dialled once.
    PeerList one;
    for (int i = 0; i < 1000; ++i)
        one.add(addr("192.0.2.7"), Source::kPeerExchange);
    CHECK(one.take_candidates(1000, t0).size() == 1);
}

TEST_CASE("peer list: an address stays connected until its last connection ends") {
    // Two peers dial each other at once: our dial and their accepted
    // connection overlap until one is closed as the duplicate. The end of the
    // closed one must not make the peer a candidate while the other is up
    // (it was dialled again, replaced the live connection, and so on).
    PeerList list;
    const auto a = addr("10.0.0.1");
    list.add(a, Source::kTracker);
    REQUIRE(list.take_candidates(1, t0).size() == 1);
    list.connected(a, Source::kIncoming);  // theirs, accepted while ours was dialling
    list.connect_succeeded(a);             // ours
    CHECK(list.find(a)->connections == 2);
    list.disconnected(a, /*goodbye=*/false, t0);  // one of the two closed
    CHECK(list.find(a)->state == State::kConnected);
    CHECK(list.find(a)->failures == 0);
    CHECK(list.take_candidates(1, t0 + 1h).empty());
    list.disconnected(a, /*goodbye=*/false, t0 + 1h);  // the last one
    CHECK(list.find(a)->state == State::kIdle);
    CHECK(list.find(a)->failures == 1);
    CHECK(list.take_candidates(1, t0 + 1h + PeerList::backoff(0)).size() == 1);
}

TEST_CASE("peer list: a duplicate with no connection counted leaves the address a candidate") {
    PeerList list;
    const auto a = addr("10.0.0.1");
    const auto b = addr("10.0.0.2");
    list.add(a, Source::kTracker);
    list.add(b, Source::kTracker);
    REQUIRE(list.take_candidates(2, t0).size() == 2);
    list.connected(a, Source::kIncoming);
    list.connect_duplicate(a, t0);  // reached by the accepted connection
    list.connect_duplicate(b, t0);  // connected under another address of that peer
    CHECK(list.find(a)->state == State::kConnected);
    CHECK(list.find(b)->state == State::kIdle);
    CHECK(list.take_candidates(2, t0 + PeerList::kGoodbyeRest - 1ms).empty());
    CHECK(list.take_candidates(2, t0 + PeerList::kGoodbyeRest).size() == 1);
    list.disconnected(a, /*goodbye=*/true, t0);
    CHECK(list.find(a)->state == State::kIdle);
}

TEST_CASE("peer list: a dial that loses the race to an accepted connection is no failure") {
    // We dial it while it dials us; its connection is accepted first, then
    // our dial fails (it refused it as a duplicate) or is refused by us.
    PeerList list;
    const auto a = addr("10.0.0.1");
    const auto b = addr("10.0.0.2");
    list.add(a, Source::kTracker);
    list.add(b, Source::kTracker);
    REQUIRE(list.take_candidates(2, t0).size() == 2);
    list.connected(a, Source::kIncoming);
    list.connected(b, Source::kIncoming);
    list.connect_failed(a, t0);
    list.connect_refused(b);
    for (const auto& x : {a, b}) {
        CHECK(list.find(x)->state == State::kConnected);
        CHECK(list.find(x)->failures == 0);
    }
    CHECK(list.take_candidates(2, t0 + 1h).empty());
}

TEST_CASE("peer list: a busy peer is retried soon, however often, and never forgotten") {
    PeerList list;
    const auto a = addr("10.0.0.1");
    list.add(a, Source::kTracker);  // learnt: forgotten after kForgetAfterFailures failures
    auto now = t0;
    for (std::uint32_t n = 0; n < 3 * limits::kForgetAfterFailures; ++n) {
        REQUIRE(list.take_candidates(1, now).size() == 1);
        list.connect_busy(a, now);
        const auto wait = PeerList::busy_rest(n);
        CHECK(list.find(a)->state == State::kIdle);
        CHECK(list.find(a)->failures == 0);
        CHECK_FALSE(list.find(a)->forgotten);
        CHECK(list.take_candidates(1, now + wait - 1ms).empty());
        now += wait;
    }
    CHECK(PeerList::busy_rest(0) == 1s);
    CHECK(PeerList::busy_rest(2) == 4s);
    CHECK(PeerList::busy_rest(100) == PeerList::kMaxBusyRest);
    // A connection clears the count: the next busy answer rests 1 s again.
    REQUIRE(list.take_candidates(1, now).size() == 1);
    list.connect_succeeded(a);
    CHECK(list.find(a)->busy == 0);
}

TEST_CASE("peer list: a busy answer while its own connection came up leaves it connected") {
    PeerList list;
    const auto a = addr("10.0.0.1");
    list.add(a, Source::kTracker);
    REQUIRE(list.take_candidates(1, t0).size() == 1);
    list.connected(a, Source::kIncoming);
    list.connect_busy(a, t0);
    CHECK(list.find(a)->state == State::kConnected);
}

}  // namespace peer_list_test
