// The tracker's HTTP endpoints for operators (tracker --http HOST:PORT):
//   /              the status page (status.hpp), refreshing itself
//   /metrics       Prometheus text
//   /healthz       200 "ok" while the tracker listens and its store answers,
//                  503 with the reason otherwise
//   /api/files     JSON, paged: ?after=SEEDID&limit=N
//   /api/channels  JSON, paged: ?after=CHANNELID&limit=N
//   /api/peers     JSON: ?seed=SEEDID, the live serving holders
//   /api/cluster   JSON: the cluster's name, leader and trackers (null: none)
//
// Threading: HTTP requests are served on common/http's own bounded threads.
// The Registry and the TrackerServer belong to the I/O thread: every read of
// them is posted to its executor (http::ask) and waited for with a timeout;
// a busy I/O thread makes a 503, never a stalled peer. Request counters are
// atomics (RequestCounters). A sampler on the I/O thread keeps the chart's
// history (a few minutes of requests and peers online).
//
// The Registry and the TrackerServer must outlive the io_context's run; call
// stop() (from any thread) before destroying them.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <functional>
#include <memory>

#include "common/core/log.hpp"
#include "common/http/http_server.hpp"
#include "tracker/core/registry.hpp"
#include "tracker/http/status.hpp"
#include "tracker/server/server.hpp"

namespace seedshare::tracker {

class TrackerHttp {
  public:
    struct Options {
        http::Address address;
        http::Limits limits;
        // How long a request waits for the I/O thread before answering 503.
        std::chrono::milliseconds ask_timeout{2000};
        // The chart: a point every sample_interval, history_points of them.
        std::chrono::milliseconds sample_interval{5000};
        std::size_t history_points = 72;
        // Rows on the status page (the rest through /api/*).
        std::size_t page_files = 100;
        std::size_t page_channels = 50;
        int refresh_seconds = 5;
        // A cluster member's view (tracker --etcd); unset: a single tracker.
        // Called on the I/O thread; must not block.
        std::function<ClusterView()> cluster;
    };

    TrackerHttp(asio::any_io_executor ex, Registry& store, const TrackerServer& server,
                std::shared_ptr<const RequestCounters> counters, Options options, Logger log);
    ~TrackerHttp();
    TrackerHttp(const TrackerHttp&) = delete;
    TrackerHttp& operator=(const TrackerHttp&) = delete;

    // Binds (throws std::runtime_error naming the address) and serves; starts
    // the sampler on the executor.
    void start();
    void stop();
    std::uint16_t port() const;
    std::string listen_text() const;

    struct State;  // tracker_http.cpp; shared with the handlers and the sampler

  private:
    std::shared_ptr<State> state_;
    std::unique_ptr<http::Server> server_;
};

}  // namespace seedshare::tracker
