// The channels a backup peer follows: one Subscriber per channel, into
// DIR/channels/<id>/, so a channel's latest version outlives its publisher
// and subscribers (a new subscriber syncs it from the backup, through the
// channel's mesh and the file swarms). The channels named (`--channel`), or
// else every channel the trackers list, polled, up to
// limits::kMaxBackupChannels. Each keeps the latest version (the
// subscriber's own rule: old files are replaced once the new ones verify)
// and, with `keep_versions` above 1, the versions before it in
// DIR/channel-versions/<id>/ (version_archive.hpp), served too.
//
// Runs on a Node of its own (cmd_backup.cpp): a subscriber refuses to fetch a
// seed its Node already has a swarm for, and the backup's file mirror has
// swarms for every seed listed. covers() lets the mirror leave alone the
// seeds a followed channel brings.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/ids.hpp"
#include "common/core/limits.hpp"
#include "common/core/log.hpp"
#include "common/net/net.hpp"
#include "common/net/wakeup.hpp"
#include "peer/backup/version_archive.hpp"
#include "peer/channel/subscriber.hpp"
#include "peer/discovery/trackers.hpp"
#include "peer/node/node.hpp"

namespace seedshare {

struct ChannelBackupOptions {
    std::filesystem::path dir;           // DIR/channels
    std::filesystem::path versions_dir;  // DIR/channel-versions; empty: none kept
    std::size_t keep_versions = 1;       // the latest and the keep_versions - 1 before it
    std::vector<HostPort> trackers;
    std::vector<ChannelId> channels;  // empty: every channel the trackers list
    std::chrono::milliseconds poll{3000};
    std::size_t max_channels = limits::kMaxBackupChannels;
    // For each Subscriber (tests shorten them).
    std::chrono::milliseconds tracker_poll{10000};
    std::chrono::milliseconds rescan{10000};
    ChannelMeshOptions mesh;
    // --max-size: the channels' versions (the applied one, one being
    // applied, those kept) and `others` (the files the backup mirrors)
    // together; 0: no quota. A version that would not fit is not applied
    // (said once), and asked about again each round.
    std::uint64_t max_size = 0;
    std::function<std::uint64_t()> others;
};

class ChannelBackup {
  public:
    ChannelBackup(Node& node, Trackers& trackers, ChannelBackupOptions options, Logger log);
    ~ChannelBackup();

    // Reads what an earlier run left in DIR (each channel's applied version
    // and the files kept of earlier ones), so that --max-size counts it from
    // the start, before the channels are followed again; call before run()
    // and before the file mirror plans (cmd_backup.cpp). Bounded by
    // max_channels; what does not read back (no state, a manifest that does
    // not check) counts nothing.
    net::awaitable<void> restore();
    // Follows until stop(); returns once every subscriber has ended.
    net::awaitable<void> run();
    void stop();

    std::size_t followed() const { return subscribers_.size(); }
    // Whether a followed channel's applied or latest version, or a version
    // kept of it, names this seed; or, after restore(), the applied version
    // of a channel held before (until run() has followed what it follows,
    // then while that channel, followed again, has not read it back).
    bool covers(const SeedId& id) const;
    // The earlier versions kept of a channel, oldest first.
    std::vector<std::uint64_t> kept(const ChannelId& channel) const;
    // The version applied for a channel (0: none, or not followed).
    std::uint64_t applied(const ChannelId& channel) const;
    // The last version of a channel --max-size kept out (0: none).
    std::uint64_t refused(const ChannelId& channel) const;
    // What --max-size counts of the channels: for each, the applied version,
    // the new files of one being applied, and the files kept of earlier
    // versions.
    std::uint64_t held_bytes() const;

  private:
    // false: not followed because the backup follows its limit already
    // (the caller says so, once per poll).
    bool follow(const ChannelId& channel);
    // Whether a channel's version fits in --max-size now (a reason if not).
    std::optional<std::string> admit(const ChannelId& channel, const Manifest& m);
    // The bytes of a channel's applied (or admitted) version and kept files.
    std::uint64_t channel_bytes(const ChannelId& channel) const;
    // Its applied version and kept files: as restore() read them until its
    // subscriber and archive have read them back themselves (settled()).
    std::uint64_t held_of(const ChannelId& channel) const;
    bool settled(const ChannelId& channel) const;
    net::awaitable<void> run_subscriber(ChannelId channel, std::shared_ptr<Subscriber> s,
                                        std::shared_ptr<VersionArchive> archive);

    Node& node_;
    Trackers& trackers_;
    ChannelBackupOptions options_;
    Logger log_;
    std::map<ChannelId, std::shared_ptr<Subscriber>> subscribers_;
    std::map<ChannelId, std::shared_ptr<VersionArchive>> archives_;
    // The version last admitted for each channel, and the bytes of its
    // files the applied version did not have (counted while it is applied).
    struct Admitted {
        std::uint64_t version = 0;
        std::uint64_t new_bytes = 0;
    };
    std::map<ChannelId, Admitted> admitted_;
    // restore(): what each channel held on disk, and the seeds of its
    // applied version (covers() names them until it is followed again).
    struct Restored {
        std::uint64_t bytes = 0;
        std::set<SeedId> seeds;
    };
    std::map<ChannelId, Restored> restored_;
    bool first_pass_done_ = false;  // run() followed the channels named, or those first listed
    std::set<ChannelId> ended_;     // subscribers that ended by themselves (not stopped)
    net::Wakeup wake_;              // ends the poll interval: stop()
    std::size_t running_ = 0;
    bool stopping_ = false;
    bool listing_failed_ = false;
};

}  // namespace seedshare
