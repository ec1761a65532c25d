// A getter spares the backup peer's upload (issue 15: "a getter turns to it
// when no other holder is left or the others are slow"), in one io_context
// on 127.0.0.1 with a tracker: the trackers mark the backup in their Peers
// answers, and the getter asks it only for what no other peer holds, unless
// the others are slow; with no other holder left it gets everything from it.
#include <doctest/doctest.h>

#include <filesystem>

#include "peer/backup/backup.hpp"
#include "test/support/cluster.hpp"
#include "test/support/temp_dir.hpp"

namespace backup_spared_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

SwarmOptions fast_options() {
    SwarmOptions o;
    o.stall_timeout = 2000ms;
    o.rediscover = 300ms;
    return o;
}

Seed make_file(const TempDir& dir, const std::string& name, std::size_t size,
               const HostPort& tracker) {
    write_file(dir / name, pattern_bytes(size, std::hash<std::string>{}(name)));
    SeedMakerOptions o;
    o.chunk_size = 64 * 1024;
    o.trackers = {tracker};
    auto seed = make_seed(dir / name, o);
    REQUIRE(seed);
    return *seed;
}

std::shared_ptr<Storage> open_shared(const fs::path& p) {
    auto s = FileStorage::open_read(p);
    REQUIRE(s);
    return std::shared_ptr<Storage>(std::move(*s));
}

// A Backup joined as a backup peer (as `peer backup` does), in the background.
struct RunningBackup {
    TestPeer peer;
    std::unique_ptr<Backup> backup;
    bool ended = false;
    RunningBackup(asio::io_context& io, asio::thread_pool& pool, const fs::path& dir,
                  const HostPort& tracker)
        : peer(io, pool, "backup", fast_options()) {
        TrackersOptions as_backup;
        as_backup.backup = true;
        peer.trackers = std::make_unique<Trackers>(io.get_executor(), peer.node->user(),
                                                   peer.node->port(), peer.log, as_backup);
        BackupOptions o;
        o.dir = dir;
        o.trackers = {tracker};
        o.poll = 100ms;
        o.fetch_stall = 3000ms;
        backup = std::make_unique<Backup>(*peer.node, *peer.trackers, std::move(o), peer.log);
    }
    void start(asio::io_context& io) { net::spawn(io.get_executor(), run(), peer.log, "backup"); }
    net::awaitable<void> run() {
        co_await backup->run();
        ended = true;
    }
    std::uint64_t uploaded() const { return peer.node->counters().bytes_up; }
    net::awaitable<void> stop() {
        backup->stop();
        const std::function<bool()> done = [this] { return ended; };
        CHECK(co_await eventually(done, 30s));
        co_await peer.stop();
    }
};

// Gets `seed` into `out` with a new peer of its own, through the tracker.
net::awaitable<Download::Outcome> get(asio::io_context& io, asio::thread_pool& pool,
                                      const Seed& seed, const fs::path& out) {
    TestPeer getter(io, pool, "getter", fast_options());
    DownloadOptions o;
    o.seed = seed;
    o.out_dir = out;
    Download d(*getter.node, *getter.trackers, o, getter.log);
    const auto outcome = co_await d.run();
    co_await getter.stop();
    co_return outcome;
}

}  // namespace

TEST_CASE("backup: a getter spares the backup while a sharer is live, and uses it once alone") {
    TempDir src, bdir, out1, out2;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    constexpr std::size_t kSize = 4u << 20;  // 64 chunks of 64 KiB
    const Seed seed = make_file(src, "f.bin", kSize, tracker.address);

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        auto sharer = std::make_unique<TestPeer>(io, pool, "sharer", fast_options());
        co_await sharer->share(seed, open_shared(src / "f.bin"), tracker.address);
        RunningBackup b(io, pool, bdir.path(), tracker.address);
        b.start(io);
        const std::function<bool()> mirrored = [&] { return b.backup->held() == 1; };
        REQUIRE(co_await eventually(mirrored, 60s));

        // Sharer and backup both live, both complete and as fast: the
        // getter takes (nearly) everything from the sharer. Before the
        // getter knew the backup, it took about half from each.
        const auto before = b.uploaded();
        CHECK(co_await get(io, pool, seed, out1.path()) == Download::Outcome::kComplete);
        CHECK(read_file(out1 / "f.bin") == read_file(src / "f.bin"));
        const auto from_backup = b.uploaded() - before;
        MESSAGE("the backup gave " << from_backup << " of " << kSize << " bytes");
        CHECK(from_backup * 5 < kSize);  // under 20%

        // The sharer leaves: the backup alone serves the whole file.
        co_await sharer->stop();
        sharer.reset();
        const auto alone = b.uploaded();
        CHECK(co_await get(io, pool, seed, out2.path()) == Download::Outcome::kComplete);
        CHECK(read_file(out2 / "f.bin") == read_file(src / "f.bin"));
        CHECK(b.uploaded() - alone >= kSize);
        co_await b.stop();
    });
}

TEST_CASE("backup: a getter turns to the backup when the sharer is slow") {
    TempDir src, bdir, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    constexpr std::size_t kSize = 2u << 20;
    const Seed seed = make_file(src, "f.bin", kSize, tracker.address);

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        // The backup mirrors the file from a sharer at full speed, which then
        // leaves (the backup copies it at once, not at the slow one's rate).
        auto first = std::make_unique<TestPeer>(io, pool, "first", fast_options());
        co_await first->share(seed, open_shared(src / "f.bin"), tracker.address);
        RunningBackup b(io, pool, bdir.path(), tracker.address);
        b.start(io);
        const std::function<bool()> mirrored = [&] { return b.backup->held() == 1; };
        REQUIRE(co_await eventually(mirrored, 60s));
        co_await first->stop();
        first.reset();

        // A sharer that uploads 64 KiB/s, far below BackupSparing::kMinRate:
        // the whole file from it alone would take 32 s.
        auto o = node_options(fast_options());
        o.max_upload_rate = 64 * 1024;
        TestPeer sharer(io, pool, Logger("sharer", LogLevel::kWarn), o);
        co_await sharer.share(seed, open_shared(src / "f.bin"), tracker.address);

        const auto before = b.uploaded();
        CHECK(co_await get(io, pool, seed, out.path()) == Download::Outcome::kComplete);
        CHECK(read_file(out / "f.bin") == read_file(src / "f.bin"));
        const auto from_backup = b.uploaded() - before;
        MESSAGE("the backup gave " << from_backup << " of " << kSize << " bytes");
        CHECK(from_backup * 2 > kSize);  // most of it
        co_await b.stop();
        co_await sharer.stop();
    });
}

}  // namespace backup_spared_test
