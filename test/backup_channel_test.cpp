// The backup peer's channels, in one io_context: a publisher and a
// subscriber leave; a new subscriber still syncs the latest version, from
// the backup alone.
#include <doctest/doctest.h>

#include <filesystem>

#include "peer/backup/channel_backup.hpp"
#include "test/support/backup_harness.hpp"
#include "test/support/channel_harness.hpp"
#include "test/support/cluster.hpp"
#include "test/support/temp_dir.hpp"

namespace backup_channel_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A subscriber on a peer of its own, run in the background.
struct RunningSubscriber {
    TestPeer peer;
    std::unique_ptr<Subscriber> subscriber;
    bool done = false;
    Subscriber::Outcome outcome = Subscriber::Outcome::kStopped;
    RunningSubscriber(asio::io_context& io, asio::thread_pool& pool, const ChannelId& channel,
                      const fs::path& dir, const HostPort& tracker, bool once)
        : peer(io, pool, "subscriber") {
        SubscriberOptions o;
        o.channel = channel;
        o.dir = dir;
        o.trackers = {tracker};
        o.once = once;
        o.rescan = 100ms;
        o.tracker_poll = 500ms;
        o.mesh.tick = 50ms;
        subscriber = std::make_unique<Subscriber>(*peer.node, *peer.trackers, o, peer.log);
        net::spawn(io.get_executor(), run(), Logger("test"), "subscriber");
    }
    net::awaitable<void> run() {
        outcome = co_await subscriber->run();
        done = true;
    }
    net::awaitable<void> stop() {
        subscriber->stop();
        const std::function<bool()> ended = [this] { return done; };
        CHECK(co_await eventually(ended, 10s));
        co_await peer.stop();
    }
};

// A channel backup's options for a test: short polls, under `dir`.
ChannelBackupOptions quick_channels(const fs::path& dir, const HostPort& tracker) {
    ChannelBackupOptions bo;
    bo.dir = dir / "channels";
    bo.trackers = {tracker};
    bo.poll = 100ms;
    bo.tracker_poll = 500ms;
    bo.rescan = 100ms;
    bo.mesh.tick = 50ms;
    return bo;
}

// A first run before a restart: `key`'s publisher publishes `site` as
// version 1, a channel backup into `dir` (following that channel) applies
// it, then both stop. Its channel, the version's seeds, and what the channel
// side held.
struct FirstRun {
    ChannelId channel;
    std::vector<SeedId> seeds;
    std::uint64_t held_bytes = 0;
};
net::awaitable<FirstRun> hold_first_version(asio::io_context& io, asio::thread_pool& pool,
                                            const fs::path& site, std::uint8_t key,
                                            const HostPort& tracker, const fs::path& dir) {
    FirstRun run;
    TestPublisher publisher(io, pool, "publisher", site, test_key(key), tracker);
    run.channel = co_await publisher.published();
    for (const auto& f : publisher.publisher->published()->files)
        run.seeds.push_back(f.seed);
    TestPeer backup_peer(io, pool, "backup");
    ChannelBackupOptions bo = quick_channels(dir, tracker);
    bo.channels = {run.channel};
    ChannelBackup channels(*backup_peer.node, *backup_peer.trackers, bo, backup_peer.log);
    bool channels_done = false;
    net::spawn(io.get_executor(), run_channel_backup(&channels, &channels_done), Logger("test"),
               "channels");
    const std::function<bool()> held = [&] { return channels.applied(run.channel) == 1; };
    REQUIRE(co_await eventually(held, 30s));
    run.held_bytes = channels.held_bytes();
    channels.stop();
    const std::function<bool()> ended = [&] { return channels_done; };
    CHECK(co_await eventually(ended, 15s));
    co_await backup_peer.stop();
    CHECK_FALSE(publisher.done);  // it ran until now
    co_await publisher.stop();
    co_return run;
}

}  // namespace

