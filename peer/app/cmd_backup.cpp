// peer backup DIR: the process around a Backup: the Node, signals, what is
// printed at the start and the end.
#include <fmt/format.h>

#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"
#include "peer/app/commands.hpp"
#include "peer/app/interrupts.hpp"
#include "peer/app/metrics.hpp"
#include "peer/app/run_command.hpp"
#include "peer/backup/backup.hpp"
#include "peer/backup/channel_backup.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A free function, not a capturing lambda: the coroutine outlives the call.
net::awaitable<void> follow_channels(ChannelBackup* channels, bool* done) {
    co_await channels->run();
    *done = true;
}

net::awaitable<int> backup_main(const BackupCommand& cmd, std::vector<ChannelId> channel_ids,
                                asio::io_context& io, asio::thread_pool& pool) {
    auto ex = io.get_executor();
    Logger log("peer", cmd.net.log_level);
    NetworkOptions net = cmd.net;
    if (!cmd.no_state) net.book_dir = cmd.state_dir ? cmd.state_dir : default_state_dir();
    // A backup peer, in its Hellos and to the trackers (which hand it out
    // after the other complete holders): getters spare its upload, however
    // they found it.
    NodeOptions node_opts = node_options(net);
    node_opts.backup = true;
    Node node(ex, pool, node_opts, log);
    node.listen();
    TrackersOptions as_backup;
    as_backup.backup = true;
    Trackers trackers(ex, node.user(), node.port(), log, as_backup);

    // The channels on a Node of their own (channel_backup.hpp says why), with
    // no address book of its own.
    NetworkOptions channel_net = cmd.net;
    channel_net.port = 0;
    channel_net.book_dir.reset();
    NodeOptions channel_node_opts = node_options(channel_net);
    channel_node_opts.backup = true;
    Node channel_node(ex, pool, channel_node_opts, log.sub("channels"));
    channel_node.listen();
    Trackers channel_trackers(ex, channel_node.user(), channel_node.port(), log.sub("channels"),
                              as_backup);
    ChannelBackupOptions channel_options;
    channel_options.dir = cmd.dir / "channels";
    channel_options.trackers = cmd.net.trackers;
    channel_options.channels = std::move(channel_ids);
    channel_options.versions_dir = cmd.dir / "channel-versions";
    channel_options.keep_versions = cmd.keep_versions;
    channel_options.poll = cmd.poll;
    // --max-size counts the channels and the files together: each side asks
    // the other what it holds before it takes more.
    const Backup* files = nullptr;
    channel_options.max_size = cmd.max_size;
    channel_options.others = [&files] { return files != nullptr ? files->reserved_bytes() : 0; };
    ChannelBackup channels(channel_node, channel_trackers, channel_options, log.sub("channels"));
    bool channels_done = cmd.no_channels;
    // What the channels held before this run counts in --max-size from the
    // file mirror's first plan on; they are followed once the mirror has
    // read back what it holds (so each side's first count sees the other's).
    if (!cmd.no_channels) co_await channels.restore();
    bool channels_spawned = false;

    BackupOptions options;
    options.also_held = [&channels](const SeedId& id) { return channels.covers(id); };
    options.dir = cmd.dir;
    options.trackers = cmd.net.trackers;
    options.limits.max_size = cmd.max_size;
    options.others = [&channels] { return channels.held_bytes(); };
    options.poll = cmd.poll;
    Backup backup(node, trackers, options, log);
    files = &backup;
    // Gone before `backup` is, however this function ends.
    struct Forget {
        const Backup*& files;
        ~Forget() { files = nullptr; }
    } forget{files};
    const auto metrics = start_metrics(cmd.net.metrics, ex, node, "backup");

    // The first signal stops the backup in order (fetches in flight end,
    // uploads finish); a second one ends the process at once: .part files
    // are kept and a restart resumes.
    const Interrupts interrupts(
        ex, log,
        [&] {
            backup.stop();
            channels.stop();
        },
        "a restart resumes");
    co_await backup.run([&] {
        if (!channels_done)
            net::spawn(ex, follow_channels(&channels, &channels_done), log, "channels");
        channels_spawned = true;
        // One line once the held files are served (scripts wait for it).
        fmt::print("backup of {} on port {}: serving {} already held ({})\n", cmd.dir.string(),
                   node.port(), count_of(backup.held(), "file"), format_bytes(backup.held_bytes()));
        std::fflush(stdout);
    });
    // Ordered: every coroutine of the backup and of the channels has ended
    // (backup.run() returns only then; channels_done says so) before the
    // Nodes and Trackers they refer to stop and are destroyed.
    channels.stop();
    if (!channels_spawned) channels_done = true;
    asio::steady_timer tick(ex);
    while (!channels_done)
        co_await net::sleep_for(tick, 50ms);
    log.info("leaving: finishing uploads in flight");
    co_await node.stop(kGoodbyeGrace);
    co_await channel_node.stop(kGoodbyeGrace);
    co_await trackers.leave();
    co_await channel_trackers.leave();
    // Exact numbers, one line (scripts read it: test/e2e/backup.sh).
    fmt::print("backup held {} ({} bytes); fetched {} bytes; {} skipped\n",
               count_of(backup.held(), "file"), backup.held_bytes(), backup.fetched_bytes(),
               backup.skipped().size());
    std::fflush(stdout);
    co_return kExitOk;
}

}  // namespace

int run_backup(const BackupCommand& cmd) {
    std::vector<ChannelId> channel_ids;
    for (const auto& text : cmd.channels) {
        const auto id = ChannelId::from_hex_string(text);
        if (!id) {
            fmt::print(stderr, "peer: --channel '{}' is not a channel id (64 hex digits)\n", text);
            return kExitUsage;
        }
        channel_ids.push_back(*id);
    }
    std::error_code ec;
    if (fs::exists(cmd.dir, ec) && !fs::is_directory(cmd.dir, ec)) {
        fmt::print(stderr, "peer: {}: not a directory\n", cmd.dir.string());
        return kExitUsage;
    }
    fs::create_directories(cmd.dir, ec);
    if (ec) {
        fmt::print(stderr, "peer: cannot make {}: {}\n", cmd.dir.string(), ec.message());
        return kExitFailure;
    }
    return run_command([&](asio::io_context& io, asio::thread_pool& pool) {
        return backup_main(cmd, channel_ids, io, pool);
    });
}

}  // namespace seedshare
