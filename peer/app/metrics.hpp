// peer --metrics HOST:PORT: /metrics (Prometheus text) and /healthz for a
// serving, downloading, publishing or subscribing peer, on common/http's own
// threads. Counters the swarms add to are atomics (SwarmCounters); what
// belongs to the I/O thread (swarms, connections, channel versions) is read
// there through http::ask, with a timeout.
//
// Declare it after the Node (and the Publisher or Subscriber whose versions
// it reports), so that it stops first; stop() (or the destructor) on the I/O
// thread makes reads still queued there answer nothing.
#pragma once

#include <asio.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/http/http_server.hpp"
#include "peer/node/node.hpp"

namespace seedshare {

// A channel this process follows or publishes, and the version it holds.
struct ChannelVersion {
    ChannelId channel;
    std::string name;
    std::uint64_t version = 0;  // 0: none yet
};

// What the I/O thread saw.
struct PeerSnapshot {
    std::size_t swarms = 0;
    std::size_t swarms_complete = 0;
    std::size_t connections = 0;
    std::vector<ChannelVersion> channels;
};

// The /metrics text; `s` nullopt when the I/O thread did not answer in time.
std::string render_peer_metrics(const std::optional<PeerSnapshot>& s, const SwarmCounters& c,
                                std::string_view command, std::string_view version);

class PeerMetrics {
  public:
    using Channels = std::function<std::vector<ChannelVersion>()>;  // run on the I/O thread

    PeerMetrics(asio::any_io_executor ex, const Node& node, std::string command,
                Channels channels = {});
    ~PeerMetrics();
    PeerMetrics(const PeerMetrics&) = delete;
    PeerMetrics& operator=(const PeerMetrics&) = delete;

    // Binds (throws std::runtime_error naming the address) and serves.
    void start(const http::Address& where);
    void stop();
    std::string listen_text() const;

    struct State;

  private:
    std::shared_ptr<State> state_;
    http::Server server_;
};

// For a command: started when --metrics was given (printing where), else null.
std::unique_ptr<PeerMetrics> start_metrics(const std::optional<http::Address>& where,
                                           asio::any_io_executor ex, const Node& node,
                                           std::string command,
                                           PeerMetrics::Channels channels = {});

}  // namespace seedshare
