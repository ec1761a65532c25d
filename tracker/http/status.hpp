// What the tracker's HTTP endpoints say, as pure functions of snapshots: the
// status page (HTML with an inline SVG chart), the JSON of /api/*, and the
// Prometheus text of /metrics. No I/O here; tracker_http.* gathers the
// snapshots (on the I/O thread) and serves them.
//
// Every string that came from peers (file and channel names) is hostile: the
// page escapes it (html_escape), JSON is written by nlohmann-json (invalid
// UTF-8 replaced), label values are escaped for Prometheus.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/http/prometheus.hpp"
#include "tracker/core/registry_types.hpp"

namespace seedshare::tracker {

// A cluster member's view (tracker --etcd): who leads, who is in.
struct ClusterView {
    std::string name;
    std::string self;    // this tracker's advertised HOST:PORT
    std::string leader;  // empty: none known
    std::vector<std::string> members;
    bool etcd_reachable = true;
};

// What the I/O thread saw at one moment.
struct StatusSnapshot {
    bool listening = false;
    std::size_t connections = 0;
    // nullopt: the store answered; otherwise why it did not.
    std::optional<std::string> store_error;
    RegistryStats stats;
    FilePage files;                      // the first page
    ChannelPage channels;                // the first page
    std::optional<ClusterView> cluster;  // nullopt: a single tracker
};

// One point of the chart: taken every few seconds by the I/O thread.
struct HistoryPoint {
    std::int64_t unix_ms = 0;
    std::uint64_t requests = 0;  // handled since start
    std::size_t peers_online = 0;
};

// Requests handled and their latency, by request type; read by HTTP threads
// while the I/O thread counts (atomics).
class RequestCounters {
  public:
    static constexpr std::size_t kTypes = 13;  // tracker_proto request types 0x01..0x0d
    void observe(std::uint8_t type, std::chrono::nanoseconds took);
    std::uint64_t total() const { return total_.load(std::memory_order_relaxed); }
    const http::LatencyHistogram& latency(std::size_t i) const { return latency_[i]; }
    std::uint64_t unknown() const { return unknown_.load(std::memory_order_relaxed); }

  private:
    std::array<http::LatencyHistogram, kTypes> latency_;
    std::atomic<std::uint64_t> total_{0};
    std::atomic<std::uint64_t> unknown_{0};  // a type outside the table (none today)
};

// Escapes & < > " ' for HTML text and attribute values.
std::string html_escape(std::string_view s);

// Requests per second between the last two points (0 with fewer).
double requests_per_second(const std::deque<HistoryPoint>& history);

struct PageContext {
    std::string version;
    std::string listen_text;  // the tracker's protocol address
    std::int64_t now_unix_ms = 0;
    std::int64_t started_unix_ms = 0;
    int refresh_seconds = 5;
};
std::string render_status_page(const StatusSnapshot& s, const std::deque<HistoryPoint>& history,
                               const PageContext& ctx);

// The inline chart: requests/s and peers online over the history.
std::string render_chart_svg(const std::deque<HistoryPoint>& history);

nlohmann::json files_json(const FilePage& page);
nlohmann::json channels_json(const ChannelPage& page);
nlohmann::json peers_json(const SeedId& seed, const std::vector<Holder>& holders);
// /api/cluster: {"cluster": null} for a single tracker.
nlohmann::json cluster_json(const std::optional<ClusterView>& cluster);
// nlohmann's dump, replacing invalid UTF-8 instead of throwing.
std::string json_text(const nlohmann::json& j);

// The /metrics text. `s` is nullopt when the I/O thread did not answer in time
// (the gauges it gives are left out; seedshare_tracker_up says 0).
std::string render_metrics(const std::optional<StatusSnapshot>& s, const RequestCounters& counters,
                           const PageContext& ctx);

}  // namespace seedshare::tracker
