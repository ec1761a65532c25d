#include <doctest/doctest.h>

#include <string>

#include "common/crypto/sha256.hpp"
#include "peer/channel/version_gossip.hpp"

namespace version_gossip_test {

using namespace seedshare;
using Outcome = VersionGossip::FetchOutcome;

namespace {

// Version n with a body named by `tag` ("a", "b": two different bodies).
VersionRef v(std::uint64_t n, const std::string& tag = "a") {
    return VersionRef{n, sha256(std::string_view(tag + std::to_string(n))), {}};
}

}  // namespace

TEST_CASE("supersedes: higher numbers win, a conflict goes to the lower hash, none loses") {
    CHECK(supersedes(v(2), v(1)));
    CHECK_FALSE(supersedes(v(1), v(2)));
    CHECK_FALSE(supersedes(v(3), v(3)));
    CHECK(supersedes(v(1), VersionRef{}));
    CHECK_FALSE(supersedes(VersionRef{}, v(1)));
    const auto a = v(5, "a"), b = v(5, "b");
    // Exactly one of two conflicting bodies wins, whichever side looks.
    CHECK(supersedes(a, b) != supersedes(b, a));
    CHECK(supersedes(a, b) == (a.body_hash < b.body_hash));
}

// Version n on the hand-over chain whose ids are named by `ids`.
VersionRef on_chain(std::uint64_t n, const std::vector<std::string>& ids) {
    VersionRef r = v(n, ids.back());
    for (const auto& id : ids)
        r.chain.push_back(sha256(std::string_view("chain " + id)));
    return r;
}

TEST_CASE("supersedes: hand-overs and forks are decided from the references alone") {
    // A hand-over voids the old key's higher numbers: a peer holding the old
    // key's version 3 fetches the new key's version 2 when a peer announces
    // it (no tracker needed), and never the old key's again.
    const auto old3 = v(3), new2 = on_chain(2, {"x"});
    CHECK(supersedes(new2, old3));
    CHECK_FALSE(supersedes(old3, new2));
    CHECK_FALSE(supersedes(v(9), new2));
    CHECK(supersedes(on_chain(3, {"x"}), new2));
    CHECK(supersedes(on_chain(1, {"x", "z"}), new2));
    CHECK_FALSE(supersedes(new2, on_chain(1, {"x", "z"})));
    // A fork: the same winner whichever is held, whatever the numbers, and
    // whatever the losing branch does after the split.
    const auto x5 = on_chain(5, {"x"}), y2 = on_chain(2, {"y"});
    CHECK(supersedes(x5, y2) != supersedes(y2, x5));
    CHECK(supersedes(x5, y2) == (x5.chain[0] < y2.chain[0]));
    const bool x_wins = supersedes(x5, y2);
    const auto& winner = x_wins ? x5 : y2;
    const auto loser_later = on_chain(9, {x_wins ? "y" : "x", "z"});
    CHECK_FALSE(supersedes(loser_later, winner));
    CHECK(supersedes(winner, loser_later));
    VersionGossip g(old3);
    g.peer_joined(1, v(4));
    g.peer_joined(2, new2);
    auto f = g.next_fetch();
    REQUIRE(f);
    CHECK(*f == std::pair<VersionGossip::PeerKey, VersionRef>{2, new2});
}

TEST_CASE("gossip: a newer version held by a peer is fetched from it, then passed on") {
    VersionGossip g(v(1));
    g.peer_joined(10, v(1));
    g.peer_joined(11, v(3));
    g.peer_joined(12, VersionRef{});
    auto f = g.next_fetch();
    REQUIRE(f);
    CHECK(f->first == 11);
    CHECK(f->second == v(3));
    CHECK_FALSE(g.next_fetch());            // one at a time
    CHECK(g.take_announcements().empty());  // nothing new held yet
    g.fetch_done(11, v(3), Outcome::kAccepted);
    CHECK(g.held() == v(3));
    // Told once: the two that do not hold it, not the one it came from.
    CHECK(g.take_announcements() == std::vector<VersionGossip::PeerKey>{10, 12});
    CHECK(g.take_announcements().empty());
    CHECK_FALSE(g.next_fetch());
}

TEST_CASE("gossip: the best version wins, a failed holder is not asked again, another is") {
    VersionGossip g(v(1));
    g.peer_joined(1, v(2));
    g.peer_joined(2, v(4));
    g.peer_joined(3, v(4));
    auto f = g.next_fetch();
    REQUIRE(f);
    CHECK(*f == std::pair<VersionGossip::PeerKey, VersionRef>{2, v(4)});
    g.fetch_done(2, v(4), Outcome::kFailed);
    f = g.next_fetch();
    REQUIRE(f);
    CHECK(*f == std::pair<VersionGossip::PeerKey, VersionRef>{3, v(4)});
    g.fetch_done(3, v(4), Outcome::kForged);
    // Both holders of 4 failed it: the next best, from its holder.
    f = g.next_fetch();
    REQUIRE(f);
    CHECK(*f == std::pair<VersionGossip::PeerKey, VersionRef>{1, v(2)});
}

TEST_CASE("gossip: never back: an older or equal version is neither fetched nor held") {
    VersionGossip g(v(5));
    g.peer_joined(1, v(4));
    g.peer_joined(2, v(5));
    CHECK_FALSE(g.next_fetch());
    CHECK_FALSE(g.hold(v(4)));
    CHECK_FALSE(g.hold(v(5)));
    CHECK(g.held() == v(5));
    // Announced later, a newer one is fetched.
    g.peer_announced(1, v(6));
    auto f = g.next_fetch();
    REQUIRE(f);
    CHECK(f->first == 1);
    // We published 7 meanwhile: the answer for 6 is stale, not held.
    CHECK(g.hold(v(7)));
    g.fetch_done(1, v(6), Outcome::kStale);
    CHECK(g.held() == v(7));
    CHECK_FALSE(g.next_fetch());
    CHECK(g.take_announcements() == std::vector<VersionGossip::PeerKey>{1, 2});
}

TEST_CASE("gossip: a conflict at the same number converges on the lower hash") {
    const auto a = v(5, "a"), b = v(5, "b");
    const auto winner = supersedes(a, b) ? a : b;
    const auto loser = winner == a ? b : a;
    VersionGossip holds_loser(loser);
    holds_loser.peer_joined(1, winner);
    auto f = holds_loser.next_fetch();
    REQUIRE(f);
    CHECK(f->second == winner);
    VersionGossip holds_winner(winner);
    holds_winner.peer_joined(1, loser);
    CHECK_FALSE(holds_winner.next_fetch());
    // Its greeting told the loser's holder already; no second word.
    CHECK(holds_winner.take_announcements().empty());
}

TEST_CASE("gossip: a peer leaving mid-fetch frees the fetch, its failures are forgotten") {
    VersionGossip g(VersionRef{});
    g.peer_joined(1, v(2));
    g.peer_joined(2, v(2));
    REQUIRE(g.next_fetch());
    g.peer_left(1);
    CHECK_FALSE(g.fetching());
    auto f = g.next_fetch();
    REQUIRE(f);
    CHECK(f->first == 2);
    // A late answer for the fetch of a peer that left changes nothing.
    g.fetch_done(1, v(2), Outcome::kFailed);
    CHECK(g.fetching());
    // Nothing to tell while nothing is held.
    CHECK(g.take_announcements().empty());
    CHECK(g.version_of(2) == v(2));
    CHECK_FALSE(g.version_of(1));
}

TEST_CASE("gossip: a peer whose announced versions keep failing is not asked again") {
    // A liar announces a newer version each time its last one failed; an
    // honest peer holds version 4. After kMaxFailuresPerPeer failures the
    // liar is asked nothing more, and the honest holder is.
    VersionGossip g(v(1));
    g.peer_joined(1, v(100));
    g.peer_joined(2, v(4));
    for (int i = 0; i < VersionGossip::kMaxFailuresPerPeer; ++i) {
        auto f = g.next_fetch();
        REQUIRE(f);
        CHECK(f->first == 1);
        g.fetch_done(f->first, f->second, Outcome::kFailed);
        g.peer_announced(1, v(101 + static_cast<std::uint64_t>(i)));
    }
    auto f = g.next_fetch();
    REQUIRE(f);
    CHECK(*f == std::pair<VersionGossip::PeerKey, VersionRef>{2, v(4)});
}

}  // namespace version_gossip_test