TEST_CASE("backup: a channel outlives its publisher and subscribers") {
    TempDir site, sub, backup_dir, late;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(site / "big.bin", pattern_bytes(600'000, 3));
    fs::create_directories(site / "docs");
    write_file(site / "docs" / "a.txt", "alpha\n");

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        TestPublisher publisher(io, pool, "publisher", site.path(), test_key(5), tracker.address);
        const ChannelId channel = co_await publisher.published();
        auto subscriber = std::make_unique<RunningSubscriber>(io, pool, channel, sub.path(),
                                                              tracker.address, false);

        // The backup follows every channel the tracker lists.
        TestPeer backup_peer(io, pool, "backup");
        ChannelBackup channels(*backup_peer.node, *backup_peer.trackers,
                               quick_channels(backup_dir.path(), tracker.address), backup_peer.log);
        bool channels_done = false;
        net::spawn(io.get_executor(), run_channel_backup(&channels, &channels_done), Logger("test"),
                   "channels");
        const std::function<bool()> held = [&] { return channels.applied(channel) == 1; };
        CHECK(co_await eventually(held, 30s));
        CHECK(channels.followed() == 1);
        CHECK(tree(backup_dir / "channels" / channel.hex()) == tree(site.path()));
        for (const auto& f : publisher.publisher->published()->files)
            CHECK(channels.covers(f.seed));

        // The publisher and the subscriber leave (both running until now).
        CHECK_FALSE(subscriber->done);
        co_await subscriber->stop();
        CHECK_FALSE(publisher.done);  // it ran until now
        co_await publisher.stop();

        // A new subscriber syncs version 1 from the backup alone.
        auto fresh = std::make_unique<RunningSubscriber>(io, pool, channel, late.path(),
                                                         tracker.address, true);
        const std::function<bool()> fresh_done = [&] { return fresh->done; };
        CHECK(co_await eventually(fresh_done, 30s));
        CHECK(fresh->outcome == Subscriber::Outcome::kUpToDate);
        CHECK(tree(late.path()) == tree(site.path()));
        co_await fresh->stop();

        channels.stop();
        const std::function<bool()> ended = [&] { return channels_done; };
        CHECK(co_await eventually(ended, 15s));
        co_await backup_peer.stop();
    });
}

