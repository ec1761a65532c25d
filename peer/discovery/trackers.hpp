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
};

class Trackers {
  public:
    Trackers(asio::any_io_executor ex, UserId user, std::uint16_t listen_port, Logger log,
             TrackersOptions options = {});
    ~Trackers();

    // Connects and joins every tracker in `where` not yet connected. Returns
    // one line per tracker that could not be reached ("tracker HOST:PORT: reason").
    // Those keep retrying in the background.
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
    // Asks every joined tracker in `where` at once; the first seed text for
    // `id` wins (the others are not waited for). nullopt if every tracker
    // answered without one. Throws only if none answered.
    net::awaitable<std::optional<std::string>> get_seed(const SeedId& id,
                                                        const std::vector<HostPort>& where);

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
    std::shared_ptr<Lookups> lookups_;  // find_peers queries in flight, answers not handed out
};

}  // namespace seedshare
