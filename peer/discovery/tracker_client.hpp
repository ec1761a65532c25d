// Keeps this peer registered at one tracker and asks it questions.
//
// One TCP connection, one request in flight at a time (requests from several
// coroutines queue). run() owns the registration: it heartbeats at the
// interval the tracker asked for, sends changes to the holdings soon after
// hold()/drop(), and when the connection drops or the tracker says it forgot
// this peer it reconnects and rejoins by itself (backoff 0.5 s doubling to
// the tracker's heartbeat interval, at most 30 s, so a restarted tracker hears
// from every peer within one heartbeat), then sends the whole file list again
// and uploads the seed texts the tracker says it lacks.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/ids.hpp"
#include "common/core/log.hpp"
#include "common/env/clock.hpp"
#include "common/model/seed.hpp"
#include "common/net/net.hpp"
#include "common/wire/tracker_protocol.hpp"

namespace seedshare {

// Why connecting to a tracker, or a manifest upload, failed; callers act on
// `kind`, never on the text. what() is "tracker HOST:PORT: REASON".
struct TrackerError : std::runtime_error {
    enum class Kind {
        kUnreachable,  // no connection, or it broke, or timed out
        kNotATracker,  // something else answers there (see `reason`)
        kRefused,      // the tracker said no (version, ...)
        kStopped,      // stop() was called
        // put_manifest: the tracker did not keep the manifest because...
        kManifestRefused,   // it does not parse or verify, or its channel is not followed
        kManifestStale,     // its version is below the tracker's
        kManifestConflict,  // the tracker has another manifest of that version, which wins
    };
    TrackerError(Kind k, HostPort w, std::string why);
    Kind kind;
    HostPort where;
    std::string reason;
};

// One line for a user: "127.0.0.1:80 is not a seedshare tracker (it answered
// like HTTP)", "cannot reach tracker 127.0.0.1:7000: Connection refused".
std::string describe(const TrackerError& e);

class TrackerClient {
  public:
    struct Options {
        HostPort tracker;
        UserId user;
        std::uint16_t listen_port = 0;  // 0: this peer does not serve
        std::chrono::milliseconds connect_timeout{5000};
        std::chrono::milliseconds request_timeout{10000};
        bool backup = false;  // joins as a backup peer (Join.backup)
        // Heartbeats and reconnect backoff run on this clock (a test's
        // FakeClock: they come when the test moves time).
        const Clock* clock = &Clock::real();
    };

    TrackerClient(asio::any_io_executor ex, Options options, Logger log);
    ~TrackerClient();
    TrackerClient(const TrackerClient&) = delete;
    TrackerClient& operator=(const TrackerClient&) = delete;

    // Connects and joins once. Throws TrackerError (what() names the tracker
    // and the reason: unreachable, not a tracker, version mismatch, ...).
    net::awaitable<void> connect();

    // Keeps the registration alive until stop() or leave(); never throws.
    // `after_failure`: connect() just failed (and the caller said so): wait
    // one backoff before the first retry instead of retrying (and warning) at once.
    net::awaitable<void> run(bool after_failure = false);

    // Sends Leave (best effort, bounded by request_timeout), then stops run().
    net::awaitable<void> leave();
    // Stops run() and closes the connection without saying goodbye.
    void stop();

    // The holdings the tracker should know about. Synchronised by run().
    void hold(const Seed& seed, bool complete);
    void drop(const SeedId& id);
    // The channels this peer follows and the version it holds of each (0:
    // none yet). Synchronised by run(), like the holdings; at most
    // limits::kMaxChannelsPerPeer are sent.
    void follow(const ChannelId& channel, std::uint64_t version);
    void unfollow(const ChannelId& channel);

    // Queries over the same connection. They throw if not connected, on I/O
    // failure or timeout, or on an error reply; they never wait for a
    // reconnect (callers retry later).
    net::awaitable<std::vector<tracker_proto::PeerEntry>> get_peers(const SeedId& id,
                                                                    std::uint16_t numwant);
    // nullopt: the tracker has no seed text for that id. The text is returned
    // as received; the caller parses it and checks its id.
    net::awaitable<std::optional<std::string>> get_seed(const SeedId& id);
    // Every seed the tracker knows (all pages), or the first `max_entries`:
    // no more pages are asked for once that many are held.
    net::awaitable<std::vector<tracker_proto::FileInfo>> list_files(
        std::size_t max_entries = SIZE_MAX);

    // Offers a signed manifest as its channel's head. The tracker keeps it
    // only from a peer that follows the channel: follow() it first (follows
    // not yet sent go first). Throws TrackerError kManifestRefused,
    // kManifestStale or kManifestConflict when the tracker does not keep it.
    net::awaitable<void> put_manifest(std::string text);
    // The channel's head as the tracker has it (nullopt: none). The caller
    // parses it, checks its channel and signature, and decides its freshness.
    net::awaitable<std::optional<std::string>> get_manifest(const ChannelId& channel);
    // Live followers of the channel that serve, with the version each holds.
    net::awaitable<std::vector<tracker_proto::ChannelPeerEntry>> channel_peers(
        const ChannelId& channel, std::uint16_t numwant);
    // Every channel the tracker has a head of (all pages), or the first
    // `max_entries`.
    net::awaitable<std::vector<tracker_proto::ChannelInfo>> list_channels(
        std::size_t max_entries = SIZE_MAX);

    bool joined() const;
    // Heartbeats the trackers answered, since this client was made.
    std::uint64_t heartbeats() const;
    const HostPort& tracker() const;

  private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace seedshare
