// Hostile peers against a serving peer: connections that ask for whole
// blocks and never read the answers. Each would hold one of the serving
// process's upload buffers while its write blocks (for up to the write
// timeout); about 32 of them (the 32 MiB upload budget in 1 MiB blocks) would
// leave none for a good getter. An upload buffer is held only while the
// remote takes the bytes (PeerConnection::kUploadPatience), so they do not.
#include <doctest/doctest.h>

#include <array>

#include "peer/swarm/connection.hpp"
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
    int queued = 0;        // more requests sent behind a stalled answer
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

// Asks for one whole chunk and reads nothing; once the server's answer
// has begun to arrive (and, unread, stalls), asks for `more` chunks, which
// wait in the server's queue behind the stalled one; keeps the connection
// open until released.
net::awaitable<void> hog_then_queue(std::uint16_t port, SeedId id, std::uint32_t chunks, int more,
                                    Hogs& hogs) {
    auto p = co_await RawPeer::connect(port);
    const bool shook = co_await handshake(p, id);
    CHECK(shook);
    ++hogs.ready;
    auto go = [&] { return hogs.go; };
    co_await wait_for(go, 60000ms);
    co_await p.send(pp::encode(pp::Request{pp::Block{ChunkIndex{0}, 0, kChunkBytes}}));
    auto answered = [&] { return p.stream().socket().available() > 0; };
    if (!co_await wait_for(answered, 30000ms)) co_return;
    ++hogs.served;
    // Past the server's patience with a remote that does not read.
    asio::steady_timer pause(co_await asio::this_coro::executor, 1000ms);
    co_await pause.async_wait(asio::use_awaitable);
    Bytes requests;
    for (int i = 1; i <= more; ++i) {
        const Bytes f = pp::encode(pp::Request{
            pp::Block{ChunkIndex{static_cast<std::uint32_t>(i) % chunks}, 0, kChunkBytes}});
        requests.insert(requests.end(), f.begin(), f.end());
    }
    co_await p.send(requests);
    ++hogs.queued;
    auto released = [&] { return hogs.release; };
    co_await wait_for(released, 60000ms);
}

// What the remotes of the control-frame case have done so far.
struct Mutes {
    int ready = 0;          // handshake, bitfield and a GetPeers answered
    bool go_first = false;  // the first taker asks now
    bool go_second = false;
    bool go_third = false;
    bool go = false;       // the mutes ask now
    int taken = 0;         // takers whose whole chunk arrived
    int asked = 0;         // mutes whose block was queued, their Rejects not yet sent
    bool refuse = false;   // the mutes send what is refused now
    int full = 0;          // mutes that sent more Rejects than fit on the way to them
    bool release = false;  // hang up now
};

// A connection with a small receive window, so a few KiB of frames it
// does not read fill the way to it.
net::awaitable<RawPeer> connect_small_window(std::uint16_t port) {
    net::tcp::socket s(co_await asio::this_coro::executor);
    s.open(net::tcp::v4());
    s.set_option(net::tcp::socket::receive_buffer_size(4096));
    co_await s.async_connect(net::tcp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port),
                             asio::use_awaitable);
    co_return RawPeer(std::move(s));
}

// Handshakes, says it holds nothing (so the server, a seed with two or more
// partial peers, rations its uploads: one copy of a chunk at a time), and
// waits until the server answered a GetPeers, so it has seen the bitfield.
net::awaitable<bool> join_empty(RawPeer& p, const Seed& seed) {
    const bool shook = co_await handshake(p, seed.id());
    if (!shook) co_return false;
    // (Messages as locals: GCC 12 destroys a temporary in a co_await twice.)
    const pp::Message nothing = pp::BitfieldMsg{Bitfield(seed.chunk_count())};
    co_await p.send_message(nothing);
    const pp::Message ask = pp::GetPeers{};
    co_await p.send_message(ask);
    for (int i = 0; i < 8; ++i) {
        const pp::Message answer = co_await p.recv_message(5s);
        if (std::holds_alternative<pp::PeerList>(answer)) co_return true;
    }
    co_return false;
}

