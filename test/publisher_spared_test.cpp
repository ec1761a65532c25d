// A channel's publisher says in its Hello that its upload is scarce
// (kHelloSpare, docs/PROTOCOL.md "Backup peers"): a getter that can take a
// chunk from another holder does, so each chunk leaves the publisher about
// once and the subscribers pass it on; when the others stop delivering, the
// getter turns to the publisher. In one io_context on 127.0.0.1, no
// tracker: the getter is given its holders.
#include <doctest/doctest.h>

#include "peer/transfer/download.hpp"
#include "test/support/cluster.hpp"
#include "test/support/discovery_support.hpp"
#include "test/support/hostile.hpp"
#include "test/support/temp_dir.hpp"

namespace publisher_spared_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace seedshare::test::discovery;
using namespace std::chrono_literals;
namespace pp = seedshare::peer_proto;

namespace {

constexpr std::size_t kSize = 4u << 20;  // 64 chunks of 64 KiB

// A holder under the test's control: it dials the getter, says it holds
// every chunk, serves its first `serve` requests (one every `pace`, so the
// getter measures a rate), then rejects every request, until the getter
// closes the connection. Its counts are shared with the coroutine, which
// may outlive a test that failed.
struct Refuser {
    std::size_t served = 0;
    std::size_t rejected = 0;
    bool done = false;
};

net::awaitable<void> refuse(std::shared_ptr<Refuser> self, std::uint16_t port, Seed seed,
                            std::string file, std::size_t serve, std::chrono::milliseconds pace) {
    Refuser& st = *self;
    try {
        RawPeer p = co_await RawPeer::connect(port);
        // Messages are named, not temporaries inside co_await (GCC 12
        // destroys such temporaries twice).
        const pp::Message hello = pp::Hello{pp::kVersion, seed.id(), random_user_id(), 0};
        co_await p.send_message(hello);
        Bitfield all(seed.chunk_count());
        for (std::uint32_t c = 0; c < seed.chunk_count(); ++c)
            all.set(ChunkIndex{c});
        const pp::Message bitfield = pp::BitfieldMsg{all};
        co_await p.send_message(bitfield);
        asio::steady_timer timer(co_await asio::this_coro::executor);
        for (int frames = 0; frames < 100000; ++frames) {
            // Long: a getter waiting out our refusals asks again later.
            const auto m = co_await p.recv_message(30s);
            const auto* r = std::get_if<pp::Request>(&m);
            if (r == nullptr) continue;
            if (st.served < serve) {
                timer.expires_after(pace);
                co_await timer.async_wait(asio::use_awaitable);
                const std::uint64_t at =
                    std::uint64_t{r->block.chunk.value} * seed.chunk_size + r->block.offset;
                if (at + r->block.length > file.size()) break;
                const auto* bytes = reinterpret_cast<const std::uint8_t*>(file.data());
                const pp::Message piece = pp::Piece{r->block.chunk, r->block.offset,
                                                    ByteSpan(bytes + at, r->block.length)};
                co_await p.send_message(piece);
                ++st.served;
            } else {
                const pp::Message reject = pp::Reject{r->block};
                co_await p.send_message(reject);
                ++st.rejected;
            }
        }
    } catch (const std::exception&) {
        // The getter closed the connection (done, or it gave up on us).
    }
    st.done = true;
}

}  // namespace

