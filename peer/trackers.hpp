// The trackers one peer process talks to: one TrackerClient per address,
// created on first use and kept registered (heartbeats, rejoin) by its run()
// loop. A seed names its trackers; asking for peers asks each of them and
// merges the answers, so no single tracker is needed.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/address.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/seed.hpp"
#include "peer/swarm.hpp"
#include "peer/tracker_client.hpp"

namespace seedshare {

class Trackers {
  public:
    Trackers(asio::any_io_executor ex, UserId user, std::uint16_t listen_port, Logger log);
    ~Trackers();

    // Connects and joins every tracker in `where` not yet connected. Returns
    // one line per tracker that could not be reached ("tracker HOST:PORT: reason").
    // Those keep retrying in the background.
    net::awaitable<std::vector<std::string>> connect(const std::vector<HostPort>& where);

    void hold(const Seed& seed, const std::vector<HostPort>& where, bool complete);
    void drop(const SeedId& id, const std::vector<HostPort>& where);

    // Asks each tracker in `where`; merges. Throws only if none answered.
    net::awaitable<std::vector<PeerAddress>> find_peers(const SeedId& id,
                                                        const std::vector<HostPort>& where,
                                                        std::uint16_t numwant);
    // The first tracker that has the seed text for `id`, or nullopt. Throws
    // only if none answered.
    net::awaitable<std::optional<std::string>> get_seed(const SeedId& id,
                                                        const std::vector<HostPort>& where);

    // Says goodbye to every tracker (bounded), then stops their loops.
    net::awaitable<void> leave();
    // Stops every tracker loop without a goodbye (the trackers expire us).
    void abandon();

  private:
    TrackerClient& client(const HostPort& where);

    asio::any_io_executor ex_;
    UserId user_;
    std::uint16_t listen_port_;
    Logger log_;
    std::map<HostPort, std::unique_ptr<TrackerClient>> clients_;
    std::map<HostPort, bool> running_;
};

}  // namespace seedshare
