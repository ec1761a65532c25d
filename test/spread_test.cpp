#include <doctest/doctest.h>

#include <chrono>

#include "peer/swarm/spread.hpp"
#include "test/support/bits.hpp"

namespace spread_test {

using namespace seedshare;
using seedshare::test::bits;

TEST_CASE("spread: a seed sends only the least spread chunks, one copy of each at a time") {
    using namespace std::chrono_literals;
    const SpreadTracker::TimePoint t0{std::chrono::hours(1)};
    SpreadTracker s(4);
    CHECK(s.min_level() == 0);
    for (std::uint32_t i = 0; i < 4; ++i)
        CHECK(s.worth_sending(ChunkIndex{i}, t0));
    // Peer A holds chunk 0: the others are less spread.
    const auto a = bits("1000");
    s.add_holder(a);
    CHECK_FALSE(s.worth_sending(ChunkIndex{0}, t0));
    CHECK(s.worth_sending(ChunkIndex{1}, t0));
    // Promising chunk 1 to B: two peers asking at once do not both get it.
    s.promise(ChunkIndex{1}, t0);
    CHECK(s.sending(ChunkIndex{1}) == 1);
    CHECK_FALSE(s.worth_sending(ChunkIndex{1}, t0));
    CHECK(s.worth_sending(ChunkIndex{2}, t0));
    s.promise(ChunkIndex{2}, t0);
    s.promise(ChunkIndex{3}, t0);
    // Every chunk is out once, at level 1, but three copies are still being
    // written: a second copy of any of them waits for its first.
    CHECK(s.min_level() == 1);
    CHECK(s.worth_sending(ChunkIndex{0}, t0));  // held by A, being sent to nobody
    for (std::uint32_t i = 1; i < 4; ++i)
        CHECK_FALSE(s.worth_sending(ChunkIndex{i}, t0));
    // The copy of chunk 2 is written 300 ms after it began: its receiver
    // passes it on for as long before the seed sends another.
    s.copy_written(ChunkIndex{2}, t0, t0 + 300ms);
    CHECK(s.level(ChunkIndex{2}) == 1);  // still promised
    CHECK_FALSE(s.worth_sending(ChunkIndex{2}, t0 + 599ms));
    CHECK(s.worth_sending(ChunkIndex{2}, t0 + 600ms));
    // B got chunk 1 (the promise becomes a holding): level stays.
    s.copy_written(ChunkIndex{1}, t0, t0);
    s.unpromise(ChunkIndex{1});
    s.holder_gained(ChunkIndex{1});
    CHECK(s.level(ChunkIndex{1}) == 1);
    // A leaves: chunk 0 is held by nobody, the only one worth sending.
    s.remove_holder(a);
    CHECK(s.min_level() == 0);
    CHECK(s.worth_sending(ChunkIndex{0}, t0));
    CHECK_FALSE(s.worth_sending(ChunkIndex{1}, t0));
}

TEST_CASE("spread: a copy that takes longer than the patience lets the next one begin") {
    using namespace std::chrono_literals;
    const SpreadTracker::TimePoint t0{std::chrono::hours(1)};
    SpreadTracker s(1, 500ms);
    s.promise(ChunkIndex{0}, t0);
    CHECK(s.level(ChunkIndex{0}) == 1);
    CHECK_FALSE(s.worth_sending(ChunkIndex{0}, t0 + 499ms));
    CHECK(s.worth_sending(ChunkIndex{0}, t0 + 500ms));
    // Two slow copies: the patience counts from the latest.
    s.promise(ChunkIndex{0}, t0 + 500ms);
    CHECK(s.sending(ChunkIndex{0}) == 2);
    CHECK_FALSE(s.worth_sending(ChunkIndex{0}, t0 + 999ms));
    // The writer begins the second at 900 ms (it waited its turn): the
    // patience counts from there.
    s.copy_began(ChunkIndex{0}, t0 + 900ms);
    CHECK_FALSE(s.worth_sending(ChunkIndex{0}, t0 + 1399ms));
    CHECK(s.worth_sending(ChunkIndex{0}, t0 + 1400ms));
    // Abandoned copies (cancelled, receiver gone) set no wait; ending more
    // copies than were begun does not wrap.
    s.copy_abandoned(ChunkIndex{0});
    s.copy_abandoned(ChunkIndex{0});
    s.copy_abandoned(ChunkIndex{0});
    CHECK(s.sending(ChunkIndex{0}) == 0);
    CHECK(s.worth_sending(ChunkIndex{0}, t0 + 1000ms));
    s.copy_began(ChunkIndex{0}, t0 + 2s);  // none being sent: ignored
    CHECK(s.worth_sending(ChunkIndex{0}, t0 + 1000ms));
}

TEST_CASE("spread: a chunk nobody holds any more is sent again at once") {
    using namespace std::chrono_literals;
    const SpreadTracker::TimePoint t0{std::chrono::hours(1)};
    SpreadTracker s(1);
    s.promise(ChunkIndex{0}, t0);
    s.copy_written(ChunkIndex{0}, t0, t0 + 2s);
    // Its receiver would pass it on for the patience (1 s), not the 2 s
    // the copy took...
    CHECK_FALSE(s.worth_sending(ChunkIndex{0}, t0 + 2999ms));
    CHECK(s.worth_sending(ChunkIndex{0}, t0 + 3s));
    s.promise(ChunkIndex{0}, t0 + 3s);
    s.copy_written(ChunkIndex{0}, t0 + 3s, t0 + 4s);
    CHECK_FALSE(s.worth_sending(ChunkIndex{0}, t0 + 4500ms));
    // ...but both receivers left before announcing it: nobody has it, no wait.
    s.unpromise(ChunkIndex{0});
    s.unpromise(ChunkIndex{0});
    CHECK(s.worth_sending(ChunkIndex{0}, t0 + 4500ms));
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
    const SpreadTracker::TimePoint t0{std::chrono::hours(1)};
    CHECK(s.worth_sending(ChunkIndex{1}, t0));
    CHECK_FALSE(s.worth_sending(ChunkIndex{0}, t0));
}

}  // namespace spread_test
