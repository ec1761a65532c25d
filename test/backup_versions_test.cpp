// The backup peer's --keep-versions, in one io_context: the versions before
// the latest are kept (only what the next version changed), served after
// the publisher moved on, dropped oldest first, and served again at once
// after a restart.
#include <doctest/doctest.h>

#include <filesystem>

#include "peer/backup/channel_backup.hpp"
#include "peer/channel/publisher.hpp"
#include "peer/library/seed_maker.hpp"
#include "test/support/backup_harness.hpp"
#include "test/support/channel_harness.hpp"
#include "test/support/cluster.hpp"
#include "test/support/temp_dir.hpp"

namespace backup_versions_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A ChannelBackup keeping `keep` versions of every channel, on a peer of its own.
struct VersionsBackup {
    TestPeer peer;
    std::unique_ptr<ChannelBackup> channels;
    bool done = false;
    VersionsBackup(asio::io_context& io, asio::thread_pool& pool, const fs::path& dir,
                   const HostPort& tracker, std::size_t keep, std::uint64_t max_size = 0)
        : peer(io, pool, "backup") {
        ChannelBackupOptions bo;
        bo.max_size = max_size;
        bo.dir = dir / "channels";
        bo.versions_dir = dir / "channel-versions";
        bo.keep_versions = keep;
        bo.trackers = {tracker};
        bo.poll = 100ms;
        bo.tracker_poll = 500ms;
        bo.rescan = 100ms;
        bo.mesh.tick = 50ms;
        channels = std::make_unique<ChannelBackup>(*peer.node, *peer.trackers, bo, peer.log);
        net::spawn(io.get_executor(), run_channel_backup(channels.get(), &done), Logger("test"),
                   "channels");
    }
    net::awaitable<void> stop() {
        CHECK_FALSE(done);  // still following until now
        channels->stop();
        const std::function<bool()> ended = [this] { return done; };
        CHECK(co_await eventually(ended, 15s));
        co_await peer.stop();
    }
};

// The seed of `path` in version `m`, as the backup's subscriber stored it,
// announced at `tracker` (a getter finds its holders there).
Seed seed_in(const fs::path& channel_dir, const Manifest& m, const std::string& path,
             const HostPort& tracker) {
    for (const auto& f : m.files) {
        if (f.path != path) continue;
        auto found = ChannelStore::inspect_seed(channel_dir, f.seed, Env::posix());
        REQUIRE(std::holds_alternative<std::optional<Seed>>(found));
        auto seed = std::get<std::optional<Seed>>(found);
        REQUIRE(seed);
        seed->trackers = {tracker};
        return *seed;
    }
    FAIL("no such file in the version: " << path);
    return {};
}

}  // namespace

