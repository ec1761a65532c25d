#include "tracker/http/status.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/core/hex.hpp"
#include "common/wire/tracker_protocol.hpp"

namespace seedshare::tracker {

void RequestCounters::observe(std::uint8_t type, std::chrono::nanoseconds took) {
    total_.fetch_add(1, std::memory_order_relaxed);
    if (type >= 1 && type <= kTypes)
        latency_[type - 1].observe(took);
    else
        unknown_.fetch_add(1, std::memory_order_relaxed);
}

std::string html_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (const char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

namespace {

double rate_between(const HistoryPoint& a, const HistoryPoint& b) {
    const double secs = static_cast<double>(b.unix_ms - a.unix_ms) / 1000.0;
    if (secs <= 0 || b.requests < a.requests) return 0;
    return static_cast<double>(b.requests - a.requests) / secs;
}

// "1.5 MiB"
std::string size_text(std::uint64_t bytes) {
    constexpr std::array<const char*, 5> units{"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    std::size_t u = 0;
    while (v >= 1024 && u + 1 < units.size()) {
        v /= 1024;
        ++u;
    }
    return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string duration_text(std::int64_t ms) {
    const auto s = std::max<std::int64_t>(0, ms / 1000);
    if (s < 120) return fmt::format("{} s", s);
    if (s < 7200) return fmt::format("{} min", s / 60);
    if (s < 172800) return fmt::format("{} h", s / 3600);
    return fmt::format("{} days", s / 86400);
}

constexpr std::string_view kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;background:#f4f6f8;color:#1d2733}
header{background:#1d2733;color:#fff;padding:14px 24px;display:flex;align-items:baseline;gap:16px}
header h1{font-size:20px;margin:0}header span{color:#aab6c3}
main{padding:18px 24px;max-width:1100px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:18px}
.card{background:#fff;border-radius:8px;padding:10px 16px;min-width:130px;box-shadow:0 1px 2px #0002}
.card b{display:block;font-size:24px}.card small{color:#5b6b7b}
.ok{color:#1a7f37}.bad{color:#c62828}
section{background:#fff;border-radius:8px;padding:12px 16px;margin-bottom:18px;box-shadow:0 1px 2px #0002}
h2{font-size:16px;margin:4px 0 10px}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e8ee}
th{color:#5b6b7b;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:12px;color:#5b6b7b}.muted{color:#5b6b7b}
)";

}  // namespace

double requests_per_second(const std::deque<HistoryPoint>& history) {
    if (history.size() < 2) return 0;
    return rate_between(history[history.size() - 2], history.back());
}

std::string render_chart_svg(const std::deque<HistoryPoint>& history) {
    constexpr int kW = 720, kH = 170, kLeft = 44, kRight = 44, kTop = 12, kBottom = 24;
    constexpr int kPlotW = kW - kLeft - kRight, kPlotH = kH - kTop - kBottom;
    std::string svg = fmt::format(
        R"(<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" role="img" aria-label="requests per second and peers online">)",
        kW, kH, kW, kH);
    svg += fmt::format(
        R"(<rect x="{}" y="{}" width="{}" height="{}" fill="#fafbfc" stroke="#e3e8ee"/>)", kLeft,
        kTop, kPlotW, kPlotH);
    if (history.size() < 2) {
        svg += fmt::format(
            R"(<text x="{}" y="{}" text-anchor="middle" fill="#5b6b7b" font-size="13">collecting data: the chart starts after the second sample</text></svg>)",
            kLeft + kPlotW / 2, kTop + kPlotH / 2);
        return svg;
    }
    const std::int64_t t0 = history.front().unix_ms, t1 = history.back().unix_ms;
    const double span = std::max<double>(1, static_cast<double>(t1 - t0));
    std::vector<double> rates, peers;
    double max_rate = 1, max_peers = 1;
    for (std::size_t i = 1; i < history.size(); ++i) {
        rates.push_back(rate_between(history[i - 1], history[i]));
        peers.push_back(static_cast<double>(history[i].peers_online));
        max_rate = std::max(max_rate, rates.back());
        max_peers = std::max(max_peers, peers.back());
    }
    const auto line = [&](const std::vector<double>& v, double max, std::string_view colour) {
        std::string pts;
        for (std::size_t i = 0; i < v.size(); ++i) {
            const double x =
                kLeft + kPlotW * static_cast<double>(history[i + 1].unix_ms - t0) / span;
            const double y = kTop + kPlotH - kPlotH * v[i] / max;
            pts += fmt::format("{:.1f},{:.1f} ", x, y);
        }
        return fmt::format(
            R"(<polyline fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round" points="{}"/>)",
            colour, pts);
    };
    for (int g = 1; g < 4; ++g)
        svg += fmt::format(R"(<line x1="{}" x2="{}" y1="{}" y2="{}" stroke="#e3e8ee"/>)", kLeft,
                           kLeft + kPlotW, kTop + kPlotH * g / 4, kTop + kPlotH * g / 4);
    svg += line(rates, max_rate, "#1f6feb");
    svg += line(peers, max_peers, "#1a7f37");
    svg += fmt::format(
        R"(<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#1f6feb">{:.1f}/s</text>)",
        kLeft - 4, kTop + 10, max_rate);
    svg += fmt::format(
        R"(<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#1f6feb">0</text>)",
        kLeft - 4, kTop + kPlotH);
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="11" fill="#1a7f37">{:.0f} peers</text>)",
                       kLeft + kPlotW + 4, kTop + 10, max_peers);
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="11" fill="#1a7f37">0</text>)",
                       kLeft + kPlotW + 4, kTop + kPlotH);
    svg += fmt::format(R"(<text x="{}" y="{}" font-size="11" fill="#5b6b7b">-{}</text>)", kLeft,
                       kH - 6, duration_text(t1 - t0));
    svg += fmt::format(
        R"(<text x="{}" y="{}" text-anchor="end" font-size="11" fill="#5b6b7b">now</text>)",
        kLeft + kPlotW, kH - 6);
    svg += "</svg>";
    return svg;
}

std::string render_status_page(const StatusSnapshot& s, const std::deque<HistoryPoint>& history,
                               const PageContext& ctx) {
    std::string h;
    h += "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
    h += fmt::format("<meta http-equiv=\"refresh\" content=\"{}\">", ctx.refresh_seconds);
    h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";
    h += "<title>seedshare tracker</title><style>";
    h += kStyle;
    h += "</style></head><body>";
    h += fmt::format(
        "<header><h1>seedshare tracker</h1><span>{} &middot; {} &middot; up "
        "{}</span></header><main>",
        html_escape(ctx.version), html_escape(ctx.listen_text),
        duration_text(ctx.now_unix_ms - ctx.started_unix_ms));

    const bool healthy = s.listening && !s.store_error;
    h += "<div class=\"cards\">";
    h += fmt::format("<div class=\"card\"><b class=\"{}\">{}</b><small>health</small></div>",
                     healthy ? "ok" : "bad", healthy ? "OK" : "FAILING");
    h += fmt::format("<div class=\"card\"><b>{}</b><small>peers online</small></div>",
                     s.stats.live_users);
    h += fmt::format("<div class=\"card\"><b>{:.1f}</b><small>requests/s</small></div>",
                     requests_per_second(history));
    h += fmt::format("<div class=\"card\"><b>{}</b><small>files</small></div>", s.stats.files);
    h +=
        fmt::format("<div class=\"card\"><b>{}</b><small>channels</small></div>", s.stats.channels);
    h +=
        fmt::format("<div class=\"card\"><b>{}</b><small>connections</small></div>", s.connections);
    h += "</div>";
    if (s.store_error)
        h += fmt::format("<section><h2 class=\"bad\">Store failing</h2>{}</section>",
                         html_escape(*s.store_error));
    if (!s.listening) h += "<section><h2 class=\"bad\">Not listening</h2></section>";

    h += "<section><h2>Last minutes</h2>";
    h += render_chart_svg(history);
    h += "<div class=\"muted\"><span style=\"color:#1f6feb\">&#9632;</span> requests/s &nbsp; "
         "<span style=\"color:#1a7f37\">&#9632;</span> peers online</div></section>";

    h += fmt::format("<section><h2>Files ({})</h2>", s.stats.files);
    if (s.files.files.empty()) {
        h += "<p class=\"muted\">No files yet.</p>";
    } else {
        h += "<table><tr><th>Name</th><th class=\"n\">Size</th><th class=\"n\">Complete</th>"
             "<th class=\"n\">Partial</th><th>Seed id</th></tr>";
        for (const auto& f : s.files.files)
            h += fmt::format(
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td "
                "class=\"n\">{}</td><td><code>{}</code></td></tr>",
                html_escape(f.name), size_text(f.length), f.complete_holders,
                f.holders - std::min(f.holders, f.complete_holders), f.id.hex().substr(0, 16));
        h += "</table>";
        if (s.files.more)
            h += fmt::format(
                "<p class=\"muted\">The first {} shown; all in <a "
                "href=\"/api/files\">/api/files</a>.</p>",
                s.files.files.size());
    }
    h += "</section>";

    h += fmt::format("<section><h2>Channels ({})</h2>", s.stats.channels);
    if (s.channels.channels.empty()) {
        h += "<p class=\"muted\">No channels yet.</p>";
    } else {
        h += "<table><tr><th>Name</th><th class=\"n\">Version</th><th class=\"n\">Files</th>"
             "<th class=\"n\">Size</th><th class=\"n\">Subscribers</th><th>Channel id</th></tr>";
        for (const auto& c : s.channels.channels)
            h += fmt::format(
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td "
                "class=\"n\">{}</td><td class=\"n\">{}</td><td><code>{}</code></td></tr>",
                html_escape(c.head.name), c.head.version, c.head.files, size_text(c.head.size),
                c.followers, c.head.channel.hex().substr(0, 16));
        h += "</table>";
        if (s.channels.more)
            h += "<p class=\"muted\">More in <a href=\"/api/channels\">/api/channels</a>.</p>";
    }
    h += "</section>";

    if (!s.cluster) {
        h += "<section><h2>Cluster</h2><p class=\"muted\">Single tracker (no cluster "
             "configured).</p></section>";
    } else {
        const ClusterView& c = *s.cluster;
        h += fmt::format("<section><h2>Cluster {}</h2>", html_escape(c.name));
        if (!c.etcd_reachable) h += "<p class=\"bad\">etcd unreachable</p>";
        if (c.leader.empty())
            h += "<p>Leader: <b>none</b> (an election is under way)</p>";
        else
            h += fmt::format("<p>Leader: <b id=\"leader\">{}</b>{}</p>", html_escape(c.leader),
                             c.leader == c.self ? " (this tracker)" : "");
        h += fmt::format("<table><tr><th>Trackers ({})</th></tr>", c.members.size());
        for (const auto& m : c.members)
            h += fmt::format("<tr><td>{}{}{}</td></tr>", html_escape(m),
                             m == c.leader ? " &middot; leader" : "",
                             m == c.self ? " &middot; this tracker" : "");
        h += "</table></section>";
    }

    h += "<p class=\"muted\">Machine-readable: <a href=\"/metrics\">/metrics</a> &middot; <a "
         "href=\"/healthz\">/healthz</a> &middot; <a href=\"/api/files\">/api/files</a> &middot; "
         "<a href=\"/api/channels\">/api/channels</a> &middot; <a "
         "href=\"/api/cluster\">/api/cluster</a>. ";
    h += fmt::format("This page refreshes every {} s.</p></main></body></html>\n",
                     ctx.refresh_seconds);
    return h;
}

nlohmann::json cluster_json(const std::optional<ClusterView>& cluster) {
    if (!cluster) return nlohmann::json{{"cluster", nullptr}};
    return nlohmann::json{
        {"cluster",
         {{"name", cluster->name},
          {"self", cluster->self},
          {"leader",
           cluster->leader.empty() ? nlohmann::json(nullptr) : nlohmann::json(cluster->leader)},
          {"leading", !cluster->leader.empty() && cluster->leader == cluster->self},
          {"members", cluster->members},
          {"etcd_reachable", cluster->etcd_reachable}}}};
}

nlohmann::json files_json(const FilePage& page) {
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : page.files)
        files.push_back({{"id", f.id.hex()},
                         {"name", f.name},
                         {"size", f.length},
                         {"holders", f.holders},
                         {"complete", f.complete_holders},
                         {"partial", f.holders - std::min(f.holders, f.complete_holders)}});
    nlohmann::json j{{"files", files}, {"more", page.more}};
    if (page.more && !page.files.empty()) j["next_after"] = page.files.back().id.hex();
    return j;
}

