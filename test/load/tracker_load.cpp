// tracker-load: one process simulating N peers against a running tracker
// (scripts/bench/tracker-load runs it). Every peer is a coroutine with its own
// connection: it joins, sends a file list of --files seeds drawn from a pool
// of --seeds, then for --seconds sends requests at a fixed pace (--rate in
// total, spread evenly over the peers), alternating GetPeers for one of its
// seeds and Heartbeat (--mix). Open loop: a request's latency counts from the
// moment it was due, so a tracker that falls behind shows it in the
// percentiles instead of slowing the load down.
//
// Prints a human summary and one line "RESULT {json}" for scripts.
#include <fmt/format.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include <asio.hpp>

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/limits.hpp"
#include "common/net/net.hpp"
#include "common/wire/frame.hpp"
#include "common/wire/tracker_protocol.hpp"

namespace {

using namespace seedshare;
namespace proto = tracker_proto;
using Clock = std::chrono::steady_clock;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

struct Config {
    HostPort tracker{"127.0.0.1", 7000};
    std::size_t peers = 2000;
    double seconds = 10;
    double rate = 25000;
    std::size_t seeds = 1000;
    std::size_t files = 10;
    std::uint16_t numwant = 50;
    unsigned get_peers_per_heartbeat = 1;  // the mix: N GetPeers, then one Heartbeat
    std::size_t setup_concurrency = 256;
    double request_timeout = 5;
};

struct Stats {
    std::vector<std::uint32_t> latency_us;  // steady phase only
    std::uint64_t sent = 0;
    std::uint64_t error_replies = 0;
    std::uint64_t io_errors = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t setup_errors = 0;
    std::uint64_t peers_returned = 0;  // sum of GetPeers answer sizes
    std::uint64_t get_peers = 0;
    std::string first_error;

