#include "tracker/http/tracker_http.hpp"

#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <deque>
#include <mutex>

#include "common/core/limits.hpp"
#include "common/core/version.hpp"

namespace seedshare::tracker {

namespace {

std::int64_t unix_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// Runs on the I/O thread. Pages only when asked (the page and nothing else
// lists files).
StatusSnapshot take_snapshot(Registry& store, const TrackerServer& server, std::size_t files,
                             std::size_t channels, const std::function<ClusterView()>& cluster) {
    StatusSnapshot s;
    s.listening = server.listening();
    s.connections = server.connections();
    if (cluster) s.cluster = cluster();
    try {
        s.stats = store.stats();
        if (files > 0) s.files = store.list_files(std::nullopt, files);
        if (channels > 0) s.channels = store.list_channels(std::nullopt, channels);
    } catch (const RegistryFailure& e) {
        s.store_error = e.what();
    }
    return s;
}

http::Response json_response(int status, const nlohmann::json& j) {
    return {status, "application/json", json_text(j)};
}

http::Response busy(std::chrono::milliseconds waited) {
    return {503, "text/plain; charset=utf-8",
            fmt::format("unavailable: the tracker's I/O thread did not answer within {} ms\n",
                        waited.count())};
}

// ?limit=N: 1..max (default max); nullopt when not a number in range.
std::optional<std::size_t> limit_param(const http::Request& r, std::size_t max) {
    const auto text = r.param("limit");
    if (!text) return max;
    std::size_t n = 0;
    const auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
    if (ec != std::errc{} || p != text->data() + text->size() || n < 1 || n > max)
        return std::nullopt;
    return n;
}

// A store failure answers 503 with the reason (the tracker keeps running).
http::Handler guarded(http::Handler h) {
    return [h = std::move(h)](const http::Request& r) -> http::Response {
        try {
            return h(r);
        } catch (const RegistryFailure& e) {
            return json_response(503, {{"error", fmt::format("the store fails: {}", e.what())}});
        }
    };
}

}  // namespace

struct TrackerHttp::State {
    State(asio::any_io_executor ex, Registry& store, const TrackerServer& server,
          std::shared_ptr<const RequestCounters> counters, Options options, Logger log)
        : ex(ex),
          store(store),
          server(server),
          counters(std::move(counters)),
          opt(std::move(options)),
          log(std::move(log)),
          sampler(ex) {}

    asio::any_io_executor ex;
    Registry& store;
    const TrackerServer& server;
    std::shared_ptr<const RequestCounters> counters;
    Options opt;
    Logger log;
    asio::steady_timer sampler;  // I/O thread only
    std::int64_t started_ms = unix_ms();
    std::atomic<bool> stopped{false};

    std::mutex mutex;  // guards history (written by the I/O thread, read by HTTP threads)
    std::deque<HistoryPoint> history;