// --max-size counts a channel's versions with the files the backup holds
// (here a stand-in for them: `others`): a version that would not fit is not
// applied, and is once room is made.
TEST_CASE("backup: a channel version beyond --max-size waits until it fits") {
    TempDir site, backup_dir;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(site / "big.bin", pattern_bytes(600'000, 4));
    write_file(site / "a.txt", "alpha\n");

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        TestPublisher publisher(io, pool, "publisher", site.path(), test_key(6), tracker.address);
        const ChannelId channel = co_await publisher.published();

        TestPeer backup_peer(io, pool, "backup");
        std::uint64_t files_held = 500'000;  // what the file mirror would hold
        ChannelBackupOptions bo = quick_channels(backup_dir.path(), tracker.address);
        bo.channels = {channel};
        bo.max_size = 1'000'000;
        bo.others = [&] { return files_held; };
        ChannelBackup channels(*backup_peer.node, *backup_peer.trackers, bo, backup_peer.log);
        bool channels_done = false;
        net::spawn(io.get_executor(), run_channel_backup(&channels, &channels_done), Logger("test"),
                   "channels");

        // 600,006 bytes where 500,000 are left: known, not applied, nothing
        // of it fetched.
        const std::function<bool()> refused = [&] { return channels.refused(channel) == 1; };
        REQUIRE(co_await eventually(refused, 30s));
        CHECK(channels.applied(channel) == 0);
        CHECK_FALSE(fs::exists(backup_dir / "channels" / channel.hex() / "big.bin"));
        CHECK(channels.held_bytes() == 0);

        // The files leave room: the version is applied at the next round.
        files_held = 300'000;
        const std::function<bool()> held = [&] { return channels.applied(channel) == 1; };
        CHECK(co_await eventually(held, 30s));
        CHECK(tree(backup_dir / "channels" / channel.hex()) == tree(site.path()));
        CHECK(channels.held_bytes() == 600'006);

        CHECK_FALSE(publisher.done);  // it ran until now
        co_await publisher.stop();
        channels.stop();
        const std::function<bool()> ended = [&] { return channels_done; };
        CHECK(co_await eventually(ended, 15s));
        co_await backup_peer.stop();
    });
}

// A restart: before its channels are followed again, the channel side counts
// what it held (restore(): the applied version, and files kept of earlier
// versions as the archive would read them), and a real file mirror sharing
// the quota with it skips a file that would not fit beside them, naming it.
TEST_CASE("backup: at a restart --max-size counts the channels held before they are followed") {
    TempDir site, backup_dir, src;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(site / "big.bin", pattern_bytes(600'000, 7));
    write_file(site / "a.txt", "alpha\n");
    const Seed extra = make_seeded_file(src, "extra.bin", 500'000, tracker.address);

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        // A first run holds the channel's version 1 (600,006 bytes).
        const FirstRun first = co_await hold_first_version(io, pool, site.path(), 8,
                                                           tracker.address, backup_dir.path());
        CHECK(first.held_bytes == 600'006);
        const ChannelId& channel = first.channel;
        const std::vector<SeedId>& v1_seeds = first.seeds;

        // Kept files of earlier versions, as an archive leaves them: version
        // 5's 100,000 bytes count (not its .seed); what is kept of the
        // applied version 1 is links to DIR's files (counted there), and a
        // name that is not a canonical number, a file, or a symlink to a
        // directory is not a version.
        const fs::path kept = backup_dir / "channel-versions" / channel.hex();
        for (const char* d : {"5", "1", "007", "x"}) {
            fs::create_directories(kept / d);
            write_file(kept / d / std::string(64, 'a'), pattern_bytes(100'000, 77));
            write_file(kept / d / (std::string(64, 'a') + ".seed"), "seed text");
        }
        write_file(kept / "6", "not a directory");
        fs::create_directory_symlink(kept / "x", kept / "9");

        // The restart, as `peer backup` does it: the channels' restore, then
        // the file mirror, whose quota counts them. Not followed yet.
        TestPeer channel_peer(io, pool, "channels");
        ChannelBackupOptions bo = quick_channels(backup_dir.path(), tracker.address);
        bo.versions_dir = backup_dir / "channel-versions";
        bo.max_size = 1'000'000;
        ChannelBackup channels(*channel_peer.node, *channel_peer.trackers, bo, channel_peer.log);
        CHECK(channels.held_bytes() == 0);
        co_await channels.restore();
        CHECK(channels.held_bytes() == 700'006);
        CHECK(channels.followed() == 0);
        // Its files are the channel's: the file mirror leaves them alone.
        REQUIRE(v1_seeds.size() == 2);
        for (const auto& id : v1_seeds)
            CHECK(channels.covers(id));

        TestPeer sharer(io, pool, "sharer", quick_swarm());
        co_await sharer.share(extra, open_shared(src / extra.name), tracker.address);
        auto o = quick_backup(backup_dir.path(), tracker.address);
        o.limits.max_size = 1'000'000;
        o.others = [&channels] { return channels.held_bytes(); };
        o.also_held = [&channels](const SeedId& id) { return channels.covers(id); };
        RunningBackup files(io, pool, o);
        files.start(io);
        const auto skipped_extra = [&] {
            for (const auto& [name, why] : files.backup->skipped())
                if (name == "extra.bin") return why == BackupSkip::kBeyondQuota;
            return false;
        };
        const std::function<bool()> skipped = skipped_extra;
        REQUIRE(co_await eventually(skipped, 30s));
        co_await files.more_polls(2);
        CHECK(skipped_extra());
        CHECK_FALSE(files.backup->holds(extra.id()));
        co_await files.stop();
        co_await sharer.stop();
        co_await channel_peer.stop();
    });
}

// A channel held before a restart but no longer followed (here: another
// channel is named) leaves its seeds to the file mirror once the channel
// side has followed what it follows; until then they are covered.
TEST_CASE("backup: a channel held before a restart and not followed again is not covered") {
    TempDir site, backup_dir;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(site / "a.bin", pattern_bytes(50'000, 9));

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        const FirstRun first = co_await hold_first_version(io, pool, site.path(), 9,
                                                           tracker.address, backup_dir.path());
        const std::vector<SeedId>& seeds = first.seeds;
        REQUIRE(seeds.size() == 1);

        TestPeer peer(io, pool, "channels");
        ChannelBackupOptions bo = quick_channels(backup_dir.path(), tracker.address);
        bo.channels = {channel_id_of(test_key(10).public_key())};  // another channel
        ChannelBackup channels(*peer.node, *peer.trackers, bo, peer.log);
        co_await channels.restore();
        CHECK(channels.covers(seeds[0]));
        CHECK(channels.held_bytes() == 50'000);
        bool channels_done = false;
        net::spawn(io.get_executor(), run_channel_backup(&channels, &channels_done), Logger("test"),
                   "channels");
        const std::function<bool()> following = [&] { return channels.followed() == 1; };
        REQUIRE(co_await eventually(following, 30s));
        CHECK_FALSE(channels.covers(seeds[0]));
        CHECK(channels.held_bytes() == 50'000);  // still on the disk
        channels.stop();
        const std::function<bool()> ended = [&] { return channels_done; };
        CHECK(co_await eventually(ended, 15s));
        co_await peer.stop();
    });
}

}  // namespace backup_channel_test
