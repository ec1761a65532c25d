// PeerSession serving without sockets: what it serves and refuses, the
// queue's bounds, and a seed's rationing (SpreadTracker) across sessions.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "common/core/limits.hpp"
#include "peer/swarm/peer_session.hpp"
#include "test/support/bits.hpp"
#include "test/support/session_host.hpp"

namespace peer_session_serving_test {

using namespace seedshare;
using namespace seedshare::test::session;
using namespace std::chrono_literals;
using seedshare::test::bits;
namespace pp = peer_proto;

TEST_CASE("session: serves what we hold, rejects what we lack and all after our Goodbye") {
    Fixture f("1100");
    f.remote_holds("0000");
    const pp::Block held{ChunkIndex{0}, 0, kBlock};
    const pp::Block lacked{ChunkIndex{2}, 0, kBlock};
    int wakes = f.wakes;
    CHECK_FALSE(f.get(pp::Request{held}).violation);
    CHECK(f.wakes == wakes + 1);  // the writer has a block to send
    CHECK_FALSE(f.get(pp::Request{lacked}).violation);
    CHECK(f.wakes == wakes + 2);  // and a Reject
    CHECK(f.session.uploads_queued());
    CHECK(f.session.next_upload(f.now) == held);
    CHECK_FALSE(f.session.next_upload(f.now));
    CHECK(f.sent_of<pp::Reject>().at(0).block == lacked);

    f.session.say_goodbye();
    CHECK(f.session.goodbye_sent());
    CHECK_FALSE(f.get(pp::Request{pp::Block{ChunkIndex{1}, 0, kBlock}}).violation);
    CHECK_FALSE(f.session.uploads_queued());
    auto out = f.sent();
    REQUIRE(out.size() == 2);
    CHECK(std::holds_alternative<pp::Goodbye>(out[0]));
    CHECK(std::holds_alternative<pp::Reject>(out[1]));
}

TEST_CASE("session: a request outside the file, or one too many queued, is a violation") {
    Fixture f("10");
    f.remote_holds("00");
    CHECK(f.get(pp::Request{pp::Block{ChunkIndex{0}, kChunk - 10, 20}}).violation);
    CHECK(f.get(pp::Request{pp::Block{ChunkIndex{2}, 0, 20}}).violation);
    // Blocks to serve (chunk 0) and rejects not yet written (chunk 1) count
    // together toward the bound.
    const auto block = [](std::uint32_t chunk, std::size_t i) {
        return pp::Block{ChunkIndex{chunk}, static_cast<std::uint32_t>(i), 1};
    };
    for (std::size_t i = 0; i < limits::kMaxQueuedRequests; ++i)
        REQUIRE_FALSE(f.get(pp::Request{block(static_cast<std::uint32_t>(i % 2), i)}).violation);
    CHECK(f.get(pp::Request{block(0, 0)}).violation);
    // A Cancel takes one back, of either kind.
    CHECK_FALSE(f.get(pp::Cancel{block(1, 3)}).violation);
    CHECK_FALSE(f.get(pp::Request{block(0, 3)}).violation);
    CHECK(f.get(pp::Request{block(0, 5)}).violation);
    CHECK_FALSE(f.get(pp::Cancel{block(0, 4)}).violation);  // a block to serve
    CHECK_FALSE(f.get(pp::Request{block(0, 5)}).violation);
    CHECK(f.get(pp::Request{block(0, 7)}).violation);
    // Written, the rejects no longer count.
    CHECK(f.sent_of<pp::Reject>().size() == limits::kMaxQueuedRequests / 2 - 1);
    CHECK_FALSE(f.get(pp::Request{block(1, 5)}).violation);
}

TEST_CASE("session: a rationing seed serves only the least spread chunks, and what it promised") {
    Fixture f("111");
    f.host.rationing = true;
    f.remote_holds("000");
    // Another partial peer holds chunks 0 and 1: chunk 2 is the least spread.
    f.host.spread_.add_holder(bits("110"));
    const pp::Block c0{ChunkIndex{0}, 0, kBlock};
    const pp::Block c2{ChunkIndex{2}, 0, kBlock};
    CHECK_FALSE(f.get(pp::Request{c0}).violation);
    CHECK_FALSE(f.get(pp::Request{c2}).violation);
    CHECK(f.sent_of<pp::Reject>().at(0).block == c0);
    CHECK(f.session.next_upload(f.now) == c2);
    CHECK(f.host.spread_.level(ChunkIndex{2}) == 1);  // promised to this remote
    // A third peer gets chunk 2: it is now the most spread, yet its other
    // blocks are still served to the remote it was promised to.
    f.host.spread_.add_holder(bits("001"));
    CHECK_FALSE(f.host.spread_.worth_sending(ChunkIndex{2}, f.now));
    CHECK_FALSE(f.get(pp::Request{pp::Block{ChunkIndex{2}, kBlock, kBlock}}).violation);
    CHECK(f.session.next_upload(f.now));
    CHECK(f.sent_of<pp::Reject>().empty());
    // Its Have ends the promise (the level stays: it holds the chunk now);
    // teardown forgets it as a holder.
    CHECK_FALSE(f.get(pp::Have{ChunkIndex{2}}).violation);
    CHECK(f.host.spread_.level(ChunkIndex{2}) == 2);
    f.session.teardown();
    CHECK(f.host.spread_.level(ChunkIndex{2}) == 1);
}

TEST_CASE("session: with the swarm's upload queue full, a new chunk is refused, one begun is not") {
    Fixture f("11");
    f.remote_holds("00");
    const auto block = [](std::uint32_t chunk, std::uint32_t i) {
        return pp::Block{ChunkIndex{chunk}, i * kBlock, kBlock};
    };
    CHECK_FALSE(f.get(pp::Request{block(0, 0)}).violation);
    CHECK(f.session.queued_upload_bytes() == kBlock);
    f.host.upload_room = false;
    // The rest of chunk 0 is served (its requester was accepted for it) ...
    CHECK_FALSE(f.get(pp::Request{block(0, 1)}).violation);
    // ... a new chunk is refused: its requester asks another holder.
    CHECK_FALSE(f.get(pp::Request{block(1, 0)}).violation);
    CHECK(f.sent_of<pp::Reject>().at(0).block == block(1, 0));
    CHECK(f.session.queued_upload_bytes() == 2 * kBlock);
    // The rest of the chunk turned away is refused too, even with room
    // again (its requester gave the chunk up here).
    f.host.upload_room = true;
    CHECK_FALSE(f.get(pp::Request{block(1, 1)}).violation);
    CHECK(f.sent_of<pp::Reject>().at(0).block == block(1, 1));
    f.host.upload_room = false;
    CHECK_FALSE(f.get(pp::Request{block(0, 3)}).violation);  // chunk 0 is begun
    CHECK(f.sent_of<pp::Reject>().empty());
    CHECK(f.session.queued_upload_bytes() == 3 * kBlock);
    CHECK(f.session.next_upload(f.now) == block(0, 0));
    CHECK_FALSE(f.get(pp::Cancel{block(0, 3)}).violation);
    CHECK(f.session.queued_upload_bytes() == kBlock);  // block(0, 1) is left
    // What the swarm counts: queued blocks, less those taken to be written
    // (block(0, 0) above) and those cancelled.
    CHECK_FALSE(f.get(pp::Cancel{block(0, 1)}).violation);
    CHECK(f.session.queued_upload_bytes() == 0);
    // Asked anew from its first block, with room, chunk 1 is served whole.
    f.host.upload_room = true;
    CHECK_FALSE(f.get(pp::Request{block(1, 0)}).violation);
    f.host.upload_room = false;
    CHECK_FALSE(f.get(pp::Request{block(1, 1)}).violation);
    CHECK(f.sent_of<pp::Reject>().empty());
    CHECK(f.session.queued_upload_bytes() == 2 * kBlock);
    // Its last queued block cancelled, chunk 1 is no longer begun: asked
    // again from the middle, it is a new chunk, refused with the queue full.
    CHECK(f.session.next_upload(f.now) == block(1, 0));
    CHECK_FALSE(f.get(pp::Cancel{block(1, 1)}).violation);
    CHECK(f.session.queued_upload_bytes() == 0);
    CHECK_FALSE(f.get(pp::Request{block(1, 2)}).violation);
    CHECK(f.sent_of<pp::Reject>().at(0).block == block(1, 2));
    // (Turned away, its rest is refused even with room, until asked anew.)
    f.host.upload_room = true;
    CHECK_FALSE(f.get(pp::Request{block(1, 2)}).violation);
    CHECK(f.sent_of<pp::Reject>().at(0).block == block(1, 2));
    // Asked anew, it is begun again; its remote's Have ends that too.
    CHECK_FALSE(f.get(pp::Request{block(1, 0)}).violation);
    CHECK_FALSE(f.get(pp::Have{ChunkIndex{1}}).violation);
    f.host.upload_room = false;
    CHECK_FALSE(f.get(pp::Request{block(1, 1)}).violation);
    CHECK_FALSE(f.get(pp::Request{block(0, 1)}).violation);  // chunk 0's cancel ended it
    const auto rejects = f.sent_of<pp::Reject>();
    REQUIRE(rejects.size() == 2);
    CHECK(rejects[0].block == block(1, 1));
    CHECK(rejects[1].block == block(0, 1));
    CHECK(f.session.queued_upload_bytes() == kBlock);
    // A protocol violation empties the queue.
    f.session.fail("test");
    CHECK(f.session.queued_upload_bytes() == 0);
}

TEST_CASE("session: a rationing seed writes one copy of a chunk at a time") {
    // One seed, two remotes lacking both chunks: what A is being sent, B is
    // refused until A's copy is written (and A had as long again to pass it
    // on), A cancels it, or the copy is slow.
    Host host("11");
    host.rationing = true;
    const PeerSession::TimePoint t0 = std::chrono::steady_clock::time_point(1h);
    PeerSession::TimePoint now = t0;
    PeerSession a(host, now, [] {});
    PeerSession b(host, now, [] {});
    for (auto* s : {&a, &b}) {
        pp::Message bf = pp::BitfieldMsg{bits("00")};
        REQUIRE(s->handle(bf, now).bitfield);
        s->join(false);
    }
    const auto ask = [&](PeerSession& s, std::uint32_t chunk, std::uint32_t block) {
        pp::Message m = pp::Request{pp::Block{ChunkIndex{chunk}, block * kBlock, kBlock}};
        REQUIRE_FALSE(s.handle(m, now).violation);
    };
    const auto rejected = [](PeerSession& s) {
        const auto frames = frames_of(s);
        return std::count_if(frames.begin(), frames.end(), [](const pp::Message& m) {
            return std::holds_alternative<pp::Reject>(m);
        });
    };
    // A asks for every block of both chunks: both promised, both at level 1.
    for (std::uint32_t blk = 0; blk < kChunk / kBlock; ++blk) {
        ask(a, 0, blk);
        ask(a, 1, blk);
    }
    CHECK(rejected(a) == 0);
    CHECK(host.spread_.min_level() == 1);
    // B asks for chunk 0, as spread as any: refused while A's copy is written.
    ask(b, 0, 0);
    CHECK(rejected(b) == 1);
    CHECK_FALSE(b.uploads_queued());
    // A's copy of chunk 0 goes out block by block, written from 50 ms to
    // 150 ms; from its last block, A may pass it on for as long (100 ms)
    // before B is sent another (A's Have has not come: the level still
    // counts the promise).
    now += 50ms;
    std::vector<pp::Block> written;
    while (auto blk = a.next_upload(now)) {
        if (blk->chunk.value != 0) continue;  // not written yet
        CHECK(host.spread_.sending(ChunkIndex{0}) == 1);
        if (blk->offset + blk->length == kChunk) now += 100ms;
        a.count_uploaded(*blk, now);
        written.push_back(*blk);
    }
    REQUIRE(written.size() == kChunk / kBlock);
    CHECK(host.spread_.level(ChunkIndex{0}) == 1);
    CHECK(host.spread_.sending(ChunkIndex{0}) == 0);
    ask(b, 0, 0);
    CHECK(rejected(b) == 1);
    now += 100ms;
    ask(b, 0, 0);
    CHECK(rejected(b) == 0);
    CHECK(b.next_upload(now));
    // Chunk 1: A's blocks were taken off the queue above but never written.
    // B is refused; A cancelling (it got the chunk elsewhere) frees it.
    ask(b, 1, 0);
    CHECK(rejected(b) == 1);
    SUBCASE("a cancel of its last queued block ends the promise") {
        // Asked again, then both cancelled before they are written.
        ask(a, 1, 0);
        ask(a, 1, 1);
        pp::Message cancel = pp::Cancel{pp::Block{ChunkIndex{1}, 0, kBlock}};
        REQUIRE_FALSE(a.handle(cancel, now).violation);
        CHECK(host.spread_.sending(ChunkIndex{1}) == 1);  // one block still queued
        cancel = pp::Cancel{pp::Block{ChunkIndex{1}, kBlock, kBlock}};
        REQUIRE_FALSE(a.handle(cancel, now).violation);
        CHECK(host.spread_.sending(ChunkIndex{1}) == 0);
        ask(b, 1, 0);
        CHECK(rejected(b) == 0);
    }
    SUBCASE("a block that cannot be read ends the copy") {
        ask(a, 1, 0);
        const auto blk = a.next_upload(now);
        REQUIRE(blk);
        a.unreadable(*blk);
        CHECK(host.spread_.sending(ChunkIndex{1}) == 0);
        CHECK(rejected(a) == 1);
    }
    SUBCASE("a slow copy lets the next begin after the patience") {
        // Chunk 1 was accepted at 0 and its writing began at 50 ms: the
        // patience counts from there.
        now = t0 + SpreadTracker::kDefaultPatience;
        ask(b, 1, 0);
        CHECK(rejected(b) == 1);
        now = t0 + 50ms + SpreadTracker::kDefaultPatience;
        ask(b, 1, 0);
        CHECK(rejected(b) == 0);
        CHECK(host.spread_.sending(ChunkIndex{1}) == 2);
    }
    bool a_gone = false;
    SUBCASE("the receiver leaving ends the copy") {
        a.teardown();
        a_gone = true;
        CHECK(host.spread_.sending(ChunkIndex{1}) == 0);
        CHECK(host.spread_.level(ChunkIndex{1}) == 0);
        ask(b, 1, 0);
        CHECK(rejected(b) == 0);
    }
    if (!a_gone) a.teardown();
    b.teardown();
    CHECK(host.spread_.level(ChunkIndex{0}) == 0);
    CHECK(host.spread_.level(ChunkIndex{1}) == 0);
    CHECK(host.spread_.sending(ChunkIndex{1}) == 0);
}

}  // namespace peer_session_serving_test
