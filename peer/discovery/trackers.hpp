// The trackers one peer process talks to: one TrackerClient per address,
// created on first use and kept registered (heartbeats, rejoin) by its run()
// loop. A seed names its trackers; asking for peers asks all of them at once
// and merges the answers, so no single tracker is needed and a silent one
// does not hold up the others.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/log.hpp"
#include "common/env/clock.hpp"
#include "common/model/seed.hpp"
#include "common/net/net.hpp"
#include "peer/discovery/tracker_client.hpp"

namespace seedshare {

struct TrackersOptions {
    // For each TrackerClient.
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds request_timeout{10000};
    // Once one tracker has answered find_peers, how long the others may
    // still take; an answer that comes later is handed out by the next call.
    std::chrono::milliseconds straggler_wait{500};
    // Joins every tracker as a backup peer (`peer backup`): listed after
    // the other complete holders, so its upload is spared.
    bool backup = false;
    // Each TrackerClient's heartbeats and backoff (a test's FakeClock); must
    // outlive the Trackers.
    const Clock* clock = &Clock::real();
};

class Trackers {
  public:
    Trackers(asio::any_io_executor ex, UserId user, std::uint16_t listen_port, Logger log,
             TrackersOptions options = {});
    ~Trackers();

    // Connects and joins every tracker in `where` not yet connected (a
    // connect already under way, from another caller, is waited for, not
    // repeated). Returns one line per tracker that could not be reached
    // ("tracker HOST:PORT: reason"). Those keep retrying in the background.
    net::awaitable<std::vector<std::string>> connect(const std::vector<HostPort>& where);

    void hold(const Seed& seed, const std::vector<HostPort>& where, bool complete);
    void drop(const SeedId& id, const std::vector<HostPort>& where);

    // Asks every joined tracker in `where` at once and merges the answers.
    // Returns when all have answered or failed, or `straggler_wait` after the
    // first answer; the queries still out go on, and what they bring is
    // merged into the next call for `id` (a tracker with a query out for `id`
    // is not asked again meanwhile). Throws only if none answered.
    net::awaitable<std::vector<PeerAddress>> find_peers(const SeedId& id,
                                                        const std::vector<HostPort>& where,
                                                        std::uint16_t numwant);
    // A tracker's answer to find_peers (any seed) marked this holder as a
    // backup peer (Peers entry flag 0x02), and no later answer took it back:
    // a getter spares its upload.
    bool is_backup(const PeerAddress& where) const;
    // Asks every joined tracker in `where` at once; the first seed text for
    // `id` wins (the others are not waited for). nullopt if every tracker
    // answered without one. Throws only if none answered.
    net::awaitable<std::optional<std::string>> get_seed(const SeedId& id,
                                                        const std::vector<HostPort>& where);

    // Asks every joined tracker in `where` at once for every seed it lists;
    // the answers merged (one entry per id, the most complete holders heard),
    // at most `max_entries` of them. Throws only if none answered.
    net::awaitable<std::vector<tracker_proto::FileInfo>> list_files(
        const std::vector<HostPort>& where, std::size_t max_entries);
    // The same for the channels the trackers have heads of (one entry per
    // channel, the highest version heard).
    net::awaitable<std::vector<tracker_proto::ChannelInfo>> list_channels(
        const std::vector<HostPort>& where, std::size_t max_entries);

    // --- channels ---

    // The channel is followed at each tracker in `where`, holding `version`
    // (each TrackerClient keeps it registered across rejoins).
    void follow(const ChannelId& channel, std::uint64_t version,
                const std::vector<HostPort>& where);
    void unfollow(const ChannelId& channel, const std::vector<HostPort>& where);

    // What one tracker did with a manifest.
    struct ManifestPut {
        HostPort tracker;
        bool kept = false;
        // When not kept: the refusal's kind (kManifestRefused, kManifestStale,
        // kManifestConflict), or kUnreachable for any other failure.
        TrackerError::Kind refusal = TrackerError::Kind::kUnreachable;
        std::string error;  // for people
    };
    // Offers the manifest to every joined tracker in `where` at once (follow
    // its channel first) and waits for every answer (each bounded by the
    // request timeout). Trackers not joined are reported kUnreachable.
    net::awaitable<std::vector<ManifestPut>> put_manifest(const std::string& text,
                                                          const std::vector<HostPort>& where);
    // Asks every joined tracker in `where` at once for the channel's head and
    // returns every text received (the caller parses each, checks it and
    // keeps the freshest). Empty if they answered without one; throws only if
    // none answered.
    net::awaitable<std::vector<std::string>> get_manifests(const ChannelId& channel,
                                                           const std::vector<HostPort>& where);
    // Asks every joined tracker in `where` at once for serving followers of
    // the channel; the answers merged (one entry per address, the highest
    // version heard). Throws only if none answered.
    net::awaitable<std::vector<tracker_proto::ChannelPeerEntry>> channel_peers(
        const ChannelId& channel, const std::vector<HostPort>& where, std::uint16_t numwant);

    // Says goodbye to every tracker (bounded), then stops their loops.
    net::awaitable<void> leave();
    // Stops every tracker loop without a goodbye (the trackers expire us).
    void abandon();

  private:
    struct Lookups;
    std::shared_ptr<TrackerClient> client(const HostPort& where);

    asio::any_io_executor ex_;
    UserId user_;
    std::uint16_t listen_port_;
    Logger log_;
    TrackersOptions options_;
    // Shared: a query in flight keeps its client alive after ~Trackers (which
    // stops it, so the query ends at once).
    std::map<HostPort, std::shared_ptr<TrackerClient>> clients_;
    std::map<HostPort, bool> running_;
    // A first connect() under way to a tracker; a second caller (downloads
    // side by side) waits for its outcome instead of connecting again.
    struct Connecting {
        explicit Connecting(asio::any_io_executor ex) : done(ex) {
            done.expires_at(asio::steady_timer::time_point::max());
        }
        asio::steady_timer done;  // cancelled when the outcome is known
        std::optional<std::string> failure;
        bool over = false;
    };
    std::map<HostPort, std::shared_ptr<Connecting>> connecting_;
    std::shared_ptr<Lookups> lookups_;  // find_peers queries in flight, answers not handed out
};

}  // namespace seedshare
