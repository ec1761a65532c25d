// The tracker's network shell: accepts connections and runs one coroutine
// session per connection on the caller's executor (one thread), feeding
// decoded requests to the Handler and writing its answers. A housekeeping
// coroutine commits the store's batch every commit_interval, sweeps
// expired peers every sweep_interval and logs a one-line summary (peers
// online, seeds, channels, requests/s) at info every summary_interval;
// another closes the connections whose read or write deadline passed (one
// sweep over all of them, no watchdog per connection).
//
// Ownership: the server borrows the Registry, which must outlive it. No global
// state: several servers can run in one process (tests). stop() (also run by
// the destructor) closes the acceptor and every session and flushes the
// store; coroutines still queued on the executor then end without touching
// the store.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/core/address.hpp"
#include "common/core/limits.hpp"
#include "common/core/log.hpp"
#include "tracker/core/registry.hpp"

namespace seedshare::tracker {

namespace detail {
struct ServerState;  // server.cpp; shared with the server's coroutines
}

class TrackerServer {
  public:
    struct Options {
        // An IP address. "::" listens on IPv6 and IPv4 (dual stack) where the
        // host has IPv6, and falls back to 0.0.0.0 where it does not.
        std::string host = "127.0.0.1";
        std::uint16_t port = 0;  // 0: an ephemeral port (see port())
        // Silent peers are forgotten after this; heartbeats are asked every
        // ttl/3. The server sets the store's TTL to it.
        std::chrono::milliseconds ttl{limits::kDefaultTtl};
        std::chrono::milliseconds sweep_interval{5000};
        std::chrono::milliseconds commit_interval{50};
        // The info summary line; 0: never.
        std::chrono::milliseconds summary_interval{60000};
        // An unjoined connection must send Join within this.
        std::chrono::milliseconds join_timeout{limits::kTrackerJoinTimeout};
        // A joined connection may be silent for ttl + idle_margin.
        std::chrono::milliseconds idle_margin{10000};
        // To read the rest of a frame once it began, and to write one.
        std::chrono::milliseconds frame_timeout{30000};
        std::chrono::milliseconds write_timeout{30000};
        std::size_t max_connections = limits::kMaxTrackerConnections;
        // Per connection token bucket. Over the rate the tracker stops
        // reading from that connection until a token is back (back-pressure,
        // no error).
        double requests_per_second = limits::kTrackerRequestsPerSecond;
        double request_burst = limits::kTrackerRequestBurst;
        // Payload bytes of large frames (PutSeed, big FileList) being read or
        // processed at once, over all connections; a frame that cannot get
        // its share within frame_timeout ends its connection.
        std::size_t large_frame_budget = 256u << 20;
        // Told of every request handled, on the I/O thread: its type and the
        // time from decoded to answered (metrics; tracker/http). Optional.
        std::function<void(std::uint8_t type, std::chrono::nanoseconds took)> on_request;
        // 0: the registry is called on the I/O thread (SQLite: fast, one
        // thread at a time). N > 0: for a thread-safe registry whose calls
        // block on the network (etcd): what Handler::handle_now answers
        // (reads from memory, known peers' heartbeats) is answered on the
        // I/O thread, every other registry call (requests, housekeeping)
        // runs on a pool of N threads while the session waits.
        std::size_t registry_threads = 0;
        // Whether this server does the registry's sweep (a cluster: only its
        // leader does). Asked before each sweep, on the I/O thread.
        std::function<bool()> sweeps = [] { return true; };
        // The cluster's trackers, told to peers that join asking for them
        // (unset: not in a cluster). Called on the registry's thread.
        std::function<std::vector<HostPort>()> cluster;
    };

    TrackerServer(asio::any_io_executor ex, Registry& store, Options options, Logger log);
    ~TrackerServer();
    TrackerServer(const TrackerServer&) = delete;
    TrackerServer& operator=(const TrackerServer&) = delete;

    // Binds and listens now (throws std::runtime_error naming the address on
    // failure, e.g. port in use), then spawns the accept loop and housekeeping.
    void start();
    // Closes the acceptor and every connection, and flushes the store. Idempotent.
    void stop();

    // The bound port (the ephemeral one when Options::port was 0).
    std::uint16_t port() const;
    // "[::]:7000 (IPv4 and IPv6)", "127.0.0.1:7000", ...
    std::string listen_text() const;
    std::size_t connections() const;
    // Started and not stopped: the acceptor is open.
    bool listening() const;

  private:
    std::shared_ptr<detail::ServerState> state_;
};

}  // namespace seedshare::tracker
