#include "peer/app/metrics.hpp"

#include <fmt/format.h>

#include <atomic>

#include "common/core/version.hpp"
#include "common/http/prometheus.hpp"

namespace seedshare {

namespace {

constexpr std::chrono::milliseconds kAskTimeout{2000};

std::optional<PeerSnapshot> take_snapshot(const Node& node, const PeerMetrics::Channels& channels) {
    PeerSnapshot s;
    for (const auto& [id, swarm] : node.swarms()) {
        ++s.swarms;
        if (swarm->complete()) ++s.swarms_complete;
        s.connections += swarm->connection_count();
    }
    if (channels) s.channels = channels();
    return s;
}

}  // namespace

std::string render_peer_metrics(const std::optional<PeerSnapshot>& s, const SwarmCounters& c,
                                std::string_view command, std::string_view version) {
    http::MetricsText m;
    m.family("seedshare_peer_build_info", "gauge", "The peer's version and command (always 1).");
    m.sample("seedshare_peer_build_info",
             {{"version", std::string(version)}, {"command", std::string(command)}}, 1);
    m.family("seedshare_peer_up", "gauge", "1 when the peer's I/O thread answers, 0 otherwise.");
    m.sample("seedshare_peer_up", s ? 1 : 0);
    const auto counter = [&](std::string_view name, std::string_view help,
                             const std::atomic<std::uint64_t>& v) {
        m.family(name, "counter", help);
        m.sample(name, static_cast<double>(v.load(std::memory_order_relaxed)));
    };
    counter("seedshare_peer_downloaded_bytes_total", "Chunk data received from peers, in bytes.",
            c.bytes_down);
    counter("seedshare_peer_uploaded_bytes_total", "Chunk data sent to peers, in bytes.",
            c.bytes_up);
    counter("seedshare_peer_chunks_verified_total", "Chunks downloaded whose hash matched.",
            c.chunks_verified);
    counter("seedshare_peer_chunks_failed_total",
            "Chunks downloaded whose hash did not match (a strike against the sender each).",
            c.chunks_failed);
    counter("seedshare_peer_peers_banned_total",
            "Peers dropped for sending too many bad chunks (max strikes).", c.peers_banned);
    counter("seedshare_peer_connections_evicted_total",
            "Idle connections closed to make room for a new one (the process's connection cap).",
            c.connections_evicted);
    counter("seedshare_peer_connections_refused_total",
            "New connections refused, or dials put off, at the process's connection cap.",
            c.connections_refused);
    if (!s) return m.text();
    const auto gauge = [&](std::string_view name, std::string_view help, std::size_t v) {
        m.family(name, "gauge", help);
        m.sample(name, static_cast<double>(v));
    };
    gauge("seedshare_peer_swarms", "Files this process takes part in (one swarm each).", s->swarms);
    gauge("seedshare_peer_swarms_complete", "Swarms whose file is complete here.",
          s->swarms_complete);
    gauge("seedshare_peer_connections", "Open connections to peers, over all swarms.",
          s->connections);
    if (!s->channels.empty()) {
        m.family("seedshare_peer_channel_version", "gauge",
                 "The version of each channel held here (0: none yet).");
        for (const auto& ch : s->channels)
            m.sample("seedshare_peer_channel_version",
                     {{"channel", ch.channel.hex()}, {"name", ch.name}},
                     static_cast<double>(ch.version));
    }
    return m.text();
}

struct PeerMetrics::State {
    asio::any_io_executor ex;
    const Node& node;
    std::string command;
    Channels channels;
    std::atomic<bool> alive{true};
};

PeerMetrics::PeerMetrics(asio::any_io_executor ex, const Node& node, std::string command,
                         Channels channels)
    : state_(std::make_shared<State>(ex, node, std::move(command), std::move(channels))) {}

PeerMetrics::~PeerMetrics() {
    stop();
}

void PeerMetrics::start(const http::Address& where) {
    auto st = state_;
    // (Reads queued on the I/O thread after stop() answer nothing: the Node
    // may be gone by then.)
    const auto snapshot = [st]() -> std::optional<std::optional<PeerSnapshot>> {
        return http::ask(
            st->ex,
            [st]() -> std::optional<PeerSnapshot> {
                if (!st->alive) return std::nullopt;
                return take_snapshot(st->node, st->channels);
            },
            kAskTimeout);
    };
    server_.get("/metrics", [st, snapshot](const http::Request&) -> http::Response {
        const auto s = snapshot();
        return {
            200, std::string(http::kMetricsContentType),
            render_peer_metrics(s ? *s : std::nullopt, st->node.counters(), st->command, kVersion)};
    });
    server_.get("/healthz", [snapshot](const http::Request&) -> http::Response {
        const auto s = snapshot();
        if (!s || !*s)
            return {503, "text/plain; charset=utf-8",
                    fmt::format("unavailable: the peer's I/O thread did not answer within {} ms\n",
                                kAskTimeout.count())};
        return {200, "text/plain; charset=utf-8", "ok\n"};
    });
    server_.start(where);
}

void PeerMetrics::stop() {
    state_->alive = false;
    server_.stop();
}

std::string PeerMetrics::listen_text() const {
    return server_.listen_text();
}

std::unique_ptr<PeerMetrics> start_metrics(const std::optional<http::Address>& where,
                                           asio::any_io_executor ex, const Node& node,
                                           std::string command, PeerMetrics::Channels channels) {
    if (!where) return nullptr;
    auto m = std::make_unique<PeerMetrics>(ex, node, std::move(command), std::move(channels));
    m->start(*where);
    fmt::print("metrics on {}: /metrics, /healthz\n", m->listen_text());
    std::fflush(stdout);
    return m;
}

}  // namespace seedshare
