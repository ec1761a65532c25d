// What `peer publish DIR --key FILE` does: serves every file under DIR (a
// Sharer) and publishes DIR as the channel's next version whenever its
// content differs from the last version published: at once after the first
// scan, then when a rescan sees changes and the next one sees the same
// (the directory has settled). A version is a signed manifest (every file's
// path, seed id and length), offered to the trackers and announced to the
// channel's mesh, through which subscribers pass it on.
//
// A publisher that lost its files (a wiped disk, a new machine, an old
// backup) never publishes a version that deletes or reverts them: at start,
// when the trackers know a later version of the channel than the one
// DIR/.seedshare/published records (or it records none), DIR is first brought
// to that version from the network like a subscriber's (Subscriber --once:
// sync_to, the files from the channel's subscribers), which the log says;
// that version is then the one published here, and publishing goes on from
// it. If it cannot be brought back, run() throws and nothing is published.
//
// Numbers only go up: the next number is one above the highest of the last
// version published here (DIR/.seedshare/published) and the highest valid
// version the trackers or the mesh know, so a publisher that lost its state,
// or the same key on a new machine, continues from the network's number.
//
// Hand-over (seeds/MANIFEST.md): with `handover` (a record signed by the
// channel's current key naming this key), the channel is the record's and
// every version published here carries the hand-over chain: the chain of the
// latest version known (here or on the network) with the record appended.
// A key that the channel's chain has handed over publishes nothing: run()
// throws, naming the key that publishes now. Without `handover`, the channel
// is the one DIR's last version was handed over to this key in, if any
// (handed_over_channel), else the key's own.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/log.hpp"
#include "common/crypto/ed25519.hpp"
#include "common/env/env.hpp"
#include "common/model/manifest.hpp"
#include "peer/channel/channel_mesh.hpp"
#include "peer/library/sharer.hpp"

namespace seedshare {

class Subscriber;

struct PublisherOptions {
    std::filesystem::path dir;
    ChannelKey key;
    std::string name;                // the channel's name, for people
    std::vector<HostPort> trackers;  // where the manifest and the files are announced
    std::optional<std::filesystem::path> seed_cache;  // the Sharer's state directory
    std::chrono::milliseconds rescan{2000};
    ChannelMeshOptions mesh;
    // Publishing passed to `key` by this record (its channel is the one
    // published); nullopt: the channel is the key's own, or its chain (learnt
    // from DIR or the network) already names the key.
    std::optional<HandoverRecord> handover;
};

// The hand-over chain the next version carries: `known` (the latest
// version's) with `handover` appended when it is not in it yet; an error when
// the record does not continue `known`, or when `key` is not the chain's
// publishing key then (it handed over, or was never handed the channel). Pure.
Result<std::vector<Handover>> chain_to_publish(const ChannelId& channel,
                                               const std::vector<Handover>& known,
                                               const std::optional<HandoverRecord>& handover,
                                               const PublicKey& key);

// The channel that the version recorded in DIR (DIR/.seedshare/published's
// text) shows was handed over to `key`: its channel when it is a valid
// version whose hand-over chain names `key`; nullopt otherwise (the key's own
// channel applies). So a new publisher restarted without `--handover` goes on
// publishing the channel it was handed. Pure.
std::optional<ChannelId> handed_over_channel(std::string_view recorded, const PublicKey& key);

// One version as published (its manifest's files, in path order), and the
// pure decision of when to publish: pending until two scans in a row agree.
struct PublishDecision {
    enum class Kind { kNothing, kWait, kPublish };
    Kind kind = Kind::kNothing;
};
// Whether DIR must first be brought to the network's head: the trackers
// know a version numbered above the one published here, or one and none was
// published here. Pure.
bool needs_recovery(const std::optional<std::uint64_t>& published,
                    const std::optional<std::uint64_t>& network_head);

// `first`: no scan has been published from yet in this run (publish at once).
PublishDecision decide_publish(const std::vector<ManifestEntry>& scanned,
                               const std::optional<std::vector<ManifestEntry>>& previous_scan,
                               const std::optional<std::vector<ManifestEntry>>& published,
                               bool first);

class Publisher {
  public:
    Publisher(Node& node, Trackers& trackers, PublisherOptions options, Logger log);
    ~Publisher();

    // Publishes and serves until stop(). `on_ready` runs once after the
    // first scan (and its publish, if any). Throws std::runtime_error when
    // DIR/.seedshare/published belongs to another channel or cannot be read.
    net::awaitable<void> run(std::function<void()> on_ready = {});
    void stop();

    const ChannelId& channel() const { return channel_; }
    // The last version published (or found published) here; nullopt: none.
    const std::optional<Manifest>& published() const { return published_; }
    std::size_t versions_published() const { return versions_published_; }
    const std::shared_ptr<ChannelMesh>& mesh() const { return mesh_; }
    const Sharer& sharer() const { return *sharer_; }
    // How often a version published here lost a conflict (another version
    // with its number, signed by the same key elsewhere, won; logged).
    std::size_t conflicts_lost() const { return conflicts_lost_; }
    // How often a version published here lost to one on a hand-over chain
    // that forks from its own (the key before handed over twice; logged):
    // this key no longer publishes the channel.
    std::size_t forks_lost() const { return forks_lost_; }
    // How often a scan's changes were not published because this key may
    // not sign the channel's next version (handed over, or a fork lost).
    std::size_t publishes_refused() const { return publishes_refused_; }
    // The version DIR was brought back to from the network at start; nullopt: none.
    const std::optional<std::uint64_t>& recovered() const { return recovered_; }

  private:
    net::awaitable<void> learn_network_head();
    void lost_conflict(std::uint64_t number);
    // A valid version `v` (of manifest `m`) that replaces the network's head:
    // if it beats the one published here in a conflict or a fork, says so.
    void heard_winner(const ManifestVersion& v, const Manifest& m);
    net::awaitable<std::optional<std::uint64_t>> trackers_head();
    net::awaitable<void> recover(std::uint64_t head);
    void take_lock();
    net::awaitable<void> publish(std::vector<ManifestEntry> files);
    net::awaitable<void> find_subscribers();
    std::vector<ManifestEntry> scanned_files() const;
    std::filesystem::path state_file() const;

    Node& node_;
    Trackers& trackers_;
    PublisherOptions options_;
    Logger log_;
    ChannelId channel_;
    FileLock lock_;  // DIR/.seedshare/lock, held while running
    std::unique_ptr<Sharer> sharer_;
    std::shared_ptr<ChannelMesh> mesh_;
    std::map<SeedId, std::filesystem::path> seed_index_;  // shared files by seed id
    std::optional<Manifest> published_;
    // The hand-over chain of the latest version known (published here or
    // heard of): the next version's, before options_.handover.
    std::vector<Handover> chain_;
    // The highest valid version heard of from the trackers or the mesh.
    std::optional<ManifestVersion> network_head_;
    std::size_t versions_published_ = 0;
    std::optional<std::uint64_t> recovered_;
    std::size_t conflicts_lost_ = 0;
    std::size_t forks_lost_ = 0;
    std::size_t publishes_refused_ = 0;
    std::optional<Digest> last_fork_lost_;    // the winning chain's id where it split from ours
    std::optional<std::uint64_t> last_lost_;  // the number lost_conflict last said
    Subscriber* recovering_ = nullptr;        // while recover() runs
    asio::steady_timer scanned_;              // cancelled after each scan
    net::ClockTimer* find_wait_ = nullptr;    // find_subscribers' wait, while it waits
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    bool stopping_ = false;
};

}  // namespace seedshare
