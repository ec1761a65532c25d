// tracker-failover: N simulated peers registered through tracker A of a
// cluster, moved to tracker B when A dies (scripts/bench/tracker-failover
// runs it and kills A). Each peer joins A (its own connection), sends a list
// of --files seeds and then waits on its socket, as a peer between
// heartbeats does. When A's connection ends, the peer does what the real
// TrackerClient does (peer/discovery: move_on): it connects to B at once and
// joins with its token, then sends a Heartbeat. It is served by B when B
// kept its token (its registration carried over) and answered the Heartbeat.
//
// Prints "READY" once every peer is registered at A, then, once every peer
// is served by B (or --timeout passed), one line "RESULT {json}" with the
// steady clock (CLOCK_MONOTONIC, as Python's time.monotonic_ns()) in ns of
// the first end of a connection to A and of the last peer served by B.
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
    HostPort a{"127.0.0.1", 7000};
    HostPort b{"127.0.0.1", 7001};
    std::size_t peers = 500;
    std::size_t files = 10;
    std::size_t seeds = 1000;
    std::size_t setup_concurrency = 64;
    double timeout = 120;  // seconds, for each phase
};

struct Peer {
    std::size_t index = 0;
    UserId user;
    Token token;
    std::vector<SeedId> held;
    bool registered = false;
    Clock::time_point lost{};    // A's connection ended
    Clock::time_point served{};  // B kept the token and answered a Heartbeat
    std::string error;
};

struct Run {
    Config cfg;
    asio::io_context io{1};
    std::vector<Peer> peers;
    std::size_t registered = 0, served = 0, failed = 0;
};

awaitable<proto::Response> exchange(tcp::socket& s, const proto::Request& req) {
    const Bytes frame = proto::encode(req);
    co_await asio::async_write(s, asio::buffer(frame), use_awaitable);
    std::array<std::uint8_t, limits::kFrameHeaderBytes> head{};
    co_await asio::async_read(s, asio::buffer(head), use_awaitable);
    auto h = decode_frame_header(head, limits::kMaxTrackerFrameBytes);
    if (!h) throw std::runtime_error(h.error().message);
    Bytes payload(h->payload_size());
    co_await asio::async_read(s, asio::buffer(payload), use_awaitable);
    auto r = proto::decode_response(h->type, payload);
    if (!r) throw std::runtime_error(r.error().message);
    co_return std::move(*r);
}

awaitable<tcp::socket> connect_to(const HostPort& where) {
    auto s = co_await net::connect(where, std::chrono::seconds(10));
    s.set_option(tcp::no_delay(true));
    co_return s;
}

// Joins A with its list, waits until A's connection ends, moves to B.
awaitable<void> peer_life(Run& run, Peer& p) {
    try {
        auto a = co_await connect_to(run.cfg.a);
        proto::Join join;
        join.user = p.user;
        join.port = static_cast<std::uint16_t>(10000 + p.index % 50000);
        join.wants_cluster = true;
        const proto::Request join_req{join};
        const auto joined = co_await exchange(a, join_req);
        if (const auto* e = std::get_if<proto::ErrorReply>(&joined))
            throw std::runtime_error("join at A: " + e->message);
        p.token = std::get<proto::Joined>(joined).token;
        proto::FileList list;
        list.token = p.token;
        list.replace_all = true;
        for (const auto& id : p.held)
            list.add.push_back(proto::FileEntry{id, "f.bin", 1u << 20, true});
        const proto::Request list_req{list};
        const auto listed = co_await exchange(a, list_req);
        if (const auto* e = std::get_if<proto::ErrorReply>(&listed))
            throw std::runtime_error("file list at A: " + e->message);
        p.registered = true;
        ++run.registered;
        // Between heartbeats a peer reads its socket: A's end shows at once.
        std::array<std::uint8_t, 1> byte{};
        asio::error_code ec;
        co_await a.async_read_some(asio::buffer(byte), asio::redirect_error(use_awaitable, ec));
        p.lost = Clock::now();
        if (!ec) throw std::runtime_error("A sent a message nobody asked for");

        auto b = co_await connect_to(run.cfg.b);
        proto::Join again = join;
        again.token = p.token;
        const proto::Request again_req{again};
        const auto rejoined = co_await exchange(b, again_req);
        if (const auto* e = std::get_if<proto::ErrorReply>(&rejoined))
            throw std::runtime_error("join at B: " + e->message);
        if (std::get<proto::Joined>(rejoined).token != p.token)
            throw std::runtime_error("B gave a new token: the registration was lost");
        const proto::Request beat{proto::Heartbeat{p.token}};
        const auto ok = co_await exchange(b, beat);
        if (const auto* e = std::get_if<proto::ErrorReply>(&ok))
            throw std::runtime_error("heartbeat at B: " + e->message);
        p.served = Clock::now();
        ++run.served;
        // Stay connected (B keeps serving) until the program ends.
        co_await b.async_read_some(asio::buffer(byte), asio::redirect_error(use_awaitable, ec));
    } catch (const std::exception& e) {
        p.error = e.what();
        ++run.failed;
        if (!p.registered) ++run.registered;  // counted, as a failure
    }
}