// Asks for chunk c whole, once told to, and reads it (the server's one
// upload slot is its for as long as the upload rate limit makes the block
// take); then stays connected until released.
net::awaitable<void> taker(std::uint16_t port, const Seed& seed, ChunkIndex c, const bool& go,
                           Mutes& m) {
    auto p = co_await RawPeer::connect(port);
    const bool joined = co_await join_empty(p, seed);
    CHECK(joined);
    auto told = [&] { return go; };
    if (!co_await wait_for(told, 30000ms)) co_return;
    const pp::Message whole = pp::Request{pp::Block{c, 0, seed.chunk_length(c)}};
    co_await p.send_message(whole);
    for (int i = 0; i < 8; ++i) {
        const RawPeer::Frame frame = co_await p.recv(30s);
        if (frame.type == static_cast<std::uint8_t>(pp::Type::kPiece)) {
            ++m.taken;
            break;
        }
    }
    auto released = [&] { return m.release; };
    co_await wait_for(released, 90000ms);
}

// Asks for a small block of chunk `own` (queued while another block holds
// the server's one upload slot, so its connection waits in the slot queue),
// then, reading nothing, for chunk `refused` (promised to a taker, so each
// is answered by a Reject, a control frame) in batches, until more Rejects
// were sent than fit in its receive window and what the server may leave
// unsent (PeerConnection::kUnsentBytes): the server's writer is then stuck
// in a control frame. The batches stay small enough that the Rejects
// waiting behind the stuck write stay under the limit of requests queued
// without reading (limits::kMaxQueuedRequests). Stays connected until
// released.
net::awaitable<void> mute(std::uint16_t port, const Seed& seed, ChunkIndex own, ChunkIndex refused,
                          Mutes& m) {
    constexpr std::uint32_t kBlock = 16u << 10;
    constexpr int kBatch = 40;
    auto p = co_await connect_small_window(port);
    const bool joined = co_await join_empty(p, seed);
    CHECK(joined);
    ++m.ready;
    auto go = [&] { return m.go; };
    if (!co_await wait_for(go, 30000ms)) co_return;
    const pp::Message block = pp::Request{pp::Block{own, 0, kBlock}};
    co_await p.send_message(block);
    ++m.asked;
    auto refuse = [&] { return m.refuse; };
    if (!co_await wait_for(refuse, 30000ms)) co_return;
    const pp::Block no{refused, 0, kBlock};
    const std::size_t reject_bytes = pp::encode(pp::Reject{no}).size();
    Bytes batch;
    for (int i = 0; i < kBatch; ++i) {
        const Bytes f = pp::encode(pp::Request{no});
        batch.insert(batch.end(), f.begin(), f.end());
    }
    const std::size_t beyond = PeerConnection::kUnsentBytes + 2 * kBatch * reject_bytes;
    std::size_t answered = 0;  // bytes of Rejects the server was asked for
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (int round = 0; round < 500; ++round) {
        co_await p.send(batch);
        answered += kBatch * reject_bytes;
        pause.expires_after(50ms);
        co_await pause.async_wait(asio::use_awaitable);
        if (answered > p.stream().socket().available() + beyond) {
            ++m.full;
            break;
        }
    }
    auto released = [&] { return m.release; };
    co_await wait_for(released, 90000ms);
}

// A file to serve, its seed, a tracker, and a directory for a good getter.
struct Served {
    explicit Served(std::uint64_t salt, std::uint64_t file_bytes = kFileBytes,
                    std::uint32_t chunk_bytes = kChunkBytes)
        : tracker(io) {
        raise_descriptor_limit();
        write_file(src / "data.bin", pattern_bytes(file_bytes, salt));
        SeedMakerOptions so;
        so.chunk_size = chunk_bytes;
        so.trackers = {tracker.address};
        auto made = make_seed(src / "data.bin", so);
        REQUIRE(made);
        seed = std::move(*made);
    }
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool{2};
    TestTracker tracker;
    Seed seed;
};

// A good getter is served while every hog is still connected (the server
// drops them only at their 30 s deadline; had they held it back, the getter
// would be served only after that). The wait is a safety limit above that
// timeout; how fast this machine downloads is not judged. Then the hogs go.
net::awaitable<void> good_get_while_hogs_stay(Served& f, const Swarm& swarm, int count,
                                              Hogs& hogs) {
    BackgroundGet get(f.io, f.pool, f.seed, f.out.path());
    get.start(f.io);
    const bool ended = co_await get.ended_within(60000ms);
    CHECK_MESSAGE(ended, "the good download did not end");
    CHECK(get.outcome == Download::Outcome::kComplete);
    CHECK_MESSAGE(
        static_cast<int>(swarm.connection_count()) >= count,
        "only " << swarm.connection_count() << " connections were left when the download ended");
    CHECK(same_file(f.out / "data.bin", f.src / "data.bin"));
    hogs.release = true;
    co_await get.stop(40000ms);
}

}  // namespace

