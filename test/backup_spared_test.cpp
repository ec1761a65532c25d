// A getter spares the backup peer's upload (issue 15: "a getter turns to it
// when no other holder is left or the others are slow"), in one io_context
// on 127.0.0.1 with a tracker: the trackers mark the backup in their Peers
// answers, and the getter asks it only for what no other peer holds, unless
// the others are slow; with no other holder left it gets everything from it.
#include <doctest/doctest.h>

#include <filesystem>

#include "test/support/backup_harness.hpp"
#include "test/support/cluster.hpp"
#include "test/support/temp_dir.hpp"

namespace backup_spared_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Once the backup holds the file, a getter fetches it (checked against
// `src`): what the backup gave of it.
net::awaitable<std::uint64_t> backup_share_of_a_get(asio::io_context& io, asio::thread_pool& pool,
                                                    RunningBackup& b, const Seed& seed,
                                                    const fs::path& src, const fs::path& out) {
    const std::function<bool()> mirrored = [&] { return b.backup->held() == 1; };
    REQUIRE(co_await eventually(mirrored, 60s));
    const auto before = b.uploaded();
    CHECK(co_await get_alone(io, pool, seed, out) == Download::Outcome::kComplete);
    CHECK(read_file(out / seed.name) == read_file(src / seed.name));
    const auto from_backup = b.uploaded() - before;
    MESSAGE("the backup gave " << from_backup << " of " << seed.length << " bytes");
    co_return from_backup;
}

}  // namespace

TEST_CASE("backup: a getter spares the backup while a sharer is live, and uses it once alone") {
    TempDir src, bdir, out1, out2;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    constexpr std::size_t kSize = 4u << 20;  // 64 chunks of 64 KiB
    const Seed seed = make_seeded_file(src, "f.bin", kSize, tracker.address);

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        auto sharer = std::make_unique<TestPeer>(io, pool, "sharer", quick_swarm());
        co_await sharer->share(seed, open_shared(src / "f.bin"), tracker.address);
        RunningBackup b(io, pool, quick_backup(bdir.path(), tracker.address), /*marked=*/true);
        b.start(io);

        // Sharer and backup both live, both complete and as fast: the
        // getter takes (nearly) everything from the sharer. Before the
        // getter knew the backup, it took about half from each.
        const auto from_backup =
            co_await backup_share_of_a_get(io, pool, b, seed, src.path(), out1.path());
        CHECK(from_backup * 5 < kSize);  // under 20%

        // The sharer leaves: the backup alone serves the whole file.
        co_await sharer->stop();
        sharer.reset();
        const auto alone = b.uploaded();
        CHECK(co_await get_alone(io, pool, seed, out2.path()) == Download::Outcome::kComplete);
        CHECK(read_file(out2 / "f.bin") == read_file(src / "f.bin"));
        CHECK(b.uploaded() - alone >= kSize);
        co_await b.stop();
    });
}

// A getter that found the backup with no word from a tracker (peer exchange,
// the address book; here: a tracker that does not mark it) spares it too:
// the backup's Hello says what it is.
TEST_CASE("backup: a getter spares a backup that says so in its Hello, unmarked by the trackers") {
    TempDir src, bdir, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    constexpr std::size_t kSize = 4u << 20;
    const Seed seed = make_seeded_file(src, "f.bin", kSize, tracker.address);

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        TestPeer sharer(io, pool, "sharer", quick_swarm());
        co_await sharer.share(seed, open_shared(src / "f.bin"), tracker.address);
        RunningBackup b(io, pool, quick_backup(bdir.path(), tracker.address), /*marked=*/false,
                        /*declared=*/true);
        b.start(io);
        const auto from_backup =
            co_await backup_share_of_a_get(io, pool, b, seed, src.path(), out.path());
        CHECK(from_backup * 5 < kSize);  // under 20%
        co_await b.stop();
        co_await sharer.stop();
    });
}

TEST_CASE("backup: a getter turns to the backup when the sharer is slow") {
    TempDir src, bdir, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    constexpr std::size_t kSize = 2u << 20;
    const Seed seed = make_seeded_file(src, "f.bin", kSize, tracker.address);

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        // The backup mirrors the file from a sharer at full speed, which then
        // leaves (the backup copies it at once, not at the slow one's rate).
        auto first = std::make_unique<TestPeer>(io, pool, "first", quick_swarm());
        co_await first->share(seed, open_shared(src / "f.bin"), tracker.address);
        RunningBackup b(io, pool, quick_backup(bdir.path(), tracker.address), /*marked=*/true);
        b.start(io);
        const std::function<bool()> mirrored = [&] { return b.backup->held() == 1; };
        REQUIRE(co_await eventually(mirrored, 60s));
        co_await first->stop();
        first.reset();

        // A sharer that uploads 64 KiB/s, far below BackupSparing::kMinRate:
        // the whole file from it alone would take 32 s.
        auto o = node_options(quick_swarm());
        o.max_upload_rate = 64 * 1024;
        TestPeer sharer(io, pool, Logger("sharer", LogLevel::kWarn), o);
        co_await sharer.share(seed, open_shared(src / "f.bin"), tracker.address);

        const auto before = b.uploaded();
        CHECK(co_await get_alone(io, pool, seed, out.path()) == Download::Outcome::kComplete);
        CHECK(read_file(out / "f.bin") == read_file(src / "f.bin"));
        const auto from_backup = b.uploaded() - before;
        MESSAGE("the backup gave " << from_backup << " of " << kSize << " bytes");
        CHECK(from_backup * 2 > kSize);  // most of it
        co_await b.stop();
        co_await sharer.stop();
    });
}

}  // namespace backup_spared_test
