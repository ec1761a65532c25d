// `peer serve` as a library: a Sharer over a directory, a real tracker, one
// io_context. Files added, removed and changed are noticed and the tracker
// told; a restart with the same state directory hashes nothing again.
#include <doctest/doctest.h>

#include <filesystem>

#include "peer/library/sharer.hpp"
#include "test/support/cluster.hpp"
#include "test/support/temp_dir.hpp"

namespace sharer_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;

namespace {

// What the tracker lists now, by name (live holders only).
std::map<std::string, tracker::FileSummary> listed(TestTracker& t) {
    std::map<std::string, tracker::FileSummary> out;
    for (const auto& f : t.store->list_files(std::nullopt, 1000).files)
        if (f.holders > 0) out[f.name] = f;
    return out;
}

SharerOptions options_for(const TempDir& dir, const TestTracker& t,
                          std::optional<std::filesystem::path> state) {
    SharerOptions o;
    o.dir = dir.path();
    o.trackers = {t.address};
    o.state_dir = std::move(state);
    o.rescan = 100ms;
    return o;
}

}  // namespace

TEST_CASE("sharer: files added, removed and changed in DIR reach the tracker") {
    TempDir dir, state;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(dir / "a.bin", pattern_bytes(300'000, 1));

    run_within(io, 30s, [&]() -> net::awaitable<void> {
        TestPeer peer(io, pool, "serve");
        Sharer sharer(*peer.node, *peer.trackers, options_for(dir, tracker, state.path()),
                      peer.log);
        bool ready = false;
        net::spawn(io.get_executor(), sharer.run([&] { ready = true; }), Logger("test"), "sharer");
        CHECK(co_await eventually([&] { return ready && listed(tracker).contains("a.bin"); }, 10s));

        // Added.
        write_file(dir / "b.bin", pattern_bytes(200'000, 20));
        CHECK(co_await eventually([&] { return listed(tracker).contains("b.bin"); }, 10s));
        const SeedId old_b = listed(tracker).at("b.bin").id;

        // Removed.
        std::filesystem::remove(dir / "a.bin");
        CHECK(co_await eventually([&] { return !listed(tracker).contains("a.bin"); }, 10s));

        // Changed in place: a new seed replaces the old one. The new mtime is
        // set, not waited for (the file system's timestamps may be coarser
        // than the time since the last write).
        const auto old_mtime = std::filesystem::last_write_time(dir / "b.bin");
        write_file(dir / "b.bin", pattern_bytes(200'000, 31));
        std::filesystem::last_write_time(dir / "b.bin", old_mtime + 1s);
        CHECK(co_await eventually(
            [&] {
                const auto l = listed(tracker);
                return l.contains("b.bin") && l.at("b.bin").id != old_b;
            },
            10s));
        CHECK(sharer.seeds_made() == 3);  // a, b, and b again
        sharer.stop();
        co_await peer.stop();
    });
}

TEST_CASE("sharer: a restart with the same state directory hashes nothing again") {
    TempDir dir, state;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(dir / "one", pattern_bytes(100'000, 4));
    std::filesystem::create_directories(dir / "sub");
    write_file(dir / "sub" / "two", pattern_bytes(150'000, 5));

    for (std::size_t expected_hashed : {std::size_t{2}, std::size_t{0}}) {
        CAPTURE(expected_hashed);
        run_within(io, 30s, [&]() -> net::awaitable<void> {
            TestPeer peer(io, pool, "serve");
            Sharer sharer(*peer.node, *peer.trackers, options_for(dir, tracker, state.path()),
                          peer.log);
            bool ready = false;
            net::spawn(io.get_executor(), sharer.run([&] { ready = true; }), Logger("test"),
                       "sharer");
            CHECK(co_await eventually([&] { return ready; }, 10s));
            CHECK(sharer.shared().size() == 2);
            CHECK(sharer.seeds_made() == expected_hashed);
            sharer.stop();
            co_await peer.stop();
        });
    }
}

TEST_CASE("sharer: a NAME.seed next to the file is used, not made again") {
    TempDir dir;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(dir / "f", pattern_bytes(70'000, 6));
    SeedMakerOptions o;
    o.trackers = {tracker.address};
    o.chunk_size = 4096;  // not the default: the sidecar's own seed is the one shared
    auto seed = make_seed(dir / "f", o);
    REQUIRE(seed);
    REQUIRE(write_file_atomically(dir / "f.seed", format_seed(*seed)));

    run_within(io, 30s, [&]() -> net::awaitable<void> {
        TestPeer peer(io, pool, "serve");
        Sharer sharer(*peer.node, *peer.trackers, options_for(dir, tracker, std::nullopt),
                      peer.log);
        bool ready = false;
        net::spawn(io.get_executor(), sharer.run([&] { ready = true; }), Logger("test"), "sharer");
        CHECK(co_await eventually([&] { return ready && listed(tracker).contains("f"); }, 10s));
        CHECK(sharer.seeds_made() == 0);
        CHECK(listed(tracker).at("f").id == seed->id());
        CHECK(sharer.shared().size() == 1);  // f.seed itself is not shared
        sharer.stop();
        co_await peer.stop();
    });
}

}  // namespace sharer_test
