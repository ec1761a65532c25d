#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>

#include "peer/swarm/picker.hpp"
#include "test/support/bits.hpp"

namespace picker_test {

using namespace seedshare;
using seedshare::test::bits;

namespace {

const auto kNone = [](ChunkIndex) { return false; };

}  // namespace

TEST_CASE("picker: only chunks the peer has and we lack") {
    Picker p(bits("1100"), 1);
    const auto theirs = bits("1110");
    p.add_peer(theirs);
    auto c = p.pick(theirs, kNone);
    REQUIRE(c);
    CHECK(c->value == 2);
    CHECK(p.downloaders(*c) == 1);
    // Chunk 2 is being fetched and 3 is nowhere: nothing more for this peer,
    // and not end-game (chunk 3 is still wanted).
    CHECK_FALSE(p.pick(theirs, [&](ChunkIndex x) { return x == *c; }));
    CHECK_FALSE(p.in_end_game());
}

TEST_CASE("picker: rarest first") {
    Picker p(bits("0000"), 7);
    const auto a = bits("1110");
    const auto b = bits("0110");
    const auto s = bits("1111");  // a seed: counted apart
    p.add_peer(a);
    p.add_peer(b);
    p.add_peer(s);
    CHECK(p.availability(ChunkIndex{0}) == 2);
    CHECK(p.availability(ChunkIndex{1}) == 3);
    CHECK(p.availability(ChunkIndex{3}) == 1);
    // From the seed: chunk 3 (held by the seed only) is rarest.
    auto first = p.pick(s, kNone);
    REQUIRE(first);
    CHECK(first->value == 3);
    // Then chunk 0 (2 holders) before 1 and 2 (3 holders).
    auto second = p.pick(s, kNone);
    REQUIRE(second);
    CHECK(second->value == 0);
    auto third = p.pick(s, kNone);
    REQUIRE(third);
    CHECK((third->value == 1 || third->value == 2));
}

TEST_CASE("picker: random among equals, but within a window of low indices") {
    std::set<std::uint32_t> seen;
    for (std::uint64_t seed = 0; seed < 200; ++seed) {
        Picker p(Bitfield(1000), seed);
        const Bitfield all(1000, true);
        p.add_peer(all);
        auto c = p.pick(all, kNone);
        REQUIRE(c);
        CHECK(c->value < Picker::kWindow);
        seen.insert(c->value);
    }
    CHECK(seen.size() == Picker::kWindow);  // every window slot gets chosen
}

TEST_CASE("picker: different pickers diverge on the same file") {
    // Two getters picking from the same seed should not fetch identical
    // sequences: that is what makes them useful to each other.
    Picker a(Bitfield(64), 1);
    Picker b(Bitfield(64), 2);
    const Bitfield all(64, true);
    a.add_peer(all);
    b.add_peer(all);
    int same = 0;
    for (int i = 0; i < 16; ++i)
        same += a.pick(all, kNone)->value == b.pick(all, kNone)->value;
    CHECK(same < 8);
}

TEST_CASE("picker: availability follows peers coming, announcing and going") {
    Picker p(bits("000"), 3);
    auto a = bits("100");
    p.add_peer(a);
    CHECK(p.availability(ChunkIndex{0}) == 1);
    p.peer_gained(a, ChunkIndex{2});
    a.set(ChunkIndex{2});
    CHECK(p.availability(ChunkIndex{2}) == 1);
    // Gaining the last chunk turns it into a seed.
    p.peer_gained(a, ChunkIndex{1});
    a.set(ChunkIndex{1});
    CHECK(p.availability(ChunkIndex{0}) == 1);
    CHECK(p.availability(ChunkIndex{1}) == 1);
    p.remove_peer(a);
    CHECK(p.availability(ChunkIndex{0}) == 0);
    CHECK(p.availability(ChunkIndex{1}) == 0);
    CHECK(p.availability(ChunkIndex{2}) == 0);
}

TEST_CASE("picker: release puts a chunk back, mark_have takes it out for good") {
    Picker p(bits("00"), 5);
    const auto s = bits("11");
    p.add_peer(s);
    auto c1 = p.pick(s, kNone);
    auto c2 = p.pick(s, [&](ChunkIndex x) { return x == *c1; });
    REQUIRE(c1);
    REQUIRE(c2);
    CHECK(c1->value != c2->value);
    CHECK(p.in_end_game());
    p.release(*c1);  // that peer vanished
    CHECK_FALSE(p.in_end_game());
    auto again = p.pick(s, kNone);
    REQUIRE(again);
    CHECK(again->value == c1->value);
    p.mark_have(*c2);
    p.mark_have(*again);
    CHECK(p.complete());
    CHECK_FALSE(p.pick(s, kNone));
    p.release(*c2);  // a late release after verification changes nothing
    CHECK(p.complete());
}

TEST_CASE("picker: end-game hands an in-progress chunk to a second peer, never a third") {
    Picker p(bits("110"), 9);
    const auto a = bits("111");
    const auto b = bits("111");
    const auto c = bits("111");
    p.add_peer(a);
    p.add_peer(b);
    p.add_peer(c);
    auto first = p.pick(a, kNone);
    REQUIRE(first);
    CHECK(first->value == 2);
    CHECK(p.in_end_game());
    // The same peer never gets the chunk it is already fetching.
    CHECK_FALSE(p.pick(a, [&](ChunkIndex x) { return x == *first; }));
    auto dup = p.pick(b, kNone);
    REQUIRE(dup);
    CHECK(dup->value == 2);
    CHECK(p.downloaders(*dup) == 2);
    CHECK_FALSE(p.pick(c, kNone));  // kMaxDownloaders reached
    // One copy verifies: the chunk is done; the other fetch's release is harmless.
    p.mark_have(ChunkIndex{2});
    p.release(ChunkIndex{2});
    p.release(ChunkIndex{2});
    CHECK(p.complete());
}

TEST_CASE("picker: a large file with many partial peers stays consistent") {
    constexpr std::uint32_t kChunks = 4096;
    Picker p(Bitfield(kChunks), 11);
    std::vector<Bitfield> peers;
    std::mt19937 rng(4);
    for (int i = 0; i < 20; ++i) {
        Bitfield b(kChunks);
        for (std::uint32_t c = 0; c < kChunks; ++c)
            if (rng() % 3 == 0) b.set(ChunkIndex{c});
        p.add_peer(b);
        peers.push_back(b);
    }
    // Every chunk some peer holds is eventually picked exactly once before end-game.
    std::set<std::uint32_t> picked;
    for (int round = 0; round < 100000 && !p.in_end_game(); ++round) {
        bool any = false;
        for (auto& b : peers) {
            auto c = p.pick(b, kNone);
            if (!c) continue;
            any = true;
            CHECK(b.test(*c));
            CHECK(picked.insert(c->value).second);
            p.mark_have(*c);
        }
        if (!any) break;
    }
    std::uint32_t held_by_someone = 0;
    for (std::uint32_t c = 0; c < kChunks; ++c) {
        bool any = false;
        for (auto& b : peers)
            any = any || b.test(ChunkIndex{c});
        held_by_someone += any;
    }
    CHECK(picked.size() == held_by_someone);
}

TEST_CASE("picker: a received chunk awaiting verification is not fetched again") {
    Picker p(bits("000"), 13);
    const auto a = bits("111");
    const auto b = bits("111");
    p.add_peer(a);
    p.add_peer(b);
    std::vector<ChunkIndex> got;
    for (int i = 0; i < 3; ++i)
        got.push_back(*p.pick(
            a, [&](ChunkIndex x) { return std::find(got.begin(), got.end(), x) != got.end(); }));
    CHECK(p.in_end_game());
    // Chunk got[0] arrives whole; while it is verified, end-game must not hand
    // it to b (that was a loop of endless duplicates).
    CHECK(p.received(got[0]));
    CHECK(p.verifying(got[0]));
    std::vector<ChunkIndex> b_fetches;
    for (int i = 0; i < 2; ++i) {
        auto d = p.pick(b, [&](ChunkIndex x) {
            return std::find(b_fetches.begin(), b_fetches.end(), x) != b_fetches.end();
        });
        REQUIRE(d);
        CHECK(*d != got[0]);
        b_fetches.push_back(*d);
    }
    // A second copy of a chunk already received is reported as a duplicate.
    auto dup = p.pick(b, kNone);
    CHECK_FALSE(dup);  // got[1] and got[2] already have two downloaders
    p.mark_have(got[0]);
    CHECK_FALSE(p.verifying(got[0]));
    CHECK(p.have().test(got[0]));
}

TEST_CASE("picker: a copy that fails verification makes the chunk wanted again") {
    Picker p(bits("00"), 17);
    const auto s = bits("11");
    p.add_peer(s);
    auto c = p.pick(s, kNone);
    REQUIRE(c);
    CHECK(p.received(*c));
    CHECK_FALSE(p.received(*c));  // a duplicate copy
    p.verify_failed(*c);
    CHECK_FALSE(p.verifying(*c));
    // Wanted again: the next pick (from a fresh peer view) can return it.
    std::set<std::uint32_t> seen;
    for (int i = 0; i < 2; ++i) {
        auto again = p.pick(s, [&](ChunkIndex x) { return seen.contains(x.value); });
        REQUIRE(again);
        seen.insert(again->value);
    }
    CHECK(seen.contains(c->value));
}

TEST_CASE("picker: chunks a peer refused lately are not picked for it, and stay wanted") {
    Picker p(bits("00000000"), 7);
    const auto theirs = bits("11111111");
    p.add_peer(theirs);
    const std::set<std::uint32_t> refused{0, 1, 2, 3, 4, 5};
    const auto refused_here = [&](ChunkIndex x) { return refused.contains(x.value); };
    for (int i = 0; i < 2; ++i) {
        const auto c = p.pick(theirs, refused_here, 8);
        REQUIRE(c);
        CHECK_FALSE(refused.contains(c->value));
    }
    // Only refused chunks are left for this peer: nothing, and no end-game
    // (they are still wanted, from someone else).
    CHECK_FALSE(p.pick(theirs, refused_here, 8));
    CHECK_FALSE(p.in_end_game());
    // Another peer may have them.
    const auto c = p.pick(theirs, kNone, 8);
    REQUIRE(c);
    CHECK(refused.contains(c->value));
}

TEST_CASE("picker: a spared peer counts for rarity but not as another holder") {
    Picker p(bits("0000"), 3);
    const auto backup = bits("1111");
    const auto sharer = bits("1100");
    p.add_peer(backup, true);
    // Only the backup: nobody else holds anything.
    CHECK_FALSE(p.others_hold_all());
    CHECK_FALSE(p.held_by_others(ChunkIndex{0}));
    CHECK(p.availability(ChunkIndex{0}) == 1);
    p.add_peer(sharer);
    CHECK(p.held_by_others(ChunkIndex{0}));
    CHECK(p.held_by_others(ChunkIndex{1}));
    CHECK_FALSE(p.held_by_others(ChunkIndex{2}));
    CHECK(p.availability(ChunkIndex{0}) == 2);
    // What a connection to the backup may pick while it is spared: the chunks
    // only it has.
    std::set<std::uint32_t> picked;
    for (int i = 0; i < 4; ++i)
        if (auto c = p.pick(backup, [&](ChunkIndex x) { return p.held_by_others(x); }))
            picked.insert(c->value);
    CHECK(picked == std::set<std::uint32_t>{2, 3});
    // The sharer completes: it holds everything now.
    p.peer_gained(sharer, ChunkIndex{2});
    CHECK_FALSE(p.others_hold_all());
    p.peer_gained(bits("1110"), ChunkIndex{3});
    CHECK(p.others_hold_all());
    // A role learnt later: removed as spared, added as not.
    Picker q(bits("0000"), 3);
    q.add_peer(bits("0011"), true);
    CHECK_FALSE(q.held_by_others(ChunkIndex{3}));
    q.remove_peer(bits("0011"), true);
    q.add_peer(bits("0011"), false);
    CHECK(q.held_by_others(ChunkIndex{3}));
    q.remove_peer(bits("0011"), false);
    CHECK_FALSE(q.held_by_others(ChunkIndex{3}));
    CHECK(q.availability(ChunkIndex{3}) == 0);
}

TEST_CASE("picker: a spared peer that completes stays spared") {
    Picker p(bits("0000"), 5);
    p.add_peer(bits("1110"), true);
    p.peer_gained(bits("1110"), ChunkIndex{3}, true);
    CHECK_FALSE(p.others_hold_all());
    CHECK_FALSE(p.held_by_others(ChunkIndex{3}));
    CHECK(p.availability(ChunkIndex{3}) == 1);
    p.remove_peer(bits("1111"), true);
    CHECK(p.availability(ChunkIndex{3}) == 0);
}

}  // namespace picker_test
