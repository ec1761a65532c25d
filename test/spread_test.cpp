#include <doctest/doctest.h>

#include "peer/swarm/spread.hpp"
#include "test/support/bits.hpp"

namespace spread_test {

using namespace seedshare;
using seedshare::test::bits;

TEST_CASE("spread: a seed sends only the least spread chunks") {
    SpreadTracker s(4);
    CHECK(s.min_level() == 0);
    for (std::uint32_t i = 0; i < 4; ++i)
        CHECK(s.worth_sending(ChunkIndex{i}));
    // Peer A holds chunk 0: the others are less spread.
    const auto a = bits("1000");
    s.add_holder(a);
    CHECK_FALSE(s.worth_sending(ChunkIndex{0}));
    CHECK(s.worth_sending(ChunkIndex{1}));
    // Promising chunk 1 to B: two peers asking at once do not both get it.
    s.promise(ChunkIndex{1});
    CHECK_FALSE(s.worth_sending(ChunkIndex{1}));
    CHECK(s.worth_sending(ChunkIndex{2}));
    s.promise(ChunkIndex{2});
    s.promise(ChunkIndex{3});
    // Every chunk is out once: now everything is at level 1, all worth sending again.
    CHECK(s.min_level() == 1);
    for (std::uint32_t i = 0; i < 4; ++i)
        CHECK(s.worth_sending(ChunkIndex{i}));
    // B got chunk 1 (the promise becomes a holding): level stays.
    s.unpromise(ChunkIndex{1});
    s.holder_gained(ChunkIndex{1});
    CHECK(s.level(ChunkIndex{1}) == 1);
    // A leaves: chunk 0 is held by nobody, the only one worth sending.
    s.remove_holder(a);
    CHECK(s.min_level() == 0);
    CHECK(s.worth_sending(ChunkIndex{0}));
    CHECK_FALSE(s.worth_sending(ChunkIndex{1}));
}

TEST_CASE("spread: levels never go below zero and the minimum follows them up and down") {
    SpreadTracker s(3);
    s.unpromise(ChunkIndex{0});  // nothing to undo
    CHECK(s.level(ChunkIndex{0}) == 0);
    const auto all = bits("111");
    s.add_holder(all);
    s.add_holder(all);
    CHECK(s.min_level() == 2);
    s.remove_holder(bits("010"));
    CHECK(s.min_level() == 1);
    CHECK(s.worth_sending(ChunkIndex{1}));
    CHECK_FALSE(s.worth_sending(ChunkIndex{0}));
}

}  // namespace spread_test
