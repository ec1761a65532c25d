// dial_target and DialPlan: how many sources a swarm dials for, by the size
// of its file (few for a file of few chunks: each connection costs a
// handshake, a bitfield, a Have per chunk and a teardown, and more of them
// cannot carry more of its chunks at once; the full limit for large files),
// and which of its connections count as sources.
#include <doctest/doctest.h>

#include "common/model/bitfield.hpp"
#include "common/model/seed.hpp"
#include "peer/swarm/swarm_options.hpp"

namespace dial_plan_test {

using namespace seedshare;

TEST_CASE("dial target: half the chunks, at least the floor, at most the swarm's limit") {
    const std::size_t limit = SwarmOptions{}.max_connections;
    // A one-chunk file, and files up to twice the floor: the floor.
    CHECK(dial_target(limit, 1) == kMinDialTarget);
    CHECK(dial_target(limit, 2 * kMinDialTarget) == kMinDialTarget);
    // Beyond it, one peer per two chunks.
    CHECK(dial_target(limit, 2 * kMinDialTarget + 2) == kMinDialTarget + 1);
    CHECK(dial_target(limit, 60) == 30);
    // Large files: the swarm's limit, whatever it is.
    CHECK(dial_target(limit, 2 * static_cast<std::uint32_t>(limit)) == limit);
    CHECK(dial_target(limit, limits::kMaxChunkCount) == limit);
    CHECK(dial_target(3, 1000) == 3);
    CHECK(dial_target(3, 1) == 3);  // the limit wins over the floor
}

TEST_CASE("dial target: the sizes a channel's files have") {
    const std::size_t limit = SwarmOptions{}.max_connections;
    const auto chunks = [](std::uint64_t bytes) {
        return static_cast<std::uint32_t>(chunk_count_for(bytes, default_chunk_size(bytes)));
    };
    // 4 MiB in 16 chunks of 256 KiB (the channel benchmark's files): 8 peers.
    CHECK(dial_target(limit, chunks(4ull << 20)) == 8);
    // 16 MiB, 64 chunks: 32 peers.
    CHECK(dial_target(limit, chunks(16ull << 20)) == 32);
    // 256 MiB (1024 chunks) and 1 GiB: as before, the swarm's limit.
    CHECK(dial_target(limit, chunks(256ull << 20)) == limit);
    CHECK(dial_target(limit, chunks(1ull << 30)) == limit);
}

TEST_CASE("bitfield: holds a chunk the other lacks") {
    Bitfield ours(20);
    Bitfield theirs(20);
    CHECK_FALSE(theirs.has_any_not_in(ours));  // both empty
    ours.set(ChunkIndex{3});
    CHECK_FALSE(theirs.has_any_not_in(ours));
    CHECK(ours.has_any_not_in(theirs));
    theirs.set(ChunkIndex{3});
    CHECK_FALSE(theirs.has_any_not_in(ours));  // the same chunk
    theirs.set(ChunkIndex{19});                // in the last, partial byte
    CHECK(theirs.has_any_not_in(ours));
    ours.fill();
    CHECK_FALSE(theirs.has_any_not_in(ours));
    CHECK_FALSE(Bitfield(21, true).has_any_not_in(ours));  // another file's: never
}

TEST_CASE("dial plan: which connections are sources") {
    using Conn = DialPlan::Conn;
    // Before its bitfield it may hold anything.
    CHECK(DialPlan::source(Conn{}));
    CHECK(DialPlan::source(Conn{.young = true}));
    // Blocks come from it.
    CHECK(DialPlan::source(Conn{.bitfield_known = true, .received_lately = true}));
    // Just connected, it holds a chunk we lack: on trust, for the grace.
    CHECK(DialPlan::source(Conn{.bitfield_known = true, .holds_missing = true, .young = true}));
    // ... then only while it delivers: a holder that is busy, refuses, or is
    // a spared backup does not keep the swarm from dialling others.
    CHECK_FALSE(DialPlan::source(Conn{.bitfield_known = true, .holds_missing = true}));
    // A peer with nothing at all, just connected: a getter starting with us.
    CHECK(DialPlan::source(Conn{.bitfield_known = true, .holds_none = true, .young = true}));
    CHECK_FALSE(DialPlan::source(Conn{.bitfield_known = true, .holds_none = true}));
    // A peer as far along as we are (chunks, none we lack): no source, even
    // just connected (a channel's changed file: every subscriber holds the
    // unchanged chunks and waits for the new ones).
    CHECK_FALSE(DialPlan::source(Conn{.bitfield_known = true, .young = true}));
    // Feeding it does not make it one: it gets what we have.
    CHECK_FALSE(DialPlan::source(Conn{.bitfield_known = true, .fed_lately = true}));
}

TEST_CASE("dial plan: what may give its room to another peer") {
    using Conn = DialPlan::Conn;
    // Quiet, past its grace, nothing we lack: yes.
    CHECK(DialPlan::swappable(Conn{.bitfield_known = true}));
    CHECK(DialPlan::swappable(Conn{.bitfield_known = true, .holds_missing = true}));
    // Not a source, but we feed it: it needs us.
    CHECK_FALSE(DialPlan::swappable(Conn{.bitfield_known = true, .fed_lately = true}));
    // A holder slower than one block per grace, with our request under way
    // and a block from it within stall_timeout: no source (the swarm dials
    // on), but still delivering: kept.
    CHECK_FALSE(
        DialPlan::source(Conn{.bitfield_known = true, .holds_missing = true, .awaited = true}));
    CHECK_FALSE(
        DialPlan::swappable(Conn{.bitfield_known = true, .holds_missing = true, .awaited = true}));
    // A spared holder (a backup, a publisher) is quiet by design, and the
    // swarm's fallback: kept.
    CHECK_FALSE(DialPlan::swappable(
        Conn{.bitfield_known = true, .holds_missing = true, .spared_holder = true}));
    // Not within its grace, nor any source.
    CHECK_FALSE(DialPlan::swappable(Conn{.bitfield_known = true, .young = true}));
    CHECK_FALSE(DialPlan::swappable(Conn{}));
    CHECK_FALSE(DialPlan::swappable(Conn{.bitfield_known = true, .received_lately = true}));
}

TEST_CASE("dial plan: a swap only at the limit with no source at all") {
    CHECK(DialPlan::swap(50, 50, 0));
    CHECK(DialPlan::swap(8, 9, 0));  // accepted ones took it past the limit
    // A source left, however few: the swarm is getting data; no churn
    // (a large swarm on slow links has most connections quiet at a time).
    CHECK_FALSE(DialPlan::swap(50, 50, 1));
    // Room left: it dials instead.
    CHECK_FALSE(DialPlan::swap(50, 49, 0));
}

TEST_CASE("dial plan: dial until the target of sources, within the room") {
    // Nothing open: the target.
    CHECK(DialPlan::dials(8, 50, 0, 0) == 8);
    // Eight sources already: none.
    CHECK(DialPlan::dials(8, 50, 8, 8) == 0);
    CHECK(DialPlan::dials(8, 50, 12, 9) == 0);
    // Eight open, two of them sources: six more, the six kept open.
    CHECK(DialPlan::dials(8, 50, 8, 2) == 6);
    // ... but never past the room left.
    CHECK(DialPlan::dials(8, 50, 47, 2) == 3);
    CHECK(DialPlan::dials(8, 50, 50, 0) == 0);
    CHECK(DialPlan::dials(8, 50, 60, 0) == 0);  // more than the room (accepted ones)
    // A large file's target is the limit itself: as before, dial to it.
    CHECK(DialPlan::dials(50, 50, 10, 10) == 40);
}

}  // namespace dial_plan_test
