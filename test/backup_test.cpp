// The backup peer as a library: a real tracker, sharers, a Backup and
// getters in one io_context on 127.0.0.1. Three sharers leave and a new
// getter still gets every file, verified, from the backup alone; a quota
// skips and names; a restart fetches nothing again and serves at once; a
// hostile sharer announcing thousands of seeds is held to the limits.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>

#include "common/env/clock.hpp"
#include "common/env/faulty_env.hpp"
#include "test/support/backup_harness.hpp"
#include "test/support/cluster.hpp"
#include "test/support/temp_dir.hpp"

namespace backup_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Files (not directories) anywhere under `dir`, and those named *.part.
std::pair<std::size_t, std::size_t> files_under(const fs::path& dir) {
    std::size_t files = 0, parts = 0;
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
        if (!e.is_regular_file()) continue;
        ++files;
        if (e.path().extension() == ".part") ++parts;
    }
    return {files, parts};
}

}  // namespace

// Three sharers leave: a new getter gets every file from the backup, and a
// restart fetches nothing again.
TEST_CASE("backup: every file outlives its sharers and a restart fetches nothing") {
    TempDir src, bdir, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    std::vector<Seed> seeds;
    std::uint64_t total = 0;
    for (int i = 0; i < 6; ++i) {
        seeds.push_back(
            make_seeded_file(src, fmt::format("f{}", i), 100'000 + 37'000 * i, tracker.address));
        total += seeds.back().length;
    }

    run_within(io, 90s, [&]() -> net::awaitable<void> {
        std::vector<std::unique_ptr<TestPeer>> sharers;
        for (int p = 0; p < 3; ++p) {
            sharers.push_back(std::make_unique<TestPeer>(io, pool, "sharer", quick_swarm()));
            for (int i = 2 * p; i < 2 * p + 2; ++i)
                co_await sharers.back()->share(seeds[i], open_shared(src / seeds[i].name),
                                               tracker.address);
        }
        auto b =
            std::make_unique<RunningBackup>(io, pool, quick_backup(bdir.path(), tracker.address));
        b->start(io);
        const std::function<bool()> all_held = [&] { return b->backup->held() == 6; };
        CHECK(co_await eventually(all_held, 30s));
        CHECK(b->backup->fetched_bytes() == total);
        CHECK(b->backup->skipped().empty());

        // Every sharer leaves, each shown running first.
        for (auto& s : sharers) {
            CHECK(s->node->port() != 0);
            co_await s->stop();
        }
        for (const auto& seed : seeds) {
            const auto outcome = co_await get_alone(io, pool, seed, out.path());
            CHECK(outcome == Download::Outcome::kComplete);
            CHECK(read_file(out / seed.name) == read_file(src / seed.name));
        }
        co_await b->stop();
        b.reset();

        // Restart: every file served at once, nothing fetched.
        auto again =
            std::make_unique<RunningBackup>(io, pool, quick_backup(bdir.path(), tracker.address));
        again->start(io);
        const std::function<bool()> ready = [&] { return again->ready; };
        CHECK(co_await eventually(ready, 10s));
        CHECK(again->backup->restored() == 6);
        CHECK(again->backup->held() == 6);
        co_await again->more_polls(3);
        CHECK(again->backup->fetched_bytes() == 0);
        CHECK(again->backup->fetching() == 0);
        // And it serves them: one more getter, from the restarted backup alone.
        TempDir out2;
        const auto outcome = co_await get_alone(io, pool, seeds[3], out2.path());
        CHECK(outcome == Download::Outcome::kComplete);
        CHECK(read_file(out2 / seeds[3].name) == read_file(src / seeds[3].name));
        co_await again->stop();
    });
}

// The first poll lists a seed and finds its holder: the fetch starts in that
// poll, not a poll later (a whole --poll interval of the mirror's time).
TEST_CASE("backup: a seed whose holder a poll finds is fetched in that poll") {
    TempDir src, bdir;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_seeded_file(src, "one.bin", 100'000, tracker.address);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        TestPeer sharer(io, pool, "sharer", quick_swarm());
        co_await sharer.share(seed, open_shared(src / seed.name), tracker.address);
        const std::function<bool()> announced = [&] {
            const auto stats = tracker.store->stats();
            return stats.holdings == 1 && stats.seeds == 1;
        };
        REQUIRE(co_await eventually(announced, 30s));
        auto o = quick_backup(bdir.path(), tracker.address);
        o.poll = std::chrono::hours(1);          // one poll in this test, unless a fetch ends
        std::optional<std::size_t> after_first;  // fetching + held when the first poll ended
        RunningBackup* watched = nullptr;
        o.after_poll = [&] {
            if (watched && !after_first)
                after_first = watched->backup->fetching() + watched->backup->held();
        };
        RunningBackup b(io, pool, o);
        watched = &b;
        b.start(io);
        const std::function<bool()> polled = [&] { return after_first.has_value(); };
        REQUIRE(co_await eventually(polled, 30s));
        CHECK(*after_first == 1);
        const std::function<bool()> held = [&] { return b.backup->held() == 1; };
        CHECK(co_await eventually(held, 30s));
        co_await b.stop();
        co_await sharer.stop();
    });
}