TEST_CASE(
    "hostile peers against a serving peer: connections that never read do not starve a good "
    "getter of upload buffers") {
    Served f(0x57a4);
    auto& io = f.io;
    const Seed& seed = f.seed;

    run_within(io, 90s, [&]() -> net::awaitable<void> {
        SwarmOptions options;
        options.idle_timeout = 30000ms;  // well under the default 120 s
        options.max_connections = 200;
        // Upload slots (a few blocks at a time) and the upload queue's bound
        // (new chunks refused beyond a few blocks queued) would keep the
        // hogs from ever holding every buffer: out of the way, this is about
        // buffers.
        options.upload_queue_min_blocks = 1000;
        NodeOptions node = node_options(options);
        node.upload_slots = 1000;
        TestPeer server(io, f.pool, Logger("server", LogLevel::kWarn), node);
        auto file = FileStorage::open_read(f.src / "data.bin");
        REQUIRE(file);
        const std::shared_ptr<Storage> storage(std::move(*file));
        const auto swarm = co_await server.share(seed, storage, f.tracker.address);

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

        co_await good_get_while_hogs_stay(f, *swarm, kHogs, hogs);
        co_await server.stop();
    });
}

TEST_CASE(
    "hostile peers against a serving peer: blocks queued for peers that never read do not close "
    "the upload queue to others") {
    // A peer keeps queued, over all the requesters of a file, about what it
    // sends in a second (UploadBacklog) and refuses new chunks beyond it. A
    // remote that stops reading keeps its queued blocks until its write
    // deadline (the idle timeout, 30 s here): counted, they would refuse
    // every other getter's chunks until then. They are not counted.
    Served f(0x57a5);
    auto& io = f.io;
    const Seed& seed = f.seed;

    run_within(io, 90s, [&]() -> net::awaitable<void> {
        SwarmOptions options;
        options.idle_timeout = 30000ms;
        TestPeer server(io, f.pool, Logger("server", LogLevel::kWarn), node_options(options));
        auto file = FileStorage::open_read(f.src / "data.bin");
        REQUIRE(file);
        const std::shared_ptr<Storage> storage(std::move(*file));
        const auto swarm = co_await server.share(seed, storage, f.tracker.address);

        // 8 hogs each ask for a chunk and do not read it; once it stalls,
        // each asks for 4 more, which wait behind it in the server's queue
        // (more than the queue's floor, 4 blocks of 256 KiB).
        constexpr int kHogs = 8;
        Hogs hogs;
        for (int i = 0; i < kHogs; ++i)
            net::spawn(io.get_executor(),
                       hog_then_queue(server.node->port(), seed.id(), seed.chunk_count(), 4, hogs),
                       Logger("test"), "hog");
        auto all_ready = [&] { return hogs.ready == kHogs; };
        const bool ready = co_await wait_for(all_ready, 20000ms);
        REQUIRE_MESSAGE(ready, hogs.ready << " of " << kHogs << " hogs got through the handshake");
        hogs.go = true;
        // The precondition: every hog's first chunk went out and stalled,
        // and its next requests were sent.
        auto all_queued = [&] { return hogs.queued == kHogs; };
        const bool queued = co_await wait_for(all_queued, 30000ms);
        REQUIRE_MESSAGE(queued, hogs.served << " hogs were sent bytes, " << hogs.queued
                                            << " asked for more, of " << kHogs);

        // Had their queued blocks counted, the getter could start no chunk
        // before the hogs' deadline dropped them.
        co_await good_get_while_hogs_stay(f, *swarm, kHogs, hogs);
        co_await server.stop();
    });
}