TEST_CASE("publisher spared: a getter takes from another holder what it has, not the publisher") {
    TempDir src, out1, out2;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);
    const Seed seed = make_seeded_file(src, "f.bin", kSize, dead);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        // Both paced to 1 MiB/s: the publisher, alone until the other's
        // bitfield arrives, sends little in that time (its bucket starts
        // empty) even on a loaded machine; unpaced, it once sent 1.4 MiB
        // before the getter knew the other held the file (a CI rehearsal).
        Server publisher(io, pool, 1 << 20, {}, /*spare=*/true);
        Server other(io, pool, 1 << 20);
        publisher.share(seed, src / "f.bin");
        other.share(seed, src / "f.bin");
        // Both complete, both as fast: without the flag the getter takes
        // about half from each (2.1 MiB of 4 in a run with it cleared).
        Get g(io, pool, seed, out1.path(), {dead}, {at(publisher.peer), at(other.peer)});
        g.start(io);
        CHECK(co_await g.ended_within(30s));
        CHECK(g.outcome == Download::Outcome::kComplete);
        CHECK(read_file(out1 / "f.bin") == read_file(src / "f.bin"));
        MESSAGE("the publisher gave " << publisher.uploaded() << " of " << kSize << " bytes");
        CHECK(publisher.uploaded() * 5 < kSize);  // under 20%
        CHECK(other.uploaded() > kSize / 2);
        co_await g.peer.stop();

        // The other holder gone, the publisher serves everything.
        co_await other.peer.stop();
        const auto before = publisher.uploaded();
        Get alone(io, pool, seed, out2.path(), {dead}, {at(publisher.peer)});
        alone.start(io);
        CHECK(co_await alone.ended_within(30s));
        CHECK(alone.outcome == Download::Outcome::kComplete);
        CHECK(read_file(out2 / "f.bin") == read_file(src / "f.bin"));
        CHECK(publisher.uploaded() - before >= kSize);
        co_await alone.peer.stop();
        co_await publisher.peer.stop();
    });
}

TEST_CASE(
    "publisher spared: a holder that delivers, then refuses every request, does not keep the "
    "getter from the publisher") {
    // The refuser holds every chunk, so the publisher is asked for none while
    // it is connected and counted as delivering. It sends 32 blocks at about
    // 1.6 MiB/s (the getter measures that rate), then only Rejects, and never
    // stalls (each Reject is an answer). A rate measured only as blocks come
    // would stay at 1.6 MiB/s: the getter would wait on it for ever, the
    // publisher idle. stall_timeout after its last block (2 s here) it
    // delivers nothing, and the getter turns to the publisher (paced to 1
    // MiB/s). What shows it is the getter completing; the publisher's count
    // follows from that.
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);
    const Seed seed = make_seeded_file(src, "f.bin", kSize, dead);
    const std::string file = read_file(src / "f.bin");
    REQUIRE(fast_swarm().block_bytes == 32 * 1024);
    REQUIRE(fast_swarm().stall_timeout == 2s);

    run_within(io, 90s, [&]() -> net::awaitable<void> {
        Server publisher(io, pool, 1 << 20, {}, /*spare=*/true);
        publisher.share(seed, src / "f.bin");
        Get g(io, pool, seed, out.path(), {dead}, {at(publisher.peer)});
        g.start(io);
        CHECK(co_await eventually(
            [&] { return g.download->swarm() && g.download->swarm()->connection_count() >= 1; },
            10s));
        auto state = std::make_shared<Refuser>();
        const Refuser& refuser = *state;
        net::spawn(io.get_executor(), refuse(state, g.peer.node->port(), seed, file, 32, 20ms),
                   Logger("test"), "refuser");
        CHECK(co_await eventually([&] { return refuser.rejected > 0; }, 20s));
        CHECK(co_await g.ended_within(60s));
        CHECK(g.outcome == Download::Outcome::kComplete);
        CHECK(read_file(out / "f.bin") == file);
        MESSAGE("the refuser served " << refuser.served << " blocks and rejected "
                                      << refuser.rejected << "; the publisher gave "
                                      << publisher.uploaded() << " bytes");
        CHECK(refuser.served == 32);
        CHECK(publisher.uploaded() >= kSize - 32 * 32 * 1024);
        co_await g.peer.stop();  // closes the refuser's connection if still open
        CHECK(co_await eventually([&] { return refuser.done; }, 10s));
        co_await publisher.peer.stop();
    });
}

}  // namespace publisher_spared_test
