// Hostile peers against a serving peer: connections that ask for whole
// blocks and never read the answers. Each would hold one of the serving
// process's upload buffers while its write blocks (for up to the write
// timeout); about 32 of them (the 32 MiB upload budget in 1 MiB blocks) would
// leave none for a good getter. An upload buffer is held only while the
// remote takes the bytes (PeerConnection::kUploadPatience), so they do not.
#include <doctest/doctest.h>

#include <thread>

#include "peer/download.hpp"
#include "test/support/cluster.hpp"
#include "test/support/hostile.hpp"
#include "test/support/temp_dir.hpp"

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

// Asks for `count` whole chunks and never reads a byte; keeps the connection
// open until `release` is set.
net::awaitable<void> hog(std::uint16_t port, SeedId id, std::uint32_t chunks, int count,
                         const bool& release) {
    auto p = co_await RawPeer::connect(port);
    const bool shook = co_await handshake(p, id);
    CHECK(shook);
    Bytes requests;
    for (int i = 0; i < count; ++i) {
        const Bytes f = pp::encode(pp::Request{
            pp::Block{ChunkIndex{static_cast<std::uint32_t>(i) % chunks}, 0, kChunkBytes}});
        requests.insert(requests.end(), f.begin(), f.end());
    }
    co_await p.send(requests);
    auto released = [&] { return release; };
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
        TestPeer server(io, pool, "server", options);
        auto file = FileStorage::open_read(src / "data.bin");
        REQUIRE(file);
        const std::shared_ptr<Storage> storage(std::move(*file));
        co_await server.share(seed, storage, tracker.address);

        bool release = false;
        for (int i = 0; i < 48; ++i)
            net::spawn(io.get_executor(),
                       hog(server.node->port(), seed.id(), seed.chunk_count(), 8, release),
                       Logger("test"), "hog");
        // Every hog got its first bytes and stopped reading: within a few
        // patience periods their buffers are back in the pool.
        auto all_started = [&] { return server.node->swarm_env().upload_buffers->in_use() > 0; };
        co_await wait_for(all_started, 10000ms);
        auto returned = [&] { return server.node->swarm_env().upload_buffers->in_use() == 0; };
        const bool back = co_await wait_for(returned, 10000ms);
        MESSAGE("upload buffers in use: " << server.node->swarm_env().upload_buffers->in_use()
                                          << " of "
                                          << server.node->swarm_env().upload_buffers->capacity());
        CHECK(back);

        BackgroundGet get(io, pool, seed, out.path());
        get.start(io);
        const bool in_time = co_await get.ended_within(10000ms);
        CHECK_MESSAGE(in_time, "a 16 MiB download did not finish within 10 s");
        release = true;
        co_await get.stop(40000ms);
        co_await server.stop();
    });
}
