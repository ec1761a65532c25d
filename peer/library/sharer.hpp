// What `peer serve DIR` does: shares every file under DIR (scan_directory)
// through a Node, registers each with its trackers, and keeps that true as
// files are added, removed or changed (rescans every `rescan`, and at once
// when a served file is caught changing under a read).
//
// Seeds come from a sidecar NAME.seed, the SeedCache, or are made on the
// thread pool. A file changed on disk is never served as if it still matched:
// its swarm is dropped and the new content seeded again.
#pragma once

#include <asio.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/log.hpp"
#include "common/net/net.hpp"
#include "common/net/wakeup.hpp"
#include "peer/discovery/trackers.hpp"
#include "peer/library/library.hpp"
#include "peer/node/node.hpp"
#include "peer/transfer/file_transfer.hpp"

namespace seedshare {

struct SharerOptions {
    std::filesystem::path dir;
    std::vector<HostPort> trackers;  // empty: each seed's own (new seeds: 127.0.0.1:7000)
    std::optional<std::filesystem::path> state_dir;  // the seed cache; none: hash on every start
    std::chrono::milliseconds rescan{2000};
    // Called after every scan, once shared() is up to date (a publisher
    // builds its next version from it).
    std::function<void()> after_scan;
};

class Sharer {
  public:
    Sharer(Node& node, Trackers& trackers, SharerOptions options, Logger log);

    // Scans and shares until stop(). `on_ready` runs once after the first scan.
    net::awaitable<void> run(std::function<void()> on_ready = {});
    void stop();

    struct Entry {
        SharedFile file;
        SeedId id;
        std::vector<HostPort> trackers;
        std::shared_ptr<FileTransfer> transfer;  // the file's part in its swarm
    };
    const std::map<std::filesystem::path, Entry>& shared() const { return shared_; }
    // Files with the same content (and name) as one in shared(): served once,
    // through that one's swarm; `transfer` is null.
    const std::map<std::filesystem::path, Entry>& duplicates() const { return duplicates_; }
    // Scan now instead of at the next interval.
    void rescan_soon() { rescan_signal_.notify(); }
    // Seeds made by hashing (not found next to the file or in the cache).
    std::size_t seeds_made() const { return seeds_made_; }
    // Scans completed so far.
    std::size_t scans() const { return scans_; }

  private:
    net::awaitable<void> rescan();
    net::awaitable<void> share(const SharedFile& file, bool rehash);
    // Says why a file is skipped, once while the reason lasts (SkipLog).
    void report(const Skip& skip, std::string_view then = {});

    Node& node_;
    Trackers& trackers_;
    SharerOptions options_;
    Logger log_;
    SeedCache cache_;
    std::map<std::filesystem::path, Entry> shared_;
    std::map<std::filesystem::path, Entry> duplicates_;
    std::set<SeedId> changed_;  // served files whose storage saw a change
    SkipLog skip_log_;
    // Skips found while sharing (a sidecar that does not match, a failure),
    // kept until the file is shared again or gone, so each is said once.
    std::map<std::filesystem::path, Skip> share_skips_;
    net::Wakeup rescan_signal_;
    std::atomic<bool> cancel_hashing_{false};
    bool stopping_ = false;
    std::size_t seeds_made_ = 0;
    std::size_t scans_ = 0;
};

}  // namespace seedshare
