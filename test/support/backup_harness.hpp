// What the in-process tests of the backup peer share: files and their seeds
// made for a test tracker, quick swarm settings, a Backup run in the
// background, and a get by a peer of its own.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "peer/backup/backup.hpp"
#include "peer/backup/channel_backup.hpp"
#include "test/support/cluster.hpp"
#include "test/support/seeded_files.hpp"
#include "test/support/temp_dir.hpp"

namespace seedshare::test {

// A backup into `dir` following `tracker`, polling often.
inline BackupOptions quick_backup(const std::filesystem::path& dir, const HostPort& tracker) {
    BackupOptions o;
    o.dir = dir;
    o.trackers = {tracker};
    o.poll = std::chrono::milliseconds(100);
    o.fetch_stall = std::chrono::milliseconds(3000);
    return o;
}

// A ChannelBackup run until it ends; then *done.
inline net::awaitable<void> run_channel_backup(ChannelBackup* c, bool* done) {
    co_await c->run();
    *done = true;
}

// A Backup and its peer, run in the background. `marked`: its trackers join
// it as a backup peer (as `peer backup` does), so getters spare it;
// `declared`: its Hellos say so (as `peer backup`'s do).
inline NodeOptions backup_node_options(bool declared, const Clock* clock = &Clock::real(),
                                       Env* env = &Env::posix()) {
    NodeOptions o = node_options(quick_swarm());
    o.backup = declared;
    o.clock = clock;
    o.env = env;
    return o;
}

struct RunningBackup {
    TestPeer peer;
    std::unique_ptr<Backup> backup;
    bool ready = false;  // it serves what it held at start
    bool ended = false;
    std::size_t polls = 0;  // polls done

    // `clock`: the node's (its polls, rests and swarms' discovery); `env`:
    // its file system (a test's FaultyEnv).
    RunningBackup(asio::io_context& io, asio::thread_pool& pool, BackupOptions o,
                  bool marked = false, bool declared = false, const Clock* clock = &Clock::real(),
                  Env* env = &Env::posix())
        : peer(io, pool, Logger("backup"), backup_node_options(declared, clock, env)) {
        o.after_poll = [this, also = std::move(o.after_poll)] {
            ++polls;
            if (also) also();
        };
        if (marked) {
            TrackersOptions as_backup;
            as_backup.backup = true;
            peer.trackers = std::make_unique<Trackers>(io.get_executor(), peer.node->user(),
                                                       peer.node->port(), peer.log, as_backup);
        }
        backup = std::make_unique<Backup>(*peer.node, *peer.trackers, std::move(o), peer.log);
    }
    void start(asio::io_context& io) { net::spawn(io.get_executor(), run(), peer.log, "backup"); }
    net::awaitable<void> run() {
        std::function<void()> on_ready = [this] { ready = true; };
        co_await backup->run(on_ready);
        ended = true;
    }
    // Returns once `n` more polls were done (required; a bounded wait):
    // what a poll would have changed, it has.
    net::awaitable<void> more_polls(std::size_t n) {
        const auto until = polls + n;
        const std::function<bool()> done = [this, until] { return polls >= until; };
        REQUIRE(co_await eventually(done, std::chrono::seconds(30)));
    }
    PeerAddress address() const {
        return PeerAddress{asio::ip::make_address("127.0.0.1"), peer.node->port()};
    }
    std::uint64_t uploaded() const { return peer.node->counters().bytes_up; }
    net::awaitable<void> stop() {
        backup->stop();
        const std::function<bool()> done = [this] { return ended; };
        CHECK(co_await eventually(done, std::chrono::seconds(30)));
        co_await peer.stop();
    }
};

// Gets `seed` into `out` with a new peer of its own (through the seed's
// trackers, and `peers` if any); the outcome.
inline net::awaitable<Download::Outcome> get_alone(asio::io_context& io, asio::thread_pool& pool,
                                                   const Seed& seed,
                                                   const std::filesystem::path& out,
                                                   std::vector<PeerAddress> peers = {}) {
    TestPeer getter(io, pool, "getter", quick_swarm());
    DownloadOptions o;
    o.seed = seed;
    o.out_dir = out;
    o.peers = std::move(peers);
    Download d(*getter.node, *getter.trackers, o, getter.log);
    const auto outcome = co_await d.run();
    co_await getter.stop();
    co_return outcome;
}

}  // namespace seedshare::test
