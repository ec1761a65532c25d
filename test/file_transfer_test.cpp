// FileTransfer on its own: one file's part in its swarm, shared or fetched,
// against a real tracker and peers in one io_context.
#include <doctest/doctest.h>

#include <filesystem>

#include "peer/transfer/file_transfer.hpp"
#include "test/support/cluster.hpp"
#include "test/support/seeded_files.hpp"
#include "test/support/temp_dir.hpp"

namespace file_transfer_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

// The tracker's summary of `id`: holders and complete holders (live only).
struct Held {
    std::uint32_t holders = 0;
    std::uint32_t complete = 0;
};
Held held(TestTracker& t, const SeedId& id) {
    for (const auto& f : t.store->list_files(std::nullopt, 1000).files)
        if (f.id == id) return Held{f.holders, f.complete_holders};
    return {};
}

// A fetch of `seed` into `out`/NAME.part, not started.
std::unique_ptr<FileTransfer> fetch_into(TestPeer& peer, const Seed& seed, const fs::path& out) {
    auto opened = PartFile::open(out / (seed.name + ".part"), seed, false);
    REQUIRE(std::holds_alternative<PartFile>(opened));
    PartFile& part = std::get<PartFile>(opened);
    REQUIRE(part.found() == PartFile::Found::kCreated);
    std::shared_ptr<Storage> storage = part.storage();
    return FileTransfer::fetch(*peer.node, *peer.trackers, seed.trackers, seed, std::move(part),
                               std::move(storage), Bitfield(seed.chunk_count()), peer.log);
}

}  // namespace

TEST_CASE("file transfer: a shared file is in the Node, announced complete, and leaves") {
    TempDir src;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_seeded_file(src, "data.bin", 300'000, tracker.address);

    run_within(io, 20s, [&]() -> net::awaitable<void> {
        TestPeer peer(io, pool, "sharer", quick_swarm());
        const std::vector<HostPort> where{tracker.address};
        const auto unreachable = co_await peer.trackers->connect(where);
        CHECK(unreachable.empty());
        auto transfer = FileTransfer::share(*peer.node, *peer.trackers, where, seed,
                                            open_shared(src / "data.bin"), peer.log);
        CHECK(transfer->part() == nullptr);
        CHECK(transfer->have().all());
        CHECK(peer.node->find(seed.id()) == nullptr);  // not before start()
        transfer->start();
        CHECK(peer.node->find(seed.id()) == transfer->swarm());
        CHECK(transfer->complete());
        const bool announced = co_await eventually(
            [&] {
                const auto h = held(tracker, seed.id());
                return h.holders == 1 && h.complete == 1;
            },
            5s);
        CHECK(announced);

        co_await transfer->leave(200ms);
        CHECK(peer.node->find(seed.id()) == nullptr);
        const bool dropped =
            co_await eventually([&] { return held(tracker, seed.id()).holders == 0; }, 5s);
        CHECK(dropped);
        co_await peer.stop();
    });
}

TEST_CASE("file transfer: a fetch completes, is put in place, then announced complete") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_seeded_file(src, "data.bin", 1 << 20, tracker.address);

    run_within(io, 30s, [&]() -> net::awaitable<void> {
        TestPeer server(io, pool, "server", quick_swarm());
        co_await server.share(seed, open_shared(src / "data.bin"), tracker.address);
        TestPeer getter(io, pool, "getter", quick_swarm());
        const auto unreachable = co_await getter.trackers->connect(seed.trackers);
        CHECK(unreachable.empty());

        auto transfer = fetch_into(getter, seed, out.path());
        REQUIRE(transfer->part() != nullptr);
        CHECK(transfer->have().count() == 0);
        transfer->start();
        co_await transfer->wait_done();
        REQUIRE(transfer->complete());
        CHECK(transfer->have().all());

        // Every chunk verified, not yet in place: the tracker knows a partial
        // holder, not a complete one.
        const fs::path target = out / seed.name;
        CHECK(fs::exists(out / (seed.name + ".part")));
        CHECK_FALSE(fs::exists(target));
        const bool partial =
            co_await eventually([&] { return held(tracker, seed.id()).holders == 2; }, 5s);
        CHECK(partial);
        CHECK(held(tracker, seed.id()).complete == 1);

        const auto failure = co_await transfer->finish(target, std::nullopt);
        CHECK_MESSAGE(!failure, (failure ? failure->message : ""));
        CHECK(read_file(target) == read_file(src / "data.bin"));
        CHECK_FALSE(fs::exists(out / (seed.name + ".part")));
        const bool complete =
            co_await eventually([&] { return held(tracker, seed.id()).complete == 2; }, 5s);
        CHECK(complete);
        const bool removed = co_await transfer->discard_if_empty();
        CHECK_FALSE(removed);

        co_await getter.stop();
        co_await server.stop();
    });
}

TEST_CASE("file transfer: a stopped fetch keeps its .part once it holds a verified chunk") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_seeded_file(src, "data.bin", 2 << 20, tracker.address);

    run_within(io, 30s, [&]() -> net::awaitable<void> {
        // Paced: the fetch is still under way when it is stopped.
        NodeOptions paced = node_options(quick_swarm());
        paced.max_upload_rate = 256 * 1024;
        TestPeer server(io, pool, Logger("server", LogLevel::kWarn), paced);
        co_await server.share(seed, open_shared(src / "data.bin"), tracker.address);
        TestPeer getter(io, pool, "getter", quick_swarm());
        const auto unreachable = co_await getter.trackers->connect(seed.trackers);
        CHECK(unreachable.empty());

        auto transfer = fetch_into(getter, seed, out.path());
        transfer->start();
        const bool some =
            co_await eventually([&] { return transfer->swarm()->verified_bytes() > 0; }, 10s);
        REQUIRE(some);
        transfer->stop(200ms);
        co_await transfer->wait_done();
        CHECK_FALSE(transfer->complete());
        CHECK_FALSE(transfer->have().all());
        const bool removed = co_await transfer->discard_if_empty();
        CHECK_FALSE(removed);
        CHECK(fs::exists(out / (seed.name + ".part")));
        CHECK_FALSE(fs::exists(out / seed.name));

        co_await getter.stop();
        co_await server.stop();
    });
}

TEST_CASE("file transfer: a stopped fetch that verified nothing removes the .part it made") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_seeded_file(src, "data.bin", 300'000, tracker.address);

    run_within(io, 20s, [&]() -> net::awaitable<void> {
        TestPeer getter(io, pool, "getter", quick_swarm());
        auto transfer = fetch_into(getter, seed, out.path());
        transfer->start(false);  // no tracker, no peer: nothing arrives
        CHECK(fs::exists(out / (seed.name + ".part")));
        transfer->stop(100ms);
        co_await transfer->wait_done();
        CHECK_FALSE(transfer->complete());
        const bool removed = co_await transfer->discard_if_empty();
        CHECK(removed);
        CHECK_FALSE(fs::exists(out / (seed.name + ".part")));
        co_await getter.stop();
    });
}

}  // namespace file_transfer_test