TEST_CASE("backup: --keep-versions serves the version before the latest, also after a restart") {
    TempDir site, backup_dir, out1, out2;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(site / "a.txt", "alpha, version 1\n");
    write_file(site / "b.bin", pattern_bytes(300'000, 7));
    fs::create_directories(site / "docs");
    write_file(site / "docs" / "c.txt", "charlie, version 1\n");

    run_within(io, 180s, [&]() -> net::awaitable<void> {
        TestPublisher publisher(io, pool, "publisher", site.path(), test_key(11), tracker.address);
        const ChannelId channel = co_await publisher.published();
        const fs::path mirror = backup_dir / "channels" / channel.hex();
        const fs::path kept = backup_dir / "channel-versions" / channel.hex();

        auto backup =
            std::make_unique<VersionsBackup>(io, pool, backup_dir.path(), tracker.address, 2);
        const std::function<bool()> has_1 = [&] { return backup->channels->applied(channel) == 1; };
        REQUIRE(co_await eventually(has_1, 30s));
        CHECK(backup->channels->kept(channel).empty());
        const Manifest v1 = *publisher.publisher->published();
        const Seed b1 = seed_in(mirror, v1, "b.bin", tracker.address);
        const Seed c1 = seed_in(mirror, v1, "docs/c.txt", tracker.address);

        // Version 2: a.txt edited, b.bin deleted. The backup keeps of version
        // 1 what version 2 does not name (a.txt's and b.bin's old content).
        write_file(site / "a.txt", "alpha, version 2\n");
        fs::remove(site / "b.bin");
        const std::function<bool()> has_2 = [&] { return backup->channels->applied(channel) == 2; };
        REQUIRE(co_await eventually(has_2, 30s));
        // Kept before version 2 replaced it, so before it was applied.
        CHECK(backup->channels->kept(channel) == std::vector<std::uint64_t>{1});
        CHECK(fs::exists(kept / "1" / b1.id().hex()));
        CHECK_FALSE(fs::exists(kept / "1" / c1.id().hex()));  // unchanged: still in the mirror
        CHECK(backup->channels->covers(b1.id()));

        // No one else holds b.bin now: a getter gets it from the backup.
        const auto got_b = co_await get_alone(io, pool, b1, out1.path());
        CHECK(got_b == Download::Outcome::kComplete);
        CHECK(read_file(out1 / "b.bin") == pattern_bytes(300'000, 7));

        // Version 3: docs/c.txt edited. Two versions in all: version 2 is
        // kept (c.txt's old content), version 1 is dropped.
        write_file(site / "docs" / "c.txt", "charlie, version 3\n");
        const std::function<bool()> has_3 = [&] { return backup->channels->applied(channel) == 3; };
        REQUIRE(co_await eventually(has_3, 30s));
        // Dropped once version 3 is applied and served (just after it is
        // recorded as applied, so waited for): first from the list, then its
        // directory, removed on the pool.
        const std::function<bool()> only_2 = [&] {
            return backup->channels->kept(channel) == std::vector<std::uint64_t>{2};
        };
        CHECK(co_await eventually(only_2, 30s));
        const std::function<bool()> dir_1_gone = [&] { return !fs::exists(kept / "1"); };
        CHECK(co_await eventually(dir_1_gone, 30s));
        CHECK(fs::exists(kept / "2" / c1.id().hex()));
        CHECK_FALSE(backup->channels->covers(b1.id()));
        CHECK(read_file(mirror / "docs" / "c.txt") == "charlie, version 3\n");

        // The publisher leaves, and the backup restarts on the same directory.
        CHECK_FALSE(publisher.done);  // it ran until now
        co_await publisher.stop();
        co_await backup->stop();
        backup.reset();
        backup = std::make_unique<VersionsBackup>(io, pool, backup_dir.path(), tracker.address, 2);
        const std::function<bool()> reloaded = [&] {
            return backup->channels->kept(channel) == std::vector<std::uint64_t>{2};
        };
        REQUIRE(co_await eventually(reloaded, 30s));

        // Version 2's c.txt, held by the restarted backup alone.
        const auto got_c = co_await get_alone(io, pool, c1, out2.path());
        CHECK(got_c == Download::Outcome::kComplete);
        CHECK(read_file(out2 / "c.txt") == "charlie, version 1\n");

        // Restarted keeping only the latest: what was kept goes.
        co_await backup->stop();
        backup.reset();
        REQUIRE(fs::exists(kept / "2"));
        backup = std::make_unique<VersionsBackup>(io, pool, backup_dir.path(), tracker.address, 1);
        const std::function<bool()> dropped = [&] { return !fs::exists(kept / "2"); };
        CHECK(co_await eventually(dropped, 30s));
        CHECK(backup->channels->kept(channel).empty());
        CHECK_FALSE(backup->channels->covers(c1.id()));
        CHECK(read_file(mirror / "docs" / "c.txt") == "charlie, version 3\n");
        co_await backup->stop();
    });
}

// --keep-versions 2 within --max-size 700,000: versions 2 and 1 held (one
// 300,000-byte file each) and version 3 coming would be 900,000 while it is
// fetched, were version 1 (beyond the 2 kept once 3 is applied) still
// counted. It goes first: version 3 is applied, never refused, and what the
// channel holds after each version is within the quota.
TEST_CASE("backup: a version beyond --keep-versions goes first, to make room within --max-size") {
    TempDir site, backup_dir;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(site / "x.bin", pattern_bytes(300'000, 1001));

    run_within(io, 180s, [&]() -> net::awaitable<void> {
        TestPublisher publisher(io, pool, "publisher", site.path(), test_key(11), tracker.address);
        const ChannelId channel = co_await publisher.published();
        const fs::path kept = backup_dir / "channel-versions" / channel.hex();

        auto backup = std::make_unique<VersionsBackup>(io, pool, backup_dir.path(), tracker.address,
                                                       2, 700'000);
        for (std::uint64_t v = 1; v <= 3; ++v) {
            if (v > 1) write_file(site / "x.bin", pattern_bytes(300'000, 1000 + v * 7919));
            const std::function<bool()> has = [&] {
                return backup->channels->applied(channel) == v;
            };
            REQUIRE(co_await eventually(has, 30s));
            CHECK(backup->channels->refused(channel) == 0);
            CHECK(backup->channels->held_bytes() <= 700'000);
        }
        CHECK(backup->channels->kept(channel) == std::vector<std::uint64_t>{2});
        CHECK_FALSE(fs::exists(kept / "1"));
        CHECK(backup->channels->held_bytes() == 600'000);
        CHECK(read_file(backup_dir / "channels" / channel.hex() / "x.bin") ==
              read_file(site / "x.bin"));

        co_await backup->stop();
        CHECK_FALSE(publisher.done);  // it ran until now
        co_await publisher.stop();
    });
}

TEST_CASE(
    "backup: kept versions read back at a restart: only whole, checked pairs, never through a "
    "symlink") {
    TempDir root_dir, outside, src;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const fs::path root = root_dir.path();
    auto seed_of = [&](const std::string& name, const std::string& content) {
        write_file(src / name, content);
        SeedMakerOptions so;
        so.trackers = {tracker.address};
        auto made = make_seed(src / name, so);
        REQUIRE(made);
        return *made;
    };
    const Seed good = seed_of("good.txt", "kept and whole\n");
    const Seed no_seed = seed_of("alone.txt", "a file whose seed was never written\n");
    const Seed wrong_size = seed_of("short.txt", "the file kept is shorter than this\n");
    const fs::path v2 = root / "2";
    fs::create_directories(v2);
    write_file(v2 / good.id().hex(), "kept and whole\n");
    write_file(v2 / (good.id().hex() + ".seed"), format_seed(good));
    write_file(v2 / no_seed.id().hex(), "a file whose seed was never written\n");
    write_file(v2 / wrong_size.id().hex(), "shorter");
    write_file(v2 / (wrong_size.id().hex() + ".seed"), format_seed(wrong_size));
    write_file(v2 / (std::string(64, 'a') + ".seed"), "not a seed at all");
    write_file(v2 / "junk.tmp", "left by a stop");
    // A version "directory" that is a symlink to somewhere else: left alone.
    write_file(outside / "precious", "not the archive's");
    fs::create_directory_symlink(outside.path(), root / "3");

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        TestPeer peer(io, pool, "backup");
        VersionArchiveOptions o;
        o.root = root;
        o.keep = 5;
        o.trackers = {tracker.address};
        VersionArchive archive(*peer.node, *peer.trackers, o, peer.log);
        Manifest current;
        current.version = 4;
        co_await archive.applied(current);
        CHECK(archive.kept() == std::vector<std::uint64_t>{2});
        CHECK(archive.holds(good.id()));
        CHECK(archive.serves(good.id()));
        CHECK_FALSE(archive.holds(no_seed.id()));
        CHECK_FALSE(archive.holds(wrong_size.id()));
        co_await archive.leave();
        co_await peer.stop();
    });
    // What was whole stays; everything else in the version is gone.
    std::set<std::string> left;
    for (const auto& e : fs::directory_iterator(v2))
        left.insert(e.path().filename().string());
    CHECK(left == std::set<std::string>{good.id().hex(), good.id().hex() + ".seed"});
    CHECK(fs::is_symlink(root / "3"));
    CHECK(read_file(outside / "precious") == "not the archive's");
}

// The versions a new version pushes beyond --keep-versions go once it is
// applied; asked to (drop_first: the quota needs their room), before its
// files are fetched, in replacing().
TEST_CASE("backup: kept versions beyond --keep-versions go at the apply, or first when asked") {
    TempDir src, dir;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    // Versions 1 and 2 kept on disk (one whole, checked pair each).
    auto keep_on_disk = [&](const fs::path& root, std::uint64_t v, const std::string& content) {
        const std::string name = "f" + std::to_string(v);
        write_file(src / name, content);
        SeedMakerOptions so;
        so.trackers = {tracker.address};
        auto made = make_seed(src / name, so);
        REQUIRE(made);
        fs::create_directories(root / std::to_string(v));
        write_file(root / std::to_string(v) / made->id().hex(), content);
        write_file(root / std::to_string(v) / (made->id().hex() + ".seed"), format_seed(*made));
    };
    for (const bool first : {false, true}) {
        CAPTURE(first);
        TempDir root_dir;
        const fs::path root = root_dir.path();
        keep_on_disk(root, 1, "version one\n");
        keep_on_disk(root, 2, "version two\n");
        run_within(io, 60s, [&]() -> net::awaitable<void> {
            TestPeer peer(io, pool, "backup");
            VersionArchiveOptions o;
            o.root = root;
            o.keep = 2;
            o.trackers = {tracker.address};
            VersionArchive archive(*peer.node, *peer.trackers, o, peer.log);
            Manifest applied, next;
            applied.version = 2;
            next.version = 3;
            co_await archive.applied(applied);
            CHECK(archive.kept() == std::vector<std::uint64_t>{1, 2});
            CHECK(archive.bytes_going(2, 3) == std::string("version one\n").size());
            CHECK(archive.bytes_going(3, 3) == 0);
            if (first) archive.drop_first(3);
            co_await archive.replacing(applied, {}, dir.path(), next);
            if (first)
                CHECK(archive.kept() == std::vector<std::uint64_t>{2});
            else
                CHECK(archive.kept() == std::vector<std::uint64_t>{1, 2});
            co_await archive.applied(next);
            CHECK(archive.kept() == std::vector<std::uint64_t>{2});
            CHECK_FALSE(fs::exists(root / "1"));
            co_await archive.leave();
            co_await peer.stop();
        });
        io.restart();
    }
}

}  // namespace backup_versions_test
