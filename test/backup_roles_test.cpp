// The backup peer's other roles, in one io_context on 127.0.0.1: the
// directory of note 003 (a getter stranded with no tracker, knowing only
// the backup, is told who holds a seed the backup does not keep, and gets it
// from them); and two backups, one killed, with nothing lost.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <filesystem>

#include "peer/discovery/address_book_file.hpp"
#include "test/support/backup_harness.hpp"
#include "test/support/cluster.hpp"
#include "test/support/temp_dir.hpp"

namespace backup_roles_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_CASE("backup: a getter with no tracker, knowing only the backup, is told who holds a seed") {
    TempDir src, bdir, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed small = make_seeded_file(src, "small.bin", 50'000, tracker.address);
    const Seed big = make_seeded_file(src, "big.bin", 400'000, tracker.address);

    run_within(io, 90s, [&]() -> net::awaitable<void> {
        TestPeer sharer(io, pool, "sharer", quick_swarm());
        co_await sharer.share(small, open_shared(src / "small.bin"), tracker.address);
        co_await sharer.share(big, open_shared(src / "big.bin"), tracker.address);
        // The backup keeps only what fits in 100 kB: big.bin is skipped, yet
        // it learns who holds it.
        auto o = quick_backup(bdir.path(), tracker.address);
        o.limits.max_size = 100'000;
        RunningBackup b(io, pool, std::move(o));
        b.start(io);
        const auto& book = b.peer.node->book();
        const std::function<bool()> settled = [&] {
            return b.backup->held() == 1 && b.backup->skipped().size() == 1 &&
                   !book->holders(AddressBook::key(big.id()), address_book_now(), 8).empty();
        };
        REQUIRE(co_await eventually(settled, 30s));
        CHECK_FALSE(b.backup->holds(big.id()));
        CHECK(b.backup->skipped()[0].first == "big.bin");

        // The tracker goes (it was serving until now).
        REQUIRE(tracker.server->port() != 0);
        tracker.server->stop();

        // A getter that knows only the backup: the backup names the sharer,
        // and the file comes from it.
        std::vector<PeerAddress> only_backup{b.address()};
        const auto outcome = co_await get_alone(io, pool, big, out.path(), std::move(only_backup));
        CHECK(outcome == Download::Outcome::kComplete);
        CHECK(read_file(out / "big.bin") == read_file(src / "big.bin"));
        CHECK_FALSE(b.backup->holds(big.id()));  // never fetched by the backup
        co_await b.stop();
        co_await sharer.stop();
    });
}

TEST_CASE("backup: two backups, one killed: every file is still got from the other") {
    TempDir src, b1dir, b2dir, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    std::vector<Seed> seeds;
    for (int i = 0; i < 4; ++i)
        seeds.push_back(
            make_seeded_file(src, fmt::format("f{}", i), 80'000 + 30'000 * i, tracker.address));

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        auto sharer = std::make_unique<TestPeer>(io, pool, "sharer", quick_swarm());
        for (const auto& seed : seeds)
            co_await sharer->share(seed, open_shared(src / seed.name), tracker.address);
        auto b1 =
            std::make_unique<RunningBackup>(io, pool, quick_backup(b1dir.path(), tracker.address));
        RunningBackup b2(io, pool, quick_backup(b2dir.path(), tracker.address));
        b1->start(io);
        b2.start(io);
        const std::function<bool()> both = [&] {
            return b1->backup->held() == seeds.size() && b2.backup->held() == seeds.size();
        };
        REQUIRE(co_await eventually(both, 60s));

        // The sharer leaves; then the first backup is killed (no goodbye),
        // each shown running first.
        CHECK(sharer->node->port() != 0);
        co_await sharer->stop();
        CHECK_FALSE(b1->ended);
        b1->backup->stop();  // its coroutines end (ordered), then the process "dies"
        const std::function<bool()> b1_done = [&] { return b1->ended; };
        REQUIRE(co_await eventually(b1_done, 30s));
        b1->peer.kill();
        b1.reset();

        // Nothing lost: every file, verified, from the backup left.
        for (const auto& seed : seeds) {
            const auto outcome = co_await get_alone(io, pool, seed, out.path());
            CHECK(outcome == Download::Outcome::kComplete);
            CHECK(read_file(out / seed.name) == read_file(src / seed.name));
        }
        CHECK_FALSE(b2.ended);
        co_await b2.stop();
    });
}

}  // namespace backup_roles_test