    std::deque<HistoryPoint> history_copy() {
        std::lock_guard lock(mutex);
        return history;
    }
    PageContext context() const {
        PageContext c;
        c.version = std::string(kVersion);
        c.listen_text = server_text;
        c.now_unix_ms = unix_ms();
        c.started_unix_ms = started_ms;
        c.refresh_seconds = opt.refresh_seconds;
        return c;
    }
    std::string server_text;  // set before the HTTP threads start
};

namespace {

void sample(const std::shared_ptr<TrackerHttp::State>& st);

void schedule_sample(const std::shared_ptr<TrackerHttp::State>& st) {
    st->sampler.expires_after(st->opt.sample_interval);
    st->sampler.async_wait([st](const asio::error_code& ec) {
        if (ec || st->stopped) return;
        sample(st);
    });
}

void sample(const std::shared_ptr<TrackerHttp::State>& st) {
    HistoryPoint p;
    p.unix_ms = unix_ms();
    p.requests = st->counters->total();
    try {
        p.peers_online = st->store.stats().live_users;
    } catch (const RegistryFailure&) {
        std::lock_guard lock(st->mutex);
        p.peers_online = st->history.empty() ? 0 : st->history.back().peers_online;
    }
    {
        std::lock_guard lock(st->mutex);
        st->history.push_back(p);
        while (st->history.size() > st->opt.history_points)
            st->history.pop_front();
    }
    schedule_sample(st);
}

}  // namespace

TrackerHttp::TrackerHttp(asio::any_io_executor ex, Registry& store, const TrackerServer& server,
                         std::shared_ptr<const RequestCounters> counters, Options options,
                         Logger log)
    : state_(std::make_shared<State>(ex, store, server, std::move(counters), std::move(options),
                                     std::move(log))),
      server_(std::make_unique<http::Server>(state_->opt.limits)) {}

TrackerHttp::~TrackerHttp() {
    stop();
}

void TrackerHttp::start() {
    auto st = state_;
    st->server_text = st->server.listen_text();
    const auto timeout = st->opt.ask_timeout;

    server_->get("/", [st, timeout](const http::Request&) -> http::Response {
        auto& store = st->store;
        auto& server = st->server;
        const auto& cluster = st->opt.cluster;
        const auto files = st->opt.page_files, channels = st->opt.page_channels;
        auto snap = http::ask(
            st->ex,
            [&store, &server, &cluster, files, channels] {
                return take_snapshot(store, server, files, channels, cluster);
            },
            timeout);
        if (!snap) return busy(timeout);
        return {200, "text/html; charset=utf-8",
                render_status_page(*snap, st->history_copy(), st->context())};
    });

    server_->get("/metrics", [st, timeout](const http::Request&) -> http::Response {
        auto& store = st->store;
        auto& server = st->server;
        const auto& cluster = st->opt.cluster;
        auto snap = http::ask(
            st->ex,
            [&store, &server, &cluster] { return take_snapshot(store, server, 0, 0, cluster); },
            timeout);
        return {200, std::string(http::kMetricsContentType),
                render_metrics(snap, *st->counters, st->context())};
    });

    server_->get("/healthz", [st, timeout](const http::Request&) -> http::Response {
        auto& store = st->store;
        auto& server = st->server;
        const auto& cluster = st->opt.cluster;
        auto snap = http::ask(
            st->ex,
            [&store, &server, &cluster] { return take_snapshot(store, server, 0, 0, cluster); },
            timeout);
        if (!snap) return busy(timeout);
        if (!snap->listening)
            return {503, "text/plain; charset=utf-8", "unavailable: not listening\n"};
        if (snap->store_error)
            return {503, "text/plain; charset=utf-8",
                    fmt::format("unavailable: the store fails: {}\n", *snap->store_error)};
        if (snap->cluster && !snap->cluster->etcd_reachable)
            return {503, "text/plain; charset=utf-8", "unavailable: etcd unreachable\n"};
        return {200, "text/plain; charset=utf-8", "ok\n"};
    });

    server_->get(
        "/api/files", guarded([st, timeout](const http::Request& r) -> http::Response {
            std::optional<SeedId> after;
            if (const auto a = r.param("after")) {
                after = SeedId::from_hex_string(*a);
                if (!after)
                    return json_response(400,
                                         {{"error", "after: expected a seed id (64 hex digits)"}});
            }
            const auto limit = limit_param(r, limits::kMaxListFilesPage);
            if (!limit)
                return json_response(
                    400,
                    {{"error", fmt::format("limit: expected 1 to {}", limits::kMaxListFilesPage)}});
            auto& store = st->store;
            auto page = http::ask(
                st->ex, [&store, after, n = *limit] { return store.list_files(after, n); },
                timeout);
            if (!page) return busy(timeout);
            return json_response(200, files_json(*page));
        }));

    server_->get(
        "/api/channels", guarded([st, timeout](const http::Request& r) -> http::Response {
            std::optional<ChannelId> after;
            if (const auto a = r.param("after")) {
                after = ChannelId::from_hex_string(*a);
                if (!after)
                    return json_response(
                        400, {{"error", "after: expected a channel id (64 hex digits)"}});
            }
            const auto limit = limit_param(r, limits::kMaxListChannelsPage);
            if (!limit)
                return json_response(400, {{"error", fmt::format("limit: expected 1 to {}",
                                                                 limits::kMaxListChannelsPage)}});
            auto& store = st->store;
            auto page = http::ask(
                st->ex, [&store, after, n = *limit] { return store.list_channels(after, n); },
                timeout);
            if (!page) return busy(timeout);
            return json_response(200, channels_json(*page));
        }));

    server_->get(
        "/api/peers", guarded([st, timeout](const http::Request& r) -> http::Response {
            const auto text = r.param("seed");
            const auto seed = text ? SeedId::from_hex_string(*text) : std::nullopt;
            if (!seed)
                return json_response(400, {{"error", "seed: expected a seed id (64 hex digits)"}});
            auto& store = st->store;
            auto holders = http::ask(
                st->ex,
                [&store, id = *seed] {
                    return store.get_peers(id, UserId{},
                                           static_cast<std::uint16_t>(limits::kMaxNumWant));
                },
                timeout);
            if (!holders) return busy(timeout);
            return json_response(200, peers_json(*seed, *holders));
        }));

    server_->get("/api/cluster", [st, timeout](const http::Request&) -> http::Response {
        const auto& cluster = st->opt.cluster;
        auto view = http::ask(
            st->ex,
            [&cluster]() -> std::optional<ClusterView> {
                if (!cluster) return std::nullopt;
                return cluster();
            },
            timeout);
        if (!view) return busy(timeout);
        return json_response(200, cluster_json(*view));
    });

    server_->start(st->opt.address);
    asio::post(st->ex, [st] {
        if (!st->stopped) sample(st);
    });
}

void TrackerHttp::stop() {
    server_->stop();
    state_->stopped = true;  // the sampler schedules no more
    // The timer belongs to the I/O thread: cancelled there (if it still runs).
    asio::post(state_->ex, [st = state_] { st->sampler.cancel(); });
}

std::uint16_t TrackerHttp::port() const {
    return server_->port();
}

std::string TrackerHttp::listen_text() const {
    return server_->listen_text();
}

}  // namespace seedshare::tracker
