// PeerSession without sockets: messages in, frames and events out, the time
// given. Each case drives one rule of the protocol a connection follows.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "common/core/limits.hpp"
#include "common/wire/frame.hpp"
#include "peer/swarm/peer_session.hpp"
#include "test/support/bits.hpp"

namespace peer_session_test {

using namespace seedshare;
using namespace std::chrono_literals;
using seedshare::test::bits;
namespace pp = peer_proto;

namespace {

constexpr std::uint32_t kChunk = 64u << 10;
constexpr std::uint32_t kBlock = 16u << 10;

Seed seed_of(std::uint32_t chunks) {
    Seed s;
    s.name = "f";
    s.chunk_size = kChunk;
    s.length = std::uint64_t{chunks} * kChunk;
    s.chunk_hashes.resize(chunks);
    return s;
}

// The swarm's side, with the real picker, spread tracker and buffer pool.
struct Host final : SessionHost {
    explicit Host(const std::string& have, std::size_t buffers = 16)
        : seed_(seed_of(static_cast<std::uint32_t>(have.size()))),
          picker_(bits(have), 1),
          spread_(static_cast<std::uint32_t>(have.size())),
          buffers_(BufferPool::create(buffers * kChunk, kChunk)) {
        options_.block_bytes = kBlock;
        options_.pipeline_min_bytes = kBlock;
        options_.pipeline_max_bytes = 4 * kBlock;
    }
    const Seed& seed() const override { return seed_; }
    const SwarmOptions& options() const override { return options_; }
    const Bitfield& have() const override { return picker_.have(); }
    bool holds(ChunkIndex c) const override { return picker_.have().test(c); }
    bool downloading() const override { return !picker_.complete(); }
    Picker& picker() override { return picker_; }
    std::size_t pick_window() const override { return 1; }
    BufferPool& fetch_buffers() override { return *buffers_; }
    SpreadTracker& spread() override { return spread_; }
    bool may_request_more() const override { return budget_left; }
    bool turn_to_backups() override { return turn_to_backup; }
    bool rationing_uploads() const override { return rationing; }

    Seed seed_;
    SwarmOptions options_;
    Picker picker_;
    SpreadTracker spread_;
    std::shared_ptr<BufferPool> buffers_;
    bool budget_left = true;
    bool turn_to_backup = false;
    bool rationing = false;
};

struct Fixture {
    explicit Fixture(const std::string& have, std::size_t buffers = 16)
        : host(have, buffers), session(host, now, [this] { ++wakes; }) {}

    PeerSession::Events get(pp::Message m) { return session.handle(m, now); }

    // The frames queued since the last call, decoded.
    std::vector<pp::Message> sent() {
        const Bytes bytes = session.take_frames();
        std::vector<pp::Message> out;
        std::size_t at = 0;
        while (at < bytes.size()) {
            REQUIRE(bytes.size() - at >= limits::kFrameHeaderBytes);
            const auto h = decode_frame_header(
                ByteSpan(bytes.data() + at, limits::kFrameHeaderBytes), 1u << 24);
            REQUIRE(h);
            at += limits::kFrameHeaderBytes;
            REQUIRE(bytes.size() - at >= h->payload_size());
            auto m = pp::decode(h->type, ByteSpan(bytes.data() + at, h->payload_size()));
            REQUIRE(m);
            out.push_back(*m);
            at += h->payload_size();
        }
        return out;
    }

    template <class T>
    std::vector<T> sent_of() {
        std::vector<T> out;
        for (auto& m : sent())
            if (auto* t = std::get_if<T>(&m)) out.push_back(*t);
        return out;
    }

    // The remote's bitfield arrives and it joins.
    void remote_holds(const std::string& picture, bool spared = false) {
        auto ev = get(pp::BitfieldMsg{bits(picture)});
        REQUIRE_FALSE(ev.violation);
        REQUIRE(ev.bitfield);
        session.join(spared);
    }

    // The remote sends block b whole; returns the chunk if it completed one.
    std::optional<PeerSession::Completed> deliver(const pp::Block& b) {
        auto target = session.begin_piece(b);
        REQUIRE(target);
        REQUIRE_FALSE(target->skip);
        REQUIRE(target->into.size() == b.length);
        return session.end_piece(b, now);
    }

    PeerSession::TimePoint now = std::chrono::steady_clock::time_point(1h);
    Host host;
    int wakes = 0;
    PeerSession session;
};

}  // namespace

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
        std::size_t n = 0;
        const Bytes bytes = s.take_frames();
        for (std::size_t at = 0; at < bytes.size();) {
            const auto h = decode_frame_header(
                ByteSpan(bytes.data() + at, limits::kFrameHeaderBytes), 1u << 24);
            REQUIRE(h);
            at += limits::kFrameHeaderBytes;
            auto m = pp::decode(h->type, ByteSpan(bytes.data() + at, h->payload_size()));
            REQUIRE(m);
            n += std::holds_alternative<pp::Reject>(*m) ? 1 : 0;
            at += h->payload_size();
        }
        return n;
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