TEST_CASE(
    "hostile peers against a serving peer: connections that stop reading our control frames do "
    "not hold an upload slot") {
    // A connection whose blocks wait for an upload slot keeps its place in
    // the slot queue while its writer sends control frames (Rejects, Haves).
    // A remote that stops reading those blocks the writer; had the place
    // been granted meanwhile, the slot would be held until the write
    // deadline (the idle timeout), and a few such remotes would stop every
    // upload of the process until then. After kUploadPatience without
    // progress the place goes back.
    constexpr std::uint32_t kChunk = 512u << 10;
    Served f(0x57a6, 8 * std::uint64_t{kChunk}, kChunk);
    auto& io = f.io;
    const Seed& seed = f.seed;

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        SwarmOptions options;
        options.idle_timeout = 45000ms;
        options.upload_queue_min_blocks = 1000;  // this is about slots, not the queue
        NodeOptions node = node_options(options);
        // One block at a time, and slowly, so blocks wait for the slot: a
        // whole chunk takes about 2 s at this rate.
        node.upload_slots = 1;
        node.max_upload_rate = 256u << 10;
        TestPeer server(io, f.pool, Logger("server", LogLevel::kWarn), node);
        auto file = FileStorage::open_read(f.src / "data.bin");
        REQUIRE(file);
        const std::shared_ptr<Storage> storage(std::move(*file));
        const auto swarm = co_await server.share(seed, storage, f.tracker.address);
        const auto& slots = *server.node->swarm_env().upload_slots;

        constexpr int kMutes = 4;
        Mutes m;
        for (int i = 0; i < kMutes; ++i)
            net::spawn(io.get_executor(),
                       mute(server.node->port(), seed,
                            ChunkIndex{static_cast<std::uint32_t>(3 + i)}, ChunkIndex{0}, m),
                       Logger("test"), "mute");
        auto all_ready = [&] { return m.ready == kMutes; };
        const bool ready = co_await wait_for(all_ready, 20000ms);
        REQUIRE_MESSAGE(ready, m.ready << " of " << kMutes << " mutes joined");

        // Three takers ask for whole chunks 0, 1 and 2: the first holds the
        // slot (1 to 2 s), the others wait for it, then hold it as long.
        const std::array<const bool*, 3> go{&m.go_first, &m.go_second, &m.go_third};
        for (std::uint32_t i = 0; i < go.size(); ++i)
            net::spawn(io.get_executor(),
                       taker(server.node->port(), seed, ChunkIndex{i}, *go[i], m), Logger("test"),
                       "taker");
        m.go_first = true;
        auto first_holds = [&] { return slots.in_use() == 1; };
        REQUIRE(co_await wait_for(first_holds, 20000ms));
        m.go_second = true;
        auto second_waits = [&] { return slots.waiting() == 1; };
        REQUIRE(co_await wait_for(second_waits, 20000ms));
        m.go_third = true;
        auto third_waits = [&] { return slots.waiting() == 2; };
        REQUIRE(co_await wait_for(third_waits, 20000ms));

        // The precondition: every mute's block waits in the slot queue
        // behind the takers' (about 4 s of them).
        m.go = true;
        auto all_waiting = [&] { return slots.waiting() == 2 + kMutes; };
        const bool waiting = co_await wait_for(all_waiting, 20000ms);
        REQUIRE_MESSAGE(waiting, slots.waiting()
                                     << " of " << 2 + kMutes << " blocks wait for an upload slot");
        m.refuse = true;
        auto all_full = [&] { return m.full == kMutes; };
        const bool full = co_await wait_for(all_full, 30000ms);
        REQUIRE_MESSAGE(full, m.full << " of " << kMutes << " mutes filled the way to them");
        // ... while the slot had not come to them (they wait behind the
        // third taker): had it, a mute's block would have gone out and
        // stalled, which gives the slot back without the change under test.
        REQUIRE_MESSAGE(m.taken < 3, "the takers were done before the mutes filled the way");

        // The takers were served; after them, with the mutes still
        // connected, no slot is held and nobody waits for one.
        auto all_taken = [&] { return m.taken == 3; };
        const bool taken = co_await wait_for(all_taken, 30000ms);
        REQUIRE_MESSAGE(taken, m.taken << " of 3 takers got their chunk");
        auto slots_free = [&] { return slots.in_use() == 0 && slots.waiting() == 0; };
        const bool free = co_await wait_for(slots_free, 10000ms);
        CHECK_MESSAGE(free, slots.in_use() << " upload slot held and " << slots.waiting()
                                           << " waiting with only the mutes' blocks queued");
        CHECK(swarm->connection_count() == 3 + kMutes);

        Hogs hogs;
        co_await good_get_while_hogs_stay(f, *swarm, 3 + kMutes, hogs);
        m.release = true;
        co_await server.stop();
    });
}

}  // namespace hostile_starvation_test
