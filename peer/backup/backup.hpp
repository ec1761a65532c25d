// What `peer backup DIR` does: keeps a copy of every seed the trackers list
// and serves it, so content outlives the peers that shared it.
//
// Every `poll` it asks the trackers for their listings, looks up who holds
// the seeds it has not seen (at the rate limits::kBackupNewSeedsPerSecond),
// and lets plan_backup() (pure, backup_planner.hpp) decide what to fetch,
// skip or wait for. Each fetch is an ordinary `get` (Download: the seed text
// from the trackers, its id checked; DIR/files/ID/NAME.part resumed, every
// chunk verified), after which the file is served from there. What it holds
// is remembered in the SeedCache of DIR/.backup, so a restart serves every
// held file at once without fetching or hashing it again. Writes only inside
// DIR.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/log.hpp"
#include "common/net/net.hpp"
#include "common/net/wakeup.hpp"
#include "peer/backup/backup_planner.hpp"
#include "peer/discovery/trackers.hpp"
#include "peer/library/library.hpp"
#include "peer/node/node.hpp"
#include "peer/transfer/download.hpp"
#include "peer/transfer/file_transfer.hpp"

namespace seedshare {

struct BackupOptions {
    std::filesystem::path dir;
    std::vector<HostPort> trackers;  // asked for listings, seeds and peers (at least one)
    BackupLimits limits;
    std::chrono::milliseconds poll{3000};  // how often the trackers are asked
    // A fetch that verifies no chunk for this long is given up (its seed
    // rests, then is tried again): a holder that never sends keeps no slot.
    std::chrono::milliseconds fetch_stall{60000};
    // New seeds looked up per second, and in a burst.
    double new_seeds_per_second = limits::kBackupNewSeedsPerSecond;
    double new_seeds_burst = limits::kBackupNewSeedsBurst;
    // Seeds left to someone else (the channels the backup follows hold
    // them): never fetched here.
    std::function<bool(const SeedId&)> also_held;
    // Called after each poll (tests and the command watch progress).
    std::function<void()> after_poll;
    // Bytes under DIR held otherwise (the channels followed): counted
    // against limits.max_size with the files'.
    std::function<std::uint64_t()> others;
};

class Backup {
  public:
    Backup(Node& node, Trackers& trackers, BackupOptions options, Logger log);
    ~Backup();

    // Serves what DIR holds, then follows the trackers until stop(); returns
    // only once every coroutine it started has ended (none is left behind to
    // outlive the Backup, its Node or its Trackers). `on_ready` runs once the
    // held files are served.
    net::awaitable<void> run(std::function<void()> on_ready = {});
    // Ends run() by cancellation: the fetches stop (their .part kept), and
    // whatever awaits a tracker (a listing, a seed text, a lookup) is
    // cancelled at once, not waited for until it times out.
    void stop();

    // Seeds held complete and served.
    std::size_t held() const { return held_.size(); }
    std::uint64_t held_bytes() const;
    // What the quota counts of the files: held, and being fetched.
    std::uint64_t reserved_bytes() const;
    // Seeds being fetched now (asking the trackers for the seed text, or
    // downloading).
    std::size_t fetching() const { return fetching_lengths_.size(); }
    // Coroutines of this Backup under way (0 once run() has returned).
    std::size_t tasks() const { return tasks_; }
    // Held files served at start from what DIR held (no byte fetched).
    std::size_t restored() const { return restored_; }
    // Bytes verified from the network by this process's fetches.
    std::uint64_t fetched_bytes() const { return fetched_bytes_; }
    // Seeds skipped (name, why), each once.
    const std::vector<std::pair<std::string, BackupSkip>>& skipped() const { return skipped_; }
    bool disk_full() const { return disk_full_; }
    bool holds(const SeedId& id) const { return held_.contains(id); }
    // What this Backup keeps in memory, in entries of its containers (each
    // bounded by the listing, limits::kMaxBackupListing, or by the limits
    // of BackupLimits): tests assert a hostile sharer cannot grow them.
    struct Footprint {
        std::size_t listed = 0;    // seeds of the last listing kept
        std::size_t sources = 0;   // seeds whose holders were looked up
        std::size_t resting = 0;   // seeds resting after a failure
        std::size_t said = 0;      // (seed, reason) skips already said
        std::size_t skipped = 0;   // skipped() entries
        std::size_t held = 0;      // held()
        std::size_t fetching = 0;  // fetches, and their downloads
    };
    Footprint footprint() const;
    // Where a held seed's file is: DIR/files/ID/NAME.
    std::filesystem::path path_of(const Seed& seed) const;

  private:
    struct Held {
        std::uint64_t length = 0;
        std::shared_ptr<Download> download;      // fetched by this run: it serves
        std::unique_ptr<FileTransfer> transfer;  // or restored at start
    };
    net::awaitable<void> restore();
    net::awaitable<void> follow();
    net::awaitable<void> poll();
    // What the plan says now: its fetches started; returns the seeds to look up.
    net::awaitable<std::vector<SeedId>> plan_and_start();
    // Who holds each; true when any holder was found.
    net::awaitable<bool> lookup(std::vector<SeedId> ids);
    net::awaitable<void> fetch(ListedSeed listed);
    void rest(const SeedId& id, std::chrono::milliseconds how_long);
    // Runs `task` counted in tasks_, cancelled by stop().
    void spawn_task(net::awaitable<void> task, const char* what);
    std::size_t allowance();

    Node& node_;
    Trackers& trackers_;
    BackupOptions options_;
    Logger log_;
    SeedCache cache_;  // DIR/.backup: the files held, by path, size, mtime, inode
    std::map<SeedId, Held> held_;
    std::map<SeedId, std::uint64_t> fetching_lengths_;
    std::map<SeedId, std::shared_ptr<Download>> fetching_;
    std::map<SeedId, std::vector<std::string>> sources_;
    std::map<SeedId, std::chrono::steady_clock::time_point> resting_;
    std::vector<ListedSeed> listed_;
    std::set<std::pair<SeedId, BackupSkip>> said_;
    std::vector<std::pair<std::string, BackupSkip>> skipped_;
    double tokens_;
    std::chrono::steady_clock::time_point tokens_at_;
    net::Wakeup wake_;  // ends the poll interval: a fetch ended, or stop()
    // The tasks under way, each with the signal stop() cancels it by.
    std::list<std::shared_ptr<asio::cancellation_signal>> signals_;
    std::size_t tasks_ = 0;
    asio::steady_timer tasks_done_;  // cancelled as each task ends
    std::size_t restored_ = 0;
    std::uint64_t fetched_bytes_ = 0;
    bool disk_full_ = false;
    bool stopping_ = false;
    bool listing_failed_ = false;
};

}  // namespace seedshare