    void error(std::string what, std::uint64_t& counter) {
        ++counter;
        if (first_error.empty()) first_error = std::move(what);
    }
};

struct Peer {
    explicit Peer(asio::any_io_executor ex) : socket(ex), timer(ex) {}
    tcp::socket socket;
    asio::steady_timer timer;
    std::size_t index = 0;
    UserId user;
    Token token;
    std::vector<SeedId> held;
    Bytes payload;
    Clock::time_point busy_since = Clock::time_point::max();  // a request in flight
    bool alive = false;
};

struct Run {
    Config cfg;
    asio::io_context io{1};
    std::vector<std::unique_ptr<Peer>> peers;
    std::vector<SeedId> pool;
    Stats stats;
    std::mt19937_64 rng{20261121};
    Clock::time_point steady_start;
    Clock::time_point steady_end;
    Clock::time_point last_done;  // when the last answer arrived
};

// One request and its response over a peer's socket.
awaitable<proto::Response> exchange(Peer& p, const Bytes& frame) {
    p.busy_since = Clock::now();
    co_await asio::async_write(p.socket, asio::buffer(frame), use_awaitable);
    std::array<std::uint8_t, limits::kFrameHeaderBytes> head{};
    co_await asio::async_read(p.socket, asio::buffer(head), use_awaitable);
    auto h = decode_frame_header(head, limits::kMaxTrackerFrameBytes);
    if (!h) throw std::runtime_error(h.error().message);
    p.payload.resize(h->payload_size());
    co_await asio::async_read(p.socket, asio::buffer(p.payload), use_awaitable);
    p.busy_since = Clock::time_point::max();
    auto r = proto::decode_response(h->type, p.payload);
    if (!r) throw std::runtime_error(r.error().message);
    co_return std::move(*r);
}

// With the tracker on an IPv4 loopback address, peer i connects from an
// address of its own in 127.1.0.0/16 (62,500 of them), as peers of many
// hosts would, and so that 100,000 connections do not run out of the ports
// of one source address.
std::optional<asio::ip::address_v4> source_address(const Config& cfg, std::size_t i) {
    asio::error_code ec;
    const auto a = asio::ip::make_address(cfg.tracker.host, ec);
    if (ec || !a.is_v4() || !a.is_loopback()) return std::nullopt;
    const auto third = static_cast<unsigned>(1 + (i / 250) % 250);
    const auto fourth = static_cast<unsigned>(1 + i % 250);
    return asio::ip::address_v4((127u << 24) | (1u << 16) | (third << 8) | fourth);
}

awaitable<void> setup_peer(Run& run, Peer& p) {
    const HostPort& where = run.cfg.tracker;
    if (const auto from = source_address(run.cfg, p.index)) {
        tcp::socket socket(run.io);
        socket.open(tcp::v4());
        socket.bind(tcp::endpoint(*from, 0));
        const tcp::endpoint to(asio::ip::make_address(where.host), where.port);
        co_await socket.async_connect(to, use_awaitable);
        p.socket = std::move(socket);
    } else {
        p.socket = co_await net::connect(where, std::chrono::seconds(10));
    }
    p.socket.set_option(tcp::no_delay(true));
    proto::Join join;
    join.user = p.user;
    join.port = static_cast<std::uint16_t>(10000 + p.index % 50000);
    const Bytes join_frame = proto::encode(proto::Request{join});
    auto joined = co_await exchange(p, join_frame);
    if (auto* e = std::get_if<proto::ErrorReply>(&joined)) throw std::runtime_error(e->message);
    p.token = std::get<proto::Joined>(joined).token;
    proto::FileList list;
    list.token = p.token;
    list.replace_all = true;
    for (const auto& id : p.held)
        list.add.push_back(proto::FileEntry{id, fmt::format("file-{}.bin", id.hex().substr(0, 8)),
                                            1u << 20, true});
    const Bytes list_frame = proto::encode(proto::Request{list});
    auto ok = co_await exchange(p, list_frame);
    if (auto* e = std::get_if<proto::ErrorReply>(&ok)) throw std::runtime_error(e->message);
    p.alive = true;
}

awaitable<void> setup_worker(Run& run, std::size_t& next) {
    while (next < run.peers.size()) {
        Peer& p = *run.peers[next++];
        try {
            co_await setup_peer(run, p);
        } catch (const std::exception& e) {
            run.stats.error(fmt::format("setup: {}", e.what()), run.stats.setup_errors);
        }
    }
}

awaitable<void> drive_peer(Run& run, Peer& p, Clock::duration interval, Clock::duration offset) {
    std::uint64_t k = 0;
    std::size_t seed_index = 0;
    while (p.alive) {
        const auto due = run.steady_start + offset + interval * k;
        if (due >= run.steady_end) break;
        if (due > Clock::now()) {
            p.timer.expires_at(due);
            co_await p.timer.async_wait(use_awaitable);
        }
        const bool heartbeat =
            k % (run.cfg.get_peers_per_heartbeat + 1) == run.cfg.get_peers_per_heartbeat;
        ++k;
        proto::Request req;
        if (heartbeat) {
            req = proto::Heartbeat{p.token};
        } else {
            proto::GetPeers q;
            q.token = p.token;
            q.id = p.held[seed_index++ % p.held.size()];
            q.numwant = run.cfg.numwant;
            req = q;
        }
        const Bytes frame = proto::encode(req);
        ++run.stats.sent;
        try {
            auto r = co_await exchange(p, frame);
            const auto done = Clock::now();
            run.last_done = std::max(run.last_done, done);
            run.stats.latency_us.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(done - due).count(),
                UINT32_MAX)));
            if (auto* e = std::get_if<proto::ErrorReply>(&r)) {
                run.stats.error(fmt::format("{}: {}", proto::error_code_name(e->code), e->message),
                                run.stats.error_replies);
            } else if (auto* peers = std::get_if<proto::Peers>(&r)) {
                ++run.stats.get_peers;
                run.stats.peers_returned += peers->peers.size();
            }
        } catch (const std::exception& e) {
            if (p.busy_since == Clock::time_point::min())
                run.stats.error("a request timed out", run.stats.timeouts);
            else
                run.stats.error(fmt::format("connection: {}", e.what()), run.stats.io_errors);
            p.alive = false;
        }
    }
}

