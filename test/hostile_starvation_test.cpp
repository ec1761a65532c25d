// Hostile peers against a serving peer: connections that ask for whole
// blocks and never read the answers. Each would hold one of the serving
// process's upload buffers while its write blocks (for up to the write
// timeout); about 32 of them (the 32 MiB upload budget in 1 MiB blocks) would
// leave none for a good getter. An upload buffer is held only while the
// remote takes the bytes (PeerConnection::kUploadPatience), so they do not.
#include <doctest/doctest.h>

#include "peer/transfer/download.hpp"
#include "test/support/cluster.hpp"
#include "test/support/hostile.hpp"
#include "test/support/temp_dir.hpp"

namespace hostile_starvation_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace pp = seedshare::peer_proto;

namespace {

constexpr std::uint64_t kFileBytes = 16u << 20;
constexpr std::uint32_t kChunkBytes = 1u << 20;

net::awaitable<bool> handshake(RawPeer& p, const SeedId& seed) {
    const pp::Message hello = pp::Hello{pp::kVersion, seed, random_user_id(), 0};
    co_await p.send_message(hello);
    const auto answer = co_await p.recv_message(5s);
    const auto bitfield = co_await p.recv_message(5s);
    co_return std::holds_alternative<pp::Hello>(answer) &&
        std::holds_alternative<pp::BitfieldMsg>(bitfield);
}

// What the hogs have done so far, for the test to wait on.
struct Hogs {
    int ready = 0;         // handshake done, requests not yet sent
    bool go = false;       // send the requests now (all at once)
    int served = 0;        // the server's first bytes arrived (sent from an upload buffer)
    bool release = false;  // hang up now
};

// Handshakes, waits for the go, asks for `count` whole chunks and never
// reads a byte; notes when the server's answer starts arriving (it is left
// unread in the socket); keeps the connection open until released.
net::awaitable<void> hog(std::uint16_t port, SeedId id, std::uint32_t chunks, int count,
                         Hogs& hogs) {
    auto p = co_await RawPeer::connect(port);
    const bool shook = co_await handshake(p, id);
    CHECK(shook);
    Bytes requests;
    for (int i = 0; i < count; ++i) {
        const Bytes f = pp::encode(pp::Request{
            pp::Block{ChunkIndex{static_cast<std::uint32_t>(i) % chunks}, 0, kChunkBytes}});
        requests.insert(requests.end(), f.begin(), f.end());
    }
    ++hogs.ready;
    auto go = [&] { return hogs.go; };
    if (!co_await wait_for(go, 30000ms)) co_return;
    co_await p.send(requests);
    // Every byte the server sends is sent from one of its upload buffers.
    auto answered = [&] { return p.stream().socket().available() > 0; };
    if (co_await wait_for(answered, 30000ms)) ++hogs.served;
    auto released = [&] { return hogs.release; };
    co_await wait_for(released, 60000ms);
}

}  // namespace

TEST_CASE(
    "hostile peers against a serving peer: connections that never read do not starve a good "
    "getter of upload buffers") {
    raise_descriptor_limit();
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(src / "data.bin", pattern_bytes(kFileBytes, 0x57a4));
    SeedMakerOptions so;
    so.chunk_size = kChunkBytes;
    so.trackers = {tracker.address};
    const auto made = make_seed(src / "data.bin", so);
    REQUIRE(made);
    const Seed seed = *made;

    run_within(io, 90s, [&]() -> net::awaitable<void> {
        SwarmOptions options;
        options.idle_timeout = 30000ms;  // well under the default 120 s
        options.max_connections = 200;
        // Upload slots (a few blocks at a time) would keep the hogs from
        // ever holding every buffer: out of the way, this is about buffers.
        NodeOptions node = node_options(options);
        node.upload_slots = 1000;
        TestPeer server(io, pool, Logger("server", LogLevel::kWarn), node);
        auto file = FileStorage::open_read(src / "data.bin");
        REQUIRE(file);
        const std::shared_ptr<Storage> storage(std::move(*file));
        const auto swarm = co_await server.share(seed, storage, tracker.address);

        // 48 hogs ask at once, 8 whole chunks each: far more than the 32
        // upload buffers (the budget in 1 MiB blocks).
        constexpr int kHogs = 48;
        Hogs hogs;
        for (int i = 0; i < kHogs; ++i)
            net::spawn(io.get_executor(),
                       hog(server.node->port(), seed.id(), seed.chunk_count(), 8, hogs),
                       Logger("test"), "hog");
        // The precondition: every hog asked, and together they really took
        // the upload buffers. Asked all at once, they hold every one of them
        // (a buffer goes back only after a patience period without progress).
        auto all_ready = [&] { return hogs.ready == kHogs; };
        const bool ready = co_await wait_for(all_ready, 20000ms);
        REQUIRE_MESSAGE(ready, hogs.ready << " of " << kHogs << " hogs got through the handshake");
        hogs.go = true;
        const auto& uploads = *server.node->swarm_env().upload_buffers;
        // The pool's high-water mark, not a sample: under a slow build (the
        // sanitizers, the suite in parallel) the moment when every buffer is
        // held can be shorter than the 10 ms between two looks.
        auto all_held = [&] { return uploads.peak_in_use() == uploads.capacity(); };
        const bool held = co_await wait_for(all_held, 20000ms);
        REQUIRE_MESSAGE(held, "the hogs never held all " << uploads.capacity()
                                                         << " upload buffers at once (at most "
                                                         << uploads.peak_in_use() << ")");

        // Each hog got a buffer in turn: its first bytes arrived.
        auto all_served = [&] { return hogs.served == kHogs; };
        const bool served = co_await wait_for(all_served, 20000ms);
        CHECK_MESSAGE(served, hogs.served << " of " << kHogs << " hogs were sent any bytes");

        // They stopped reading: within a few patience periods their buffers
        // are back in the pool, while they stay connected.
        auto returned = [&] { return uploads.in_use() == 0; };
        const bool back = co_await wait_for(returned, 10000ms);
        MESSAGE("upload buffers in use: " << uploads.in_use() << " of " << uploads.capacity());
        CHECK(back);
        CHECK(swarm->connection_count() == kHogs);

        // The good getter is served while every hog is still connected (the
        // server drops them only after its 30 s idle timeout; holding their
        // buffers until then, it would serve the getter only after that). The
        // wait is a safety limit above that timeout; how fast this machine
        // downloads is not judged.
        BackgroundGet get(io, pool, seed, out.path());
        get.start(io);
        const bool ended = co_await get.ended_within(60000ms);
        CHECK_MESSAGE(ended, "the good download did not end");
        CHECK(get.outcome == Download::Outcome::kComplete);
        CHECK_MESSAGE(swarm->connection_count() >= kHogs,
                      "only " << swarm->connection_count()
                              << " connections were left when the download ended");
        CHECK(same_file(out / "data.bin", src / "data.bin"));
        hogs.release = true;
        co_await get.stop(40000ms);
        co_await server.stop();
    });
}

}  // namespace hostile_starvation_test
