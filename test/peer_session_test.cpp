// PeerSession without sockets: messages in, frames and events out, the time
// given. Each case drives one rule of the protocol a connection follows;
// serving and rationing are in peer_session_serving_test.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "common/core/limits.hpp"
#include "common/wire/frame.hpp"
#include "peer/swarm/peer_session.hpp"
#include "test/support/bits.hpp"
#include "test/support/session_host.hpp"

namespace peer_session_test {

using namespace seedshare;
using namespace seedshare::test::session;
using namespace std::chrono_literals;
using seedshare::test::bits;
namespace pp = peer_proto;

TEST_CASE("session: a wrong bitfield, a Have out of order or out of range are violations") {
    SUBCASE("a bitfield of another size") {
        Fixture f("0000");
        CHECK(f.get(pp::BitfieldMsg{bits("111")}).violation);
    }
    SUBCASE("a second bitfield") {
        Fixture f("0000");
        f.remote_holds("1111");
        CHECK(f.get(pp::BitfieldMsg{bits("1111")}).violation);
    }
    SUBCASE("a Have before the bitfield") {
        Fixture f("0000");
        CHECK(f.get(pp::Have{ChunkIndex{0}}).violation);
    }
    SUBCASE("a Have past the last chunk") {
        Fixture f("0000");
        f.remote_holds("0000");
        CHECK(f.get(pp::Have{ChunkIndex{4}}).violation);
    }
    SUBCASE("a second Hello") {
        Fixture f("0000");
        CHECK(f.get(pp::Hello{}).violation);
    }
}

TEST_CASE("session: asks for what the remote holds, one block at first, more once it is fast") {
    Fixture f("0000");
    f.remote_holds("0110");
    f.session.fill_requests(f.now);
    auto requests = f.sent_of<pp::Request>();
    // Nothing measured yet: one block in flight.
    REQUIRE(requests.size() == 1);
    const auto first = requests[0].block;
    CHECK((first.chunk.value == 1 || first.chunk.value == 2));
    CHECK(first.offset == 0);
    CHECK(first.length == kBlock);
    CHECK(f.session.outstanding_bytes() == kBlock);
    CHECK(f.wakes > 0);

    // It answers 16 KiB in half a second: with a 10 s window the pipeline
    // grows to rate x window, within pipeline_max_bytes.
    f.host.options_.pipeline_window = 10s;
    f.now += 500ms;
    CHECK_FALSE(f.deliver(first));
    f.session.fill_requests(f.now);
    CHECK(f.session.download_rate() > 0);
    CHECK(f.session.pipeline_target() > kBlock);
    CHECK(f.session.pipeline_target() <= f.host.options().pipeline_max_bytes);
    requests = f.sent_of<pp::Request>();
    CHECK(requests.size() > 1);
    std::uint64_t asked = 0;
    for (const auto& r : requests) {
        CHECK(f.host.have().test(r.block.chunk) == false);
        CHECK(bits("0110").test(r.block.chunk));
        asked += r.block.length;
    }
    CHECK(asked == f.session.outstanding_bytes());
    CHECK(f.session.outstanding_bytes() >= f.session.pipeline_target());
    CHECK(f.session.outstanding_bytes() < f.session.pipeline_target() + kBlock);
}

TEST_CASE("session: nothing is asked beyond the swarm's request budget or its buffers") {
    SUBCASE("the budget is spent") {
        Fixture f("0000");
        f.host.budget_left = false;
        f.remote_holds("1111");
        f.session.fill_requests(f.now);
        CHECK(f.sent_of<pp::Request>().empty());
    }
    SUBCASE("no buffer is free") {
        Fixture f("0000", 1);
        auto held = f.host.buffers_->try_acquire(kChunk);
        REQUIRE(held);
        f.remote_holds("1111");
        f.session.fill_requests(f.now);
        CHECK(f.sent_of<pp::Request>().empty());
        CHECK(f.host.picker_.downloaders(ChunkIndex{0}) == 0);  // nothing reserved
    }
}

TEST_CASE("session: a chunk comes back whole once its last block is in") {
    Fixture f("0");
    f.host.options_.pipeline_min_bytes = kChunk;  // the whole chunk at once
    f.remote_holds("1");
    f.session.fill_requests(f.now);
    const auto requests = f.sent_of<pp::Request>();
    REQUIRE(requests.size() == kChunk / kBlock);
    for (std::size_t i = 0; i + 1 < requests.size(); ++i)
        CHECK_FALSE(f.deliver(requests[i].block));
    auto done = f.deliver(requests.back().block);
    REQUIRE(done);
    CHECK(done->chunk.value == 0);
    CHECK(done->data.size() == kChunk);
    CHECK(f.session.fetches() == 0);
    CHECK(f.session.downloaded() == kChunk);
}

TEST_CASE("session: data never asked for is a violation, data crossing our Cancel is skipped") {
    Fixture f("00");
    f.remote_holds("11");
    f.session.fill_requests(f.now);
    const auto r = f.sent_of<pp::Request>().at(0).block;
    CHECK_FALSE(f.session.begin_piece(pp::Block{r.chunk, r.offset + kBlock, kBlock}));
    CHECK_FALSE(f.session.begin_piece(pp::Block{r.chunk, r.offset, kBlock / 2}));

    // Another peer delivered the chunk: we cancel; the block was on its way.
    f.session.cancel_fetch(r.chunk, f.now);
    const auto cancels = f.sent_of<pp::Cancel>();
    REQUIRE(cancels.size() == 1);
    CHECK(cancels[0].block == r);
    CHECK(f.session.outstanding_bytes() == 0);
    auto crossed = f.session.begin_piece(r);
    REQUIRE(crossed);
    CHECK(crossed->skip);
    // Only once: the same block again was never asked for.
    CHECK_FALSE(f.session.begin_piece(r));
}

TEST_CASE("session: a cancel during the read drops the chunk when the read ends") {
    Fixture f("0");
    f.remote_holds("1");
    f.session.fill_requests(f.now);
    const auto r = f.sent_of<pp::Request>().at(0).block;
    auto target = f.session.begin_piece(r);
    REQUIRE(target);
    f.session.cancel_fetch(r.chunk, f.now);  // while the bytes are read
    CHECK(f.session.fetching(r.chunk));      // its buffer stays until the read ends
    CHECK_FALSE(f.session.end_piece(r, f.now));
    CHECK_FALSE(f.session.fetching(r.chunk));
    CHECK(f.host.picker_.downloaders(r.chunk) == 0);
}

TEST_CASE("session: a chunk the remote rejected is not asked of it again for 2 s") {
    Fixture f("00");
    f.remote_holds("10");
    f.session.fill_requests(f.now);
    const auto r = f.sent_of<pp::Request>().at(0).block;
    CHECK(r.chunk.value == 0);
    CHECK_FALSE(f.get(pp::Reject{r}).violation);
    CHECK(f.session.outstanding_bytes() == 0);
    CHECK(f.host.picker_.downloaders(r.chunk) == 0);  // free for other peers
    CHECK(f.sent_of<pp::Request>().empty());
    f.now += PeerSession::kRefusedFor - 1ms;
    f.session.fill_requests(f.now);
    CHECK(f.sent_of<pp::Request>().empty());
    f.now += 1ms;
    f.session.fill_requests(f.now);
    const auto again = f.sent_of<pp::Request>();
    REQUIRE(again.size() == 1);
    CHECK(again[0].block.chunk == r.chunk);
}
TEST_CASE("session: a Goodbye drops chunks not fully asked for, and ends when nothing is owed") {
    Fixture f("000");
    // One chunk and one block of the next in flight.
    f.host.options_.pipeline_min_bytes = f.host.options_.pipeline_max_bytes = kChunk + kBlock;
    f.remote_holds("111");
    f.session.fill_requests(f.now);
    const auto requests = f.sent_of<pp::Request>();
    REQUIRE(requests.size() == kChunk / kBlock + 1);
    const auto whole = requests.front().block.chunk;
    const auto part = requests.back().block.chunk;
    REQUIRE(whole != part);
    auto ev = f.get(pp::Goodbye{});
    CHECK(ev.wake_fetchers);
    CHECK_FALSE(ev.close);  // the whole chunk is still owed
    CHECK(f.session.remote_leaving());
    const auto cancels = f.sent_of<pp::Cancel>();
    REQUIRE(cancels.size() == 1);
    CHECK(cancels[0].block == requests.back().block);
    CHECK(f.host.picker_.downloaders(part) == 0);
    CHECK(f.host.picker_.downloaders(whole) == 1);
    f.session.fill_requests(f.now);
    CHECK(f.sent_of<pp::Request>().empty());  // nothing more asked of a leaving peer
    CHECK_FALSE(f.session.remote_done());
    std::optional<PeerSession::Completed> done;
    for (std::size_t i = 0; i + 1 < requests.size(); ++i)
        done = f.deliver(requests[i].block);
    REQUIRE(done);
    CHECK(done->chunk == whole);
    CHECK(f.session.remote_done());
    // A Goodbye with nothing owed ends the connection at once.
    Fixture g("0");
    g.remote_holds("1");
    CHECK(g.get(pp::Goodbye{}).close);
}

TEST_CASE("session: two complete peers close, a remote's Error closes") {
    Fixture f("11");
    f.remote_holds("10");
    CHECK(f.get(pp::Have{ChunkIndex{1}}).close == "both complete");
    Fixture g("11");
    auto ev = g.get(pp::ErrorMsg{pp::ErrorCode::kProtocol, "bad"});
    CHECK(ev.close);
    CHECK(ev.remote_error == "bad");
}

TEST_CASE("session: peer exchange beyond its rate is ignored, each list bounded") {
    Fixture f("0");
    pp::PeerList list;
    for (std::uint16_t i = 0; i < limits::kPexMaxAdded + 5; ++i)
        list.peers.push_back(PeerAddress{asio::ip::make_address("::ffff:10.0.0.1"),
                                         static_cast<std::uint16_t>(i + 1)});
    list.dropped = list.peers;
    auto ev = f.get(list);
    REQUIRE(ev.heard);
    CHECK(ev.heard->first.size() == limits::kPexMaxAdded);
    CHECK(ev.heard->second.size() == limits::kPexMaxAdded);
    CHECK(ev.heard->first[0].address == asio::ip::make_address("10.0.0.1"));
    for (int i = 0; i < 3; ++i)
        CHECK(f.get(list).heard);  // a burst of 4
    ev = f.get(list);
    CHECK_FALSE(ev.heard);
    CHECK(ev.pex_ignored);
    f.now += 500ms;
    CHECK(f.get(list).heard);
    // GetPeers: two answered at once, then one every 2 s.
    CHECK(f.get(pp::GetPeers{}).peers_asked);
    CHECK(f.get(pp::GetPeers{}).peers_asked);
    CHECK_FALSE(f.get(pp::GetPeers{}).peers_asked);
    f.now += 2s;
    CHECK(f.get(pp::GetPeers{}).peers_asked);
}

TEST_CASE("session: stalled when requests wait longer than stall_timeout") {
    Fixture f("0");
    f.remote_holds("1");
    CHECK_FALSE(f.session.stalled(f.now + 1h));  // nothing asked
    f.session.fill_requests(f.now);
    CHECK_FALSE(f.session.stalled(f.now + f.host.options().stall_timeout));
    CHECK(f.session.stalled(f.now + f.host.options().stall_timeout + 1ms));
}

TEST_CASE("session: a spared backup is asked only for what no other peer holds") {
    Fixture f("00");
    f.host.picker_.add_peer(bits("10"));  // another peer holds chunk 0
    f.remote_holds("11", /*spared=*/true);
    f.host.options_.pipeline_min_bytes = 4 * kChunk;
    f.session.fill_requests(f.now);
    auto requests = f.sent_of<pp::Request>();
    REQUIRE_FALSE(requests.empty());
    for (auto& r : requests)
        CHECK(r.block.chunk.value == 1);
    // The others are slow: the backup may be asked for anything.
    Fixture g("00");
    g.host.picker_.add_peer(bits("11"));  // a complete peer
    g.remote_holds("11", true);
    g.session.fill_requests(g.now);
    CHECK(g.sent_of<pp::Request>().empty());
    g.host.turn_to_backup = true;
    g.session.fill_requests(g.now);
    CHECK_FALSE(g.sent_of<pp::Request>().empty());
}

TEST_CASE("session: teardown gives back every reservation") {
    Fixture f("000");
    f.host.options_.pipeline_min_bytes = 3 * kChunk;
    f.remote_holds("111");
    f.session.fill_requests(f.now);
    CHECK(f.session.fetches() == 3);
    f.session.teardown();
    for (std::uint32_t c = 0; c < 3; ++c)
        CHECK(f.host.picker_.downloaders(ChunkIndex{c}) == 0);
    CHECK(f.host.spread_.level(ChunkIndex{0}) == 0);
}

TEST_CASE("session: a closed session asks, serves and queues nothing") {
    Fixture f("10");
    f.remote_holds("01");
    f.session.close();
    (void)f.sent();
    const int wakes = f.wakes;
    f.session.fill_requests(f.now);
    CHECK(f.session.fetches() == 0);
    f.session.send(pp::KeepAlive{});
    CHECK_FALSE(f.get(pp::Request{pp::Block{ChunkIndex{0}, 0, kBlock}}).violation);
    CHECK_FALSE(f.get(pp::Request{pp::Block{ChunkIndex{1}, 0, kBlock}}).violation);
    CHECK_FALSE(f.session.frames_pending());
    CHECK_FALSE(f.session.uploads_queued());
    CHECK(f.wakes == wakes);
}

}  // namespace peer_session_test