nlohmann::json channels_json(const ChannelPage& page) {
    nlohmann::json channels = nlohmann::json::array();
    for (const auto& c : page.channels)
        channels.push_back({{"id", c.head.channel.hex()},
                            {"name", c.head.name},
                            {"version", c.head.version},
                            {"files", c.head.files},
                            {"size", c.head.size},
                            {"subscribers", c.followers}});
    nlohmann::json j{{"channels", channels}, {"more", page.more}};
    if (page.more && !page.channels.empty())
        j["next_after"] = page.channels.back().head.channel.hex();
    return j;
}

nlohmann::json peers_json(const SeedId& seed, const std::vector<Holder>& holders) {
    nlohmann::json peers = nlohmann::json::array();
    for (const auto& p : holders)
        peers.push_back({{"address", p.address.to_string()},
                         {"port", p.port},
                         {"user", uuid_string(p.user)},
                         {"complete", p.complete}});
    return {{"seed", seed.hex()}, {"peers", peers}};
}

std::string json_text(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string render_metrics(const std::optional<StatusSnapshot>& s, const RequestCounters& counters,
                           const PageContext& ctx) {
    http::MetricsText m;
    m.family("seedshare_tracker_build_info", "gauge", "The tracker's version (always 1).");
    m.sample("seedshare_tracker_build_info", {{"version", ctx.version}}, 1);
    m.family("seedshare_tracker_start_time_seconds", "gauge",
             "When the tracker started, in seconds since the Unix epoch.");
    m.sample("seedshare_tracker_start_time_seconds",
             static_cast<double>(ctx.started_unix_ms) / 1000.0);
    m.family("seedshare_tracker_up", "gauge",
             "1 when the tracker listens and its store answers, 0 otherwise.");
    m.sample("seedshare_tracker_up", s && s->listening && !s->store_error ? 1 : 0);

    m.family("seedshare_tracker_requests_total", "counter",
             "Requests from peers handled, by request type.");
    std::vector<http::LatencyHistogram::Snapshot> snaps;
    for (std::size_t i = 0; i < RequestCounters::kTypes; ++i) {
        snaps.push_back(counters.latency(i).snapshot());
        m.sample("seedshare_tracker_requests_total",
                 {{"type", tracker_proto::type_name(static_cast<std::uint8_t>(i + 1))}},
                 static_cast<double>(snaps.back().count()));
    }
    m.family("seedshare_tracker_request_duration_seconds", "histogram",
             "Time to handle a request from peers (decoded to answered), by request type.");
    const std::vector<double> bounds(http::LatencyHistogram::kBounds.begin(),
                                     http::LatencyHistogram::kBounds.end());
    for (std::size_t i = 0; i < RequestCounters::kTypes; ++i)
        m.histogram("seedshare_tracker_request_duration_seconds",
                    {{"type", tracker_proto::type_name(static_cast<std::uint8_t>(i + 1))}}, bounds,
                    snaps[i].counts, snaps[i].sum);

    if (!s) return m.text();
    m.family("seedshare_tracker_connections", "gauge", "Open connections from peers.");
    m.sample("seedshare_tracker_connections", static_cast<double>(s->connections));
    if (s->store_error) return m.text();
    const auto gauge = [&](std::string_view name, std::string_view help, std::size_t v) {
        m.family(name, "gauge", help);
        m.sample(name, static_cast<double>(v));
    };
    gauge("seedshare_tracker_peers_online", "Peers live (heard from within the TTL).",
          s->stats.live_users);
    gauge("seedshare_tracker_peer_records", "Peer records kept, live or awaiting the sweep.",
          s->stats.users);
    gauge("seedshare_tracker_files", "Files some peer holds or held.", s->stats.files);
    gauge("seedshare_tracker_seeds", "Files whose seed text the tracker keeps.", s->stats.seeds);
    gauge("seedshare_tracker_holdings", "Pairs of a peer and a file it holds.", s->stats.holdings);
    gauge("seedshare_tracker_channels", "Channels with a head (latest manifest) kept.",
          s->stats.channels);
    gauge("seedshare_tracker_follows", "Pairs of a peer and a channel it follows.",
          s->stats.follows);
    if (s->cluster) {
        gauge("seedshare_tracker_cluster_members", "Trackers in this tracker's cluster.",
              s->cluster->members.size());
        gauge("seedshare_tracker_cluster_leader", "1 while this tracker leads its cluster.",
              !s->cluster->leader.empty() && s->cluster->leader == s->cluster->self ? 1 : 0);
    }
    return m.text();
}

}  // namespace seedshare::tracker