awaitable<void> setup_worker(Run& run, std::size_t& next) {
    // Joins are started a few at a time; each peer then lives on its own.
    while (next < run.peers.size()) {
        Peer& p = run.peers[next++];
        asio::co_spawn(run.io, peer_life(run, p), asio::detached);
        while (!p.registered && p.error.empty()) {
            asio::steady_timer t(run.io, std::chrono::milliseconds(1));
            co_await t.async_wait(use_awaitable);
        }
    }
}

std::int64_t ns(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

void raise_descriptor_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int run_failover(const Config& cfg) {
    raise_descriptor_limit();
    Run run;
    run.cfg = cfg;
    std::mt19937_64 rng{20261202};
    std::vector<SeedId> pool(cfg.seeds);
    for (auto& id : pool)
        for (auto& b : id.bytes)
            b = static_cast<std::uint8_t>(rng());
    run.peers.resize(cfg.peers);
    for (std::size_t i = 0; i < cfg.peers; ++i) {
        run.peers[i].index = i;
        run.peers[i].user = random_user_id();
        for (std::size_t k = 0; k < cfg.files; ++k)
            run.peers[i].held.push_back(pool[(i * 7 + k * 13) % pool.size()]);
    }
    const auto limit =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(cfg.timeout));
    std::size_t next = 0;
    for (std::size_t w = 0; w < std::min(cfg.setup_concurrency, cfg.peers); ++w)
        asio::co_spawn(run.io, setup_worker(run, next), asio::detached);
    const auto t0 = Clock::now();
    while (run.registered < run.peers.size() && Clock::now() - t0 < limit)
        run.io.run_one_until(t0 + limit);
    std::size_t ok = 0;
    for (const auto& p : run.peers)
        ok += p.registered && p.error.empty() ? 1 : 0;
    fmt::print("registered at A: {} of {} peers ({} files each) in {:.2f} s\n", ok,
               run.peers.size(), cfg.files,
               std::chrono::duration<double>(Clock::now() - t0).count());
    fmt::print("READY\n");
    std::fflush(stdout);

    const auto t1 = Clock::now();
    while (run.served + run.failed < run.peers.size() && Clock::now() - t1 < limit)
        run.io.run_one_until(Clock::now() + std::chrono::milliseconds(100));
    Clock::time_point first_lost = Clock::time_point::max(), last_served{};
    std::string first_error;
    for (const auto& p : run.peers) {
        if (p.lost != Clock::time_point{}) first_lost = std::min(first_lost, p.lost);
        if (p.served != Clock::time_point{}) last_served = std::max(last_served, p.served);
        if (first_error.empty() && !p.error.empty()) first_error = p.error;
    }
    const std::size_t errors = run.peers.size() - run.served;
    if (!first_error.empty()) fmt::print("first error: {}\n", first_error);
    fmt::print("served by B: {} of {} peers\n", run.served, run.peers.size());
    fmt::print(
        "RESULT {{\"peers\": {}, \"served\": {}, \"errors\": {}, \"first_lost_ns\": {}, "
        "\"last_served_ns\": {}}}\n",
        run.peers.size(), run.served, errors,
        first_lost == Clock::time_point::max() ? 0 : ns(first_lost), ns(last_served));
    std::fflush(stdout);
    run.io.stop();
    return errors == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"tracker-failover: simulated peers moving from tracker A to tracker B"};
    Config cfg;
    std::string a = "127.0.0.1:7000", b = "127.0.0.1:7001";
    app.add_option("--a", a, "HOST:PORT of tracker A (the peers register there)")->required();
    app.add_option("--b", b, "HOST:PORT of tracker B (they move there)")->required();
    app.add_option("--peers", cfg.peers, "simulated peers (one connection each)")
        ->check(CLI::Range(1, 20000));
    app.add_option("--files", cfg.files, "seeds each peer holds")->check(CLI::Range(1, 1000));
    app.add_option("--timeout", cfg.timeout, "seconds allowed for each phase")
        ->check(CLI::Range(1.0, 600.0));
    try {
        app.parse(argc, argv);
        auto ha = parse_host_port(a);
        if (!ha) throw CLI::ValidationError("--a", ha.error().message);
        auto hb = parse_host_port(b);
        if (!hb) throw CLI::ValidationError("--b", hb.error().message);
        cfg.a = *ha;
        cfg.b = *hb;
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        return run_failover(cfg);
    } catch (const std::exception& e) {
        fmt::print(stderr, "tracker-failover: {}\n", e.what());
        return 1;
    }
}