// Closes the connection of any peer whose request is older than the timeout.
awaitable<void> watchdog(Run& run, bool& done) {
    asio::steady_timer t(run.io);
    const auto timeout = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(run.cfg.request_timeout));
    while (!done) {
        t.expires_after(std::chrono::milliseconds(250));
        co_await t.async_wait(use_awaitable);
        const auto now = Clock::now();
        for (auto& p : run.peers) {
            if (p->busy_since != Clock::time_point::max() && now - p->busy_since > timeout) {
                p->busy_since = Clock::time_point::min();
                asio::error_code ec;
                p->socket.close(ec);
            }
        }
    }
}

std::uint32_t percentile(const std::vector<std::uint32_t>& sorted, double q) {
    if (sorted.empty()) return 0;
    const auto i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1));
    return sorted[i];
}

void raise_descriptor_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int run_load(Config cfg) {
    raise_descriptor_limit();
    Run run;
    run.cfg = cfg;
    for (std::size_t i = 0; i < cfg.seeds; ++i) {
        SeedId id;
        for (auto& b : id.bytes)
            b = static_cast<std::uint8_t>(run.rng());
        run.pool.push_back(id);
    }
    for (std::size_t i = 0; i < cfg.peers; ++i) {
        auto p = std::make_unique<Peer>(run.io.get_executor());
        p->index = i;
        p->user = random_user_id();
        // --files distinct seeds of the pool (drawn, not shuffled: 100,000
        // peers times a large pool would be slow).
        std::uniform_int_distribution<std::size_t> any_seed(0, cfg.seeds - 1);
        std::vector<std::size_t> picked;
        while (picked.size() < std::min(cfg.files, cfg.seeds)) {
            const std::size_t k = any_seed(run.rng);
            if (std::find(picked.begin(), picked.end(), k) == picked.end()) picked.push_back(k);
        }
        for (const std::size_t k : picked)
            p->held.push_back(run.pool[k]);
        run.peers.push_back(std::move(p));
    }

    // Phase 1: everyone joins and sends its list.
    const auto t0 = Clock::now();
    std::size_t next = 0;
    std::size_t workers_done = 0;
    for (std::size_t w = 0; w < std::min(cfg.setup_concurrency, cfg.peers); ++w)
        asio::co_spawn(run.io, setup_worker(run, next),
                       [&](std::exception_ptr) { ++workers_done; });
    // 120 s, and one more per 1,000 peers.
    const auto setup_deadline =
        Clock::now() + std::chrono::seconds(120 + static_cast<long>(cfg.peers / 1000));
    while (workers_done < std::min(cfg.setup_concurrency, cfg.peers) &&
           Clock::now() < setup_deadline)
        run.io.run_one_until(setup_deadline);
    const double setup_s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::size_t alive = 0;
    for (auto& p : run.peers)
        alive += p->alive ? 1 : 0;
    fmt::print("setup: {} of {} peers joined and sent {} files each in {:.2f} s\n", alive,
               cfg.peers, cfg.files, setup_s);

    // Phase 2: the paced load.
    const auto interval = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(static_cast<double>(cfg.peers) / cfg.rate));
    run.steady_start = Clock::now() + std::chrono::milliseconds(200);
    run.steady_end = run.steady_start + std::chrono::duration_cast<Clock::duration>(
                                            std::chrono::duration<double>(cfg.seconds));
    run.stats.latency_us.reserve(static_cast<std::size_t>(cfg.rate * cfg.seconds * 1.1));
    std::uniform_int_distribution<Clock::rep> phase(0, interval.count());
    std::size_t drivers_done = 0;
    std::size_t drivers = 0;
    for (auto& p : run.peers) {
        if (!p->alive) continue;
        ++drivers;
        asio::co_spawn(run.io, drive_peer(run, *p, interval, Clock::duration(phase(run.rng))),
                       [&](std::exception_ptr) { ++drivers_done; });
    }
    bool done = false;
    asio::co_spawn(run.io, watchdog(run, done), asio::detached);
    if (run.io.stopped()) run.io.restart();  // it ran out of work after the setup
    const auto hard_end =
        run.steady_end + std::chrono::seconds(static_cast<long>(cfg.request_timeout) + 5);
    while (drivers_done < drivers && Clock::now() < hard_end)
        run.io.run_one_until(hard_end);
    done = true;
    const double elapsed =
        std::chrono::duration<double>(std::min(Clock::now(), run.steady_end) - run.steady_start)
            .count();
    for (auto& p : run.peers) {
        asio::error_code ec;
        p->socket.close(ec);
    }
    run.io.stop();

    auto& lat = run.stats.latency_us;
    std::sort(lat.begin(), lat.end());
    const std::uint64_t completed = lat.size();
    const std::uint64_t errors =
        run.stats.error_replies + run.stats.io_errors + run.stats.timeouts +
        run.stats.setup_errors +
        (run.stats.sent - completed - run.stats.io_errors - run.stats.timeouts);
    const double rps = static_cast<double>(completed) / elapsed;
    const double ms = 1e-3;
    fmt::print(
        "load: {} peers, {:.1f} s, target {:.0f} req/s, mix {} GetPeers : 1 Heartbeat, numwant "
        "{}\n",
        drivers, elapsed, cfg.rate, cfg.get_peers_per_heartbeat, cfg.numwant);
    fmt::print("requests: {} completed, {:.0f} req/s\n", completed, rps);
    fmt::print("latency: p50 {:.3f} ms, p90 {:.3f} ms, p99 {:.3f} ms, max {:.3f} ms\n",
               percentile(lat, 0.50) * ms, percentile(lat, 0.90) * ms, percentile(lat, 0.99) * ms,
               (lat.empty() ? 0 : lat.back()) * ms);
    fmt::print("errors: {} (error replies {}, connection {}, timeouts {}, setup {}){}\n", errors,
               run.stats.error_replies, run.stats.io_errors, run.stats.timeouts,
               run.stats.setup_errors,
               run.stats.first_error.empty() ? "" : "; first: " + run.stats.first_error);
    fmt::print("peers per GetPeers answer: {:.1f}\n",
               run.stats.get_peers == 0 ? 0.0
                                        : static_cast<double>(run.stats.peers_returned) /
                                              static_cast<double>(run.stats.get_peers));
    fmt::print(
        "RESULT {{\"peers\": {}, \"seconds\": {:.3f}, \"requests\": {}, \"rps\": {:.1f}, "
        "\"p50_ms\": {:.3f}, \"p90_ms\": {:.3f}, \"p99_ms\": {:.3f}, \"max_ms\": {:.3f}, "
        "\"errors\": {}, \"setup_s\": {:.3f}}}\n",
        drivers, elapsed, completed, rps, percentile(lat, 0.50) * ms, percentile(lat, 0.90) * ms,
        percentile(lat, 0.99) * ms, (lat.empty() ? 0 : lat.back()) * ms, errors, setup_s);
    std::fflush(stdout);
    return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"tracker-load: simulated peers against a running tracker"};
    Config cfg;
    std::string tracker = "127.0.0.1:7000";
    app.add_option("--tracker", tracker, "HOST:PORT of the tracker");
    app.add_option("--peers", cfg.peers, "simulated peers (one connection each)")
        ->check(CLI::Range(1, 200000));
    app.add_option("--seconds", cfg.seconds, "length of the measured phase")
        ->check(CLI::Range(0.5, 3600.0));
    app.add_option("--rate", cfg.rate, "requests per second, all peers together")
        ->check(CLI::Range(1.0, 1e7));
    app.add_option("--seeds", cfg.seeds, "distinct seeds in the pool")
        ->check(CLI::Range(1, 1000000));
    app.add_option("--files", cfg.files, "seeds each peer holds")->check(CLI::Range(1, 10000));
    app.add_option("--numwant", cfg.numwant, "peers asked for per GetPeers")
        ->check(CLI::Range(1, 200));
    app.add_option("--mix", cfg.get_peers_per_heartbeat, "GetPeers per Heartbeat")
        ->check(CLI::Range(0, 100));
    try {
        app.parse(argc, argv);
        auto hp = parse_host_port(tracker);
        if (!hp) throw CLI::ValidationError("--tracker", hp.error().message);
        cfg.tracker = *hp;
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        return run_load(cfg);
    } catch (const std::exception& e) {
        fmt::print(stderr, "tracker-load: {}\n", e.what());
        return 1;
    }
}