// One fetch at a time and an hour between polls: each fetch that ends
// plans the next at once. (A fetch that ends while a poll runs is planned
// after that poll, the wake kept by net::Wakeup, tested in
// common_net_test.cpp; here the fetches end while the loop sleeps.)
TEST_CASE("backup: a fetch that ends starts the next at once, not a poll later") {
    TempDir src, bdir;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    std::vector<Seed> seeds;
    for (int i = 0; i < 4; ++i)
        seeds.push_back(make_seeded_file(src, fmt::format("f{}.bin", i),
                                         static_cast<std::uint64_t>(50'000 + i), tracker.address));

    run_within(io, 90s, [&]() -> net::awaitable<void> {
        TestPeer sharer(io, pool, "sharer", quick_swarm());
        for (const auto& seed : seeds)
            co_await sharer.share(seed, open_shared(src / seed.name), tracker.address);
        const std::function<bool()> announced = [&] {
            return tracker.store->stats().holdings == seeds.size();
        };
        REQUIRE(co_await eventually(announced, 30s));
        auto o = quick_backup(bdir.path(), tracker.address);
        o.poll = std::chrono::hours(1);
        o.limits.max_fetches = 1;
        int polls = 0;
        o.after_poll = [&] { ++polls; };
        RunningBackup b(io, pool, o);
        b.start(io);
        const std::function<bool()> all_held = [&] { return b.backup->held() == seeds.size(); };
        CHECK(co_await eventually(all_held, 60s));
        MESSAGE("polls: " << polls);
        co_await b.stop();
        co_await sharer.stop();
    });
}

// The backup's polls on the node's clock: an hour apart, and the test moves
// the clock instead of waiting (on the real clock the second poll would be
// an hour away and the case fail).
TEST_CASE("backup: it polls when its clock says so") {
    FakeClock clock;  // outlives the io_context and what it holds
    TempDir bdir;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    run_within(io, 60s, [&]() -> net::awaitable<void> {
        auto o = quick_backup(bdir.path(), tracker.address);
        o.poll = std::chrono::hours(1);
        RunningBackup b(io, pool, o, false, false, &clock);
        b.start(io);
        co_await b.more_polls(1);  // the first, at once
        const auto first = b.polls;
        clock.advance(59min);
        const std::function<bool()> polled = [&] { return b.polls > first; };
        CHECK_FALSE(co_await eventually(polled, 300ms));  // not before the hour
        clock.advance(1min);
        co_await b.more_polls(1);
        CHECK(b.polls == first + 1);
        co_await b.stop();
    });
}

TEST_CASE("backup: files beyond --max-size are skipped and named, with no partial hoarding") {
    TempDir src, bdir;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    std::vector<Seed> seeds;
    for (const char* name : {"a.bin", "b.bin", "c.bin"})
        seeds.push_back(make_seeded_file(src, name, 100'000, tracker.address));

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        TestPeer sharer(io, pool, "sharer", quick_swarm());
        for (const auto& seed : seeds)
            co_await sharer.share(seed, open_shared(src / seed.name), tracker.address);
        auto o = quick_backup(bdir.path(), tracker.address);
        o.limits.max_size = 250'000;  // two of the three
        RunningBackup b(io, pool, o);
        b.start(io);
        const std::function<bool()> settled = [&] {
            return b.backup->held() == 2 && b.backup->skipped().size() == 1;
        };
        CHECK(co_await eventually(settled, 30s));
        co_await b.more_polls(3);  // still said once, still not fetched
        REQUIRE(b.backup->skipped().size() == 1);
        CHECK(b.backup->skipped()[0].first == "c.bin");
        CHECK(b.backup->skipped()[0].second == BackupSkip::kBeyondQuota);
        CHECK(b.backup->holds(seeds[0].id()));
        CHECK(b.backup->holds(seeds[1].id()));
        CHECK_FALSE(fs::exists(bdir / "files" / seeds[2].id().hex()));
        CHECK(files_under(bdir / "files") == std::pair<std::size_t, std::size_t>{2, 0});
        co_await b.stop();
        co_await sharer.stop();
    });
}

// The disk fills (the backup's Env says so): fetching stops and the backup
// says so, what it holds is still served; with room again, fetching resumes.
TEST_CASE("backup: a full disk stops fetching, keeps serving, and room again resumes it") {
    TempDir src, bdir, out;
    FaultyEnv env(Env::posix());  // outlives the io_context and the pool
    env.set_free_space(1ull << 30);
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed a = make_seeded_file(src, "a.bin", 200'000, tracker.address);
    const Seed b = make_seeded_file(src, "b.bin", 150'000, tracker.address);

    run_within(io, 90s, [&]() -> net::awaitable<void> {
        auto first = std::make_unique<TestPeer>(io, pool, "sharer-a", quick_swarm());
        co_await first->share(a, open_shared(src / a.name), tracker.address);
        RunningBackup backup(io, pool, quick_backup(bdir.path(), tracker.address), false, false,
                             &Clock::real(), &env);
        backup.start(io);
        const std::function<bool()> holds_a = [&] { return backup.backup->holds(a.id()); };
        REQUIRE(co_await eventually(holds_a, 30s));
        CHECK_FALSE(backup.backup->disk_full());
        CHECK(first->node->port() != 0);  // still running when it leaves
        co_await first->stop();

        // Less free than the reserve: b is listed, and not fetched.
        env.set_free_space(limits::kBackupDiskReserve / 2);
        TestPeer second(io, pool, "sharer-b", quick_swarm());
        co_await second.share(b, open_shared(src / b.name), tracker.address);
        const std::function<bool()> full = [&] { return backup.backup->disk_full(); };
        REQUIRE(co_await eventually(full, 30s));
        co_await backup.more_polls(3);
        CHECK(backup.backup->disk_full());
        CHECK_FALSE(backup.backup->holds(b.id()));
        CHECK(backup.backup->fetching() == 0);
        CHECK_FALSE(fs::exists(bdir / "files" / b.id().hex()));

        // Still serving: a getter gets a from the backup alone (its sharer left).
        const auto got = co_await get_alone(io, pool, a, out.path());
        CHECK(got == Download::Outcome::kComplete);
        CHECK(read_file(out / a.name) == read_file(src / a.name));

        // Room again: b is fetched.
        env.set_free_space(1ull << 30);
        const std::function<bool()> holds_b = [&] { return backup.backup->holds(b.id()); };
        REQUIRE(co_await eventually(holds_b, 60s));
        CHECK_FALSE(backup.backup->disk_full());
        CHECK(read_file(bdir / "files" / b.id().hex() / b.name) == read_file(src / b.name));
        CHECK(backup.backup->held() == 2);
        co_await backup.stop();
        co_await second.stop();
    });
}

// A restart that cannot open a file it held (opened on the pool, with the
// scan) serves the others at once and fetches that one again.
TEST_CASE("backup: a held file a restart cannot open is fetched again, the others served") {
    TempDir src, bdir;
    FaultyEnv env(Env::posix());  // outlives the io_context and the pool
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed a = make_seeded_file(src, "a.bin", 200'000, tracker.address);
    const Seed b = make_seeded_file(src, "b.bin", 150'000, tracker.address);

    run_within(io, 90s, [&]() -> net::awaitable<void> {
        TestPeer sharer(io, pool, "sharer", quick_swarm());
        co_await sharer.share(a, open_shared(src / a.name), tracker.address);
        co_await sharer.share(b, open_shared(src / b.name), tracker.address);
        {
            RunningBackup first(io, pool, quick_backup(bdir.path(), tracker.address));
            first.start(io);
            const std::function<bool()> both = [&] { return first.backup->held() == 2; };
            REQUIRE(co_await eventually(both, 30s));
            co_await first.stop();
        }

        const fs::path held_a = bdir / "files" / a.id().hex() / a.name;
        env.fail_path(FaultyEnv::Op::kOpen, held_a, EIO);
        RunningBackup again(io, pool, quick_backup(bdir.path(), tracker.address), false, false,
                            &Clock::real(), &env);
        again.start(io);
        const std::function<bool()> ready = [&] { return again.ready; };
        REQUIRE(co_await eventually(ready, 10s));
        CHECK(env.injected() >= 1);
        CHECK(again.backup->restored() == 1);  // b, served at once
        CHECK(again.backup->holds(b.id()));
        // a is fetched again (into a.bin.part, then renamed: the fault on
        // opening a.bin does not stand in the way).
        const std::function<bool()> holds_a = [&] { return again.backup->holds(a.id()); };
        REQUIRE(co_await eventually(holds_a, 30s));
        CHECK(again.backup->fetched_bytes() == a.length);
        CHECK(read_file(held_a) == read_file(src / a.name));
        co_await again.stop();
        co_await sharer.stop();
    });
}

// Thousands of seeds from one sharer: it serves 50 (named first, so those
// are what the backup would fetch) and only announces the rest (real seeds
// of files it never serves). The backup holds its limit per source, no
// more; runs at most its fetches at once; its swarms, connections, disk and
// the containers it keeps stay within bounds set by the limits (held,
// fetching) or by the listing (one entry per seed, never more).
TEST_CASE("backup: a hostile sharer announcing thousands of seeds is held to the limits") {
    TempDir src, bdir;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    constexpr int kServed = 50, kSeeds = 2000;
    constexpr std::size_t kPerSource = 25, kFetches = 3;
    std::vector<Seed> seeds;
    for (int i = 0; i < kSeeds; ++i)
        seeds.push_back(make_seeded_file(src, fmt::format("{}{:04}", i < kServed ? 'a' : 'b', i),
                                         200 + i % 1000, tracker.address));

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        TestPeer evil(io, pool, "evil", quick_swarm());
        for (int i = 0; i < kServed; ++i)
            co_await evil.share(seeds[i], open_shared(src / seeds[i].name), tracker.address);
        const std::vector<HostPort> where{tracker.address};
        for (int i = kServed; i < kSeeds; ++i)
            evil.trackers->hold(seeds[i], where, true);
        // All announced, seed texts too, before the backup looks (a seed
        // looked up before its holder registers rests, and would be late).
        const std::function<bool()> announced = [&] {
            const auto stats = tracker.store->stats();
            return stats.holdings == std::size_t{kSeeds} && stats.seeds == std::size_t{kSeeds};
        };
        REQUIRE(co_await eventually(announced, 60s));
        auto o = quick_backup(bdir.path(), tracker.address);
        o.limits.max_per_source = kPerSource;
        o.limits.max_fetches = kFetches;
        o.new_seeds_per_second = 2000;
        o.new_seeds_burst = 500;
        std::size_t max_fetching = 0, max_swarms = 0, max_connections = 0;
        Backup::Footprint most;
        RunningBackup* watched = nullptr;
        o.after_poll = [&] {
            if (!watched) return;
            const auto f = watched->backup->footprint();
            auto most_of = [](std::size_t& m, std::size_t v) { m = std::max(m, v); };
            most_of(most.listed, f.listed);
            most_of(most.sources, f.sources);
            most_of(most.resting, f.resting);
            most_of(most.said, f.said);
            most_of(most.skipped, f.skipped);
            most_of(most.held, f.held);
            most_of(most.fetching, f.fetching);
            max_fetching = std::max(max_fetching, watched->backup->fetching());
            const auto& swarms = watched->peer.node->swarms();
            max_swarms = std::max(max_swarms, swarms.size());
            std::size_t connections = 0;
            for (const auto& [id, s] : swarms)
                connections += s->connection_count();
            max_connections = std::max(max_connections, connections);
        };
        RunningBackup b(io, pool, o);
        watched = &b;
        b.start(io);
        // Every seed but those held is skipped once, for the source's limit.
        const std::function<bool()> settled = [&] {
            return b.backup->held() == kPerSource && b.backup->fetching() == 0 &&
                   b.backup->skipped().size() == kSeeds - kPerSource;
        };
        CHECK(co_await eventually(settled, 90s));
        co_await b.more_polls(3);
        CHECK(b.backup->held() == kPerSource);  // the source's limit, never more
        CHECK(max_fetching <= kFetches);
        CHECK(most.fetching <= kFetches);
        CHECK(most.held <= kPerSource);
        CHECK(max_swarms <= kPerSource + kFetches);
        CHECK(max_connections <= kPerSource + kFetches);  // one holder: one connection per swarm
        // One entry per seed listed at most, whatever the sharer announced.
        CHECK(most.listed <= kSeeds);
        CHECK(most.sources <= kSeeds);
        CHECK(most.resting <= kSeeds);
        CHECK(most.said <= kSeeds);
        CHECK(most.skipped == kSeeds - kPerSource);
        CHECK(b.backup->skipped().size() == kSeeds - kPerSource);
        for (const auto& [name, why] : b.backup->skipped())
            CHECK(why == BackupSkip::kSourceLimit);
        // The disk: the files held, whole, nothing else.
        const auto [files, parts] = files_under(bdir / "files");
        CHECK(files == kPerSource);
        CHECK(parts == 0);
        std::uint64_t on_disk = 0;
        for (const auto& e : fs::recursive_directory_iterator(bdir / "files"))
            if (e.is_regular_file()) on_disk += e.file_size();
        CHECK(on_disk == b.backup->held_bytes());
        std::size_t served_held = 0;  // what it holds is what the sharer serves
        for (int i = 0; i < kServed; ++i)
            served_held += b.backup->holds(seeds[i].id()) ? 1 : 0;
        CHECK(served_held == kPerSource);
        co_await b.stop();
        co_await evil.stop();
    });
}

}  // namespace backup_test
