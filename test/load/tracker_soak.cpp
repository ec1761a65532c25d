// tracker-soak: a long, churning load on a running tracker (scripts/bench/
// tracker-soak runs it and watches the tracker's memory). N simulated peers,
// each with its own connection, live like real ones: they join and send their
// file list, heartbeat at the interval the tracker asks for, ask for peers,
// change their file lists now and then, and some depart: most vanish without a
// word (the connection just closes), the others send Leave. Every departed
// peer is replaced by a new one, so the population stays at N.
//
// It checks that expiry is exact, with an auditor connection that asks for
// each departed peer's seeds (numwant 200: every holder):
//   - half a TTL after its last sign of life, a vanished peer must still be
//     listed (it may not expire early; this also proves the check can see it);
//   - once its TTL has passed (plus a small grace for requests in flight), it
//     must never be listed again; a peer that left must never be listed after
//     its Leave was answered.
// Every other GetPeers answer is checked against the departures too. Any
// error reply, broken connection, timeout or wrong answer counts as an error.
//
// Prints a progress line every 10 s, a summary, and "RESULT {json}".
#include <fmt/format.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include <asio.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <queue>
#include <random>
#include <unordered_map>
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
using namespace std::chrono_literals;

struct Config {
    HostPort tracker{"127.0.0.1", 7000};
    std::size_t peers = 5000;
    double seconds = 300;
    std::size_t seeds = 2000;
    std::size_t files = 10;
    double query_every = 5;        // s between GetPeers, per peer
    double list_every = 30;        // s between file list changes, per peer
    double depart_per_min = 0.02;  // share of the peers that depart each minute
    double leave_share = 0.2;      // of the departures, those that send Leave
    double grace = 0.25;           // s after the TTL before a vanished peer must be gone
    std::size_t setup_concurrency = 256;
    double request_timeout = 10;
};

struct Counters {
    std::uint64_t requests = 0;
    std::uint64_t error_replies = 0;
    std::uint64_t io_errors = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t join_errors = 0;
    std::uint64_t stale = 0;  // a departed peer listed after it had to be gone
    std::uint64_t early = 0;  // a vanished peer missing before its TTL passed
    std::uint64_t joins = 0;
    std::uint64_t vanished = 0;
    std::uint64_t left = 0;
    std::uint64_t list_changes = 0;
    std::uint64_t get_peers = 0;
    std::uint64_t gone_checks = 0;   // audits after the TTL (or the Leave)
    std::uint64_t alive_checks = 0;  // audits before the TTL
    std::string first_error;

    std::uint64_t errors() const {
        return error_replies + io_errors + timeouts + join_errors + stale + early;
    }
    void error(std::uint64_t& counter, std::string what) {
        ++counter;
        if (first_error.empty()) first_error = std::move(what);
    }
};

struct Peer {
    explicit Peer(asio::any_io_executor ex) : socket(ex), timer(ex) {}
    tcp::socket socket;
    asio::steady_timer timer;
    UserId user;
    Token token;
    std::vector<SeedId> held;
    Bytes payload;
    Clock::time_point busy_since = Clock::time_point::max();
    bool timed_out = false;
    Clock::time_point last_done{};       // the answer to its last request arrived
    Clock::time_point last_life_done{};  // a Join, Heartbeat or FileList answered
};

// An audit of one departed peer, due at `at`.
struct Audit {
    Clock::time_point at;
    bool expect_listed;
    std::size_t departed;  // index into Run::departed
    bool operator>(const Audit& o) const { return at > o.at; }
};

struct Departed {
    UserId user;
    std::vector<SeedId> held;
    Clock::time_point gone_by;  // must not be listed in answers to requests sent after this
};

struct Run {
    Config cfg;
    asio::io_context io{1};
    std::vector<SeedId> pool;
    std::mt19937_64 rng{20261121};
    Counters c;
    Clock::duration ttl{};
    Clock::duration heartbeat{};
    Clock::time_point start;
    Clock::time_point end;
    Clock::time_point last_departure;  // none after this: all audits finish in the run
    std::vector<Departed> departed;
    std::unordered_map<UserId, std::size_t, FixedIdHash> departed_index;
    std::priority_queue<Audit, std::vector<Audit>, std::greater<>> audits;
    asio::steady_timer audit_wake{io};
    std::size_t live = 0;
    std::vector<Peer*> busy;  // every peer, for the request watchdog
    std::uint64_t next_peer = 0;

    Clock::duration seconds(double s) const {
        return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
    }
    // Exponentially distributed wait with the given mean (seconds).
    Clock::duration poisson_wait(double mean) {
        std::exponential_distribution<double> d(1.0 / mean);
        return seconds(d(rng));
    }
    std::vector<SeedId> pick_seeds() {
        std::vector<SeedId> out;
        std::uniform_int_distribution<std::size_t> any(0, pool.size() - 1);
        while (out.size() < std::min(cfg.files, pool.size())) {
            const SeedId& id = pool[any(rng)];
            if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
        }
        return out;
    }
    // Checks a GetPeers answer to a request sent at `sent` against the departures.
    void check_answer(const proto::Peers& peers, Clock::time_point sent) {
        for (const auto& e : peers.peers) {
            auto it = departed_index.find(e.user);
            if (it != departed_index.end() && sent > departed[it->second].gone_by)
                c.error(c.stale,
                        fmt::format(
                            "peer {} listed {:.2f} s after it had to be gone", uuid_string(e.user),
                            std::chrono::duration<double>(sent - departed[it->second].gone_by)
                                .count()));
        }
    }
};

awaitable<proto::Response> exchange(Run& run, Peer& p, const proto::Request& req) {
    const Bytes frame = proto::encode(req);
    p.busy_since = Clock::now();
    ++run.c.requests;
    co_await asio::async_write(p.socket, asio::buffer(frame), use_awaitable);
    std::array<std::uint8_t, limits::kFrameHeaderBytes> head{};
    co_await asio::async_read(p.socket, asio::buffer(head), use_awaitable);
    auto h = decode_frame_header(head, limits::kMaxTrackerFrameBytes);
    if (!h) throw std::runtime_error(h.error().message);
    p.payload.resize(h->payload_size());
    co_await asio::async_read(p.socket, asio::buffer(p.payload), use_awaitable);
    p.busy_since = Clock::time_point::max();
    p.last_done = Clock::now();
    auto r = proto::decode_response(h->type, p.payload);
    if (!r) throw std::runtime_error(r.error().message);
    if (auto* e = std::get_if<proto::ErrorReply>(&*r))
        throw std::runtime_error(
            fmt::format("{}: {}", proto::error_code_name(e->code), e->message));
    co_return std::move(*r);
}

awaitable<void> join(Run& run, Peer& p, std::uint16_t port) {
    const HostPort& where = run.cfg.tracker;
    auto socket = co_await net::connect(where, std::chrono::seconds(10));
    p.socket = std::move(socket);
    p.socket.set_option(tcp::no_delay(true));
    proto::Join j;
    j.user = p.user;
    j.port = port;
    const proto::Request join_req{j};
    auto joined = co_await exchange(run, p, join_req);
    const auto& ok = std::get<proto::Joined>(joined);
    p.token = ok.token;
    run.ttl = std::chrono::milliseconds(ok.ttl_ms);
    run.heartbeat = std::chrono::milliseconds(ok.heartbeat_ms);
    if (port != 0) {
        proto::FileList list;
        list.token = p.token;
        list.replace_all = true;
        for (const auto& id : p.held)
            list.add.push_back(proto::FileEntry{id, fmt::format("f-{}.bin", id.hex().substr(0, 8)),
                                                1u << 20, true});
        const proto::Request list_req{list};
        co_await exchange(run, p, list_req);
    }
    p.last_life_done = Clock::now();
    ++run.c.joins;
}

std::unique_ptr<Peer> new_peer(Run& run) {
    auto p = std::make_unique<Peer>(run.io.get_executor());
    p->user = random_user_id();
    p->held = run.pick_seeds();
    ++run.next_peer;
    return p;
}

// The peer departs: Leave, or just gone. Records the audits.
awaitable<void> depart(Run& run, Peer& p) {
    std::uniform_real_distribution<double> u(0, 1);
    Departed d{p.user, p.held, {}};
    const bool leave = u(run.rng) < run.cfg.leave_share;
    if (leave) {
        const proto::Request req{proto::Leave{p.token}};
        co_await exchange(run, p, req);
        d.gone_by = Clock::now();
        ++run.c.left;
    } else {
        // The tracker heard its last sign of life before that request's
        // answer arrived: a TTL (and a grace) later it must be gone.
        d.gone_by = p.last_done + run.ttl + run.seconds(run.cfg.grace);
        ++run.c.vanished;
        run.audits.push({p.last_life_done + run.ttl / 2, true, run.departed.size()});
    }
    asio::error_code ec;
    p.socket.close(ec);
    run.audits.push({d.gone_by, false, run.departed.size()});
    run.departed_index[d.user] = run.departed.size();
    run.departed.push_back(std::move(d));
    run.audit_wake.cancel();
}

// One simulated peer, from join (unless `joined`) to the end of the run or
// its departure; a departed peer hands over to a new one.
awaitable<void> live(Run& run, std::unique_ptr<Peer> owned, bool joined) {
    while (owned) {
        Peer& p = *owned;
        run.busy.push_back(&p);
        bool departed = false;
        try {
            if (!joined)
                co_await join(run, p, static_cast<std::uint16_t>(10000 + run.next_peer % 50000));
            joined = false;
            ++run.live;
            auto next_heartbeat = Clock::now() + run.heartbeat;
            auto next_query = Clock::now() + run.poisson_wait(run.cfg.query_every);
            auto next_list = Clock::now() + run.poisson_wait(run.cfg.list_every);
            const double per_s = run.cfg.depart_per_min / 60.0;
            auto departs =
                per_s > 0 ? Clock::now() + run.poisson_wait(1.0 / per_s) : Clock::time_point::max();
            std::size_t q = 0;
            while (true) {
                const auto due = std::min({next_heartbeat, next_query, next_list, departs});
                if (due >= run.end) break;
                p.timer.expires_at(due);
                co_await p.timer.async_wait(use_awaitable);
                const auto now = Clock::now();
                if (now >= departs && now < run.last_departure) {
                    co_await depart(run, p);
                    departed = true;
                    break;
                }
                if (now >= departs) departs = Clock::time_point::max();
                if (now >= next_heartbeat) {
                    const proto::Request req{proto::Heartbeat{p.token}};
                    co_await exchange(run, p, req);
                    p.last_life_done = Clock::now();
                    next_heartbeat = p.last_life_done + run.heartbeat;
                } else if (now >= next_list) {
                    std::uniform_int_distribution<std::size_t> pick(0, p.held.size() - 1);
                    const std::size_t k = pick(run.rng);
                    SeedId added;
                    std::uniform_int_distribution<std::size_t> any(0, run.pool.size() - 1);
                    for (int tries = 0; tries < 100; ++tries) {
                        added = run.pool[any(run.rng)];
                        if (std::find(p.held.begin(), p.held.end(), added) == p.held.end()) break;
                    }
                    if (std::find(p.held.begin(), p.held.end(), added) == p.held.end()) {
                        proto::FileList list;
                        list.token = p.token;
                        list.add.push_back(proto::FileEntry{
                            added, fmt::format("f-{}.bin", added.hex().substr(0, 8)), 1u << 20,
                            true});
                        list.remove.push_back(p.held[k]);
                        const proto::Request req{list};
                        co_await exchange(run, p, req);
                        p.held[k] = added;
                        p.last_life_done = Clock::now();
                        ++run.c.list_changes;
                    }
                    next_list = Clock::now() + run.poisson_wait(run.cfg.list_every);
                } else if (now >= next_query) {
                    const proto::Request req{
                        proto::GetPeers{p.token, p.held[q++ % p.held.size()], 200}};
                    const auto sent = Clock::now();
                    auto r = co_await exchange(run, p, req);
                    ++run.c.get_peers;
                    run.check_answer(std::get<proto::Peers>(r), sent);
                    next_query = Clock::now() + run.poisson_wait(run.cfg.query_every);
                }
            }
        } catch (const std::exception& e) {
            if (p.timed_out)
                run.c.error(run.c.timeouts, "a request timed out");
            else if (p.token.is_zero())
                run.c.error(run.c.join_errors, fmt::format("join: {}", e.what()));
            else
                run.c.error(run.c.io_errors, fmt::format("connection: {}", e.what()));
        }
        run.busy.erase(std::find(run.busy.begin(), run.busy.end(), &p));
        if (!p.token.is_zero() || departed) --run.live;
        asio::error_code ec;
        p.socket.close(ec);
        owned.reset();
        if (departed) owned = new_peer(run);  // a newcomer takes its place
    }
}

// Asks, when due, for the seeds of departed peers.
awaitable<void> audit(Run& run) {
    Peer a(run.io.get_executor());
    a.user = random_user_id();
    co_await join(run, a, 0);
    run.busy.push_back(&a);
    auto next_heartbeat = Clock::now() + run.heartbeat;
    while (Clock::now() < run.end || !run.audits.empty()) {
        const auto due =
            run.audits.empty() ? next_heartbeat : std::min(next_heartbeat, run.audits.top().at);
        run.audit_wake.expires_at(std::min(due, run.end + 60s));
        asio::error_code ec;
        co_await run.audit_wake.async_wait(asio::redirect_error(use_awaitable, ec));
        if (Clock::now() >= run.end + 60s) break;
        if (Clock::now() >= next_heartbeat) {
            const proto::Request req{proto::Heartbeat{a.token}};
            co_await exchange(run, a, req);
            next_heartbeat = Clock::now() + run.heartbeat;
        }
        while (!run.audits.empty() && run.audits.top().at <= Clock::now()) {
            const Audit job = run.audits.top();
            run.audits.pop();
            const Departed& d = run.departed[job.departed];
            std::size_t listed = 0;
            for (const auto& id : d.held) {
                const proto::Request req{proto::GetPeers{a.token, id, 200}};
                const auto sent = Clock::now();
                auto r = co_await exchange(run, a, req);
                const auto& peers = std::get<proto::Peers>(r);
                for (const auto& e : peers.peers)
                    listed += e.user == d.user ? 1 : 0;
                if (!job.expect_listed) run.check_answer(peers, sent);
            }
            if (job.expect_listed) {
                ++run.c.alive_checks;
                if (listed != d.held.size())
                    run.c.error(run.c.early,
                                fmt::format("peer {} listed for {} of its {} seeds half a TTL "
                                            "after its last heartbeat",
                                            uuid_string(d.user), listed, d.held.size()));
            } else {
                ++run.c.gone_checks;
            }
        }
    }
    run.busy.erase(std::find(run.busy.begin(), run.busy.end(), &a));
}

// Closes the connection of any peer whose request is older than the timeout.
awaitable<void> watchdog(Run& run, const bool& done) {
    asio::steady_timer t(run.io);
    const auto timeout = run.seconds(run.cfg.request_timeout);
    while (!done) {
        t.expires_after(250ms);
        co_await t.async_wait(use_awaitable);
        const auto now = Clock::now();
        for (Peer* p : run.busy) {
            if (p->busy_since != Clock::time_point::max() && now - p->busy_since > timeout) {
                p->timed_out = true;
                p->busy_since = Clock::time_point::max();
                asio::error_code ec;
                p->socket.close(ec);
            }
        }
    }
}

void raise_descriptor_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

awaitable<void> setup_worker(Run& run, std::vector<std::unique_ptr<Peer>>& peers,
                             std::size_t& next) {
    while (next < peers.size()) {
        Peer& p = *peers[next];
        const auto port = static_cast<std::uint16_t>(10000 + next++ % 50000);
        try {
            co_await join(run, p, port);
        } catch (const std::exception& e) {
            run.c.error(run.c.join_errors, fmt::format("setup: {}", e.what()));
            p.token = Token{};
        }
    }
}

int run_soak(const Config& cfg) {
    raise_descriptor_limit();
    Run run;
    run.cfg = cfg;
    for (std::size_t i = 0; i < cfg.seeds; ++i) {
        SeedId id;
        for (auto& b : id.bytes)
            b = static_cast<std::uint8_t>(run.rng());
        run.pool.push_back(id);
    }

    // Everyone joins first (at most setup_concurrency at once).
    std::vector<std::unique_ptr<Peer>> peers;
    for (std::size_t i = 0; i < cfg.peers; ++i)
        peers.push_back(new_peer(run));
    const auto t0 = Clock::now();
    std::size_t next = 0;
    std::size_t workers = std::min(cfg.setup_concurrency, cfg.peers);
    std::size_t workers_done = 0;
    for (std::size_t w = 0; w < workers; ++w)
        asio::co_spawn(run.io, setup_worker(run, peers, next),
                       [&](std::exception_ptr) { ++workers_done; });
    const auto setup_deadline = Clock::now() + 180s;
    while (workers_done < workers && Clock::now() < setup_deadline)
        run.io.run_one_until(setup_deadline);
    const double setup_s = std::chrono::duration<double>(Clock::now() - t0).count();
    fmt::print(
        "setup: {} peers joined with {} files each in {:.1f} s; ttl {} ms, heartbeat {} ms\n",
        run.c.joins, cfg.files, setup_s,
        std::chrono::duration_cast<std::chrono::milliseconds>(run.ttl).count(),
        std::chrono::duration_cast<std::chrono::milliseconds>(run.heartbeat).count());
    std::fflush(stdout);
    if (run.ttl <= Clock::duration::zero()) {
        fmt::print("no peer could join: {}\n", run.c.first_error);
        return 1;
    }

    run.start = Clock::now();
    run.end = run.start + run.seconds(cfg.seconds);
    // Departures stop early enough for their audits to finish in the run.
    run.last_departure = run.end - run.ttl - run.seconds(cfg.grace) - 5s;
    bool done = false;
    std::size_t lives = 0;
    std::size_t lives_done = 0;
    for (auto& p : peers) {
        if (p->token.is_zero()) continue;
        ++lives;
        asio::co_spawn(run.io, live(run, std::move(p), true),
                       [&](std::exception_ptr) { ++lives_done; });
    }
    bool audit_done = false;
    asio::co_spawn(run.io, audit(run), [&](std::exception_ptr e) {
        audit_done = true;
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            run.c.error(run.c.io_errors, fmt::format("auditor: {}", ex.what()));
        }
    });
    asio::co_spawn(run.io, watchdog(run, done), asio::detached);

    // Progress every 10 s.
    auto next_report = run.start + 10s;
    std::uint64_t last_requests = 0;
    const auto hard_end = run.end + run.seconds(cfg.request_timeout) + 70s;
    if (run.io.stopped()) run.io.restart();
    while ((lives_done < lives || !audit_done) && Clock::now() < hard_end) {
        run.io.run_one_until(std::min(next_report, hard_end));
        if (Clock::now() >= next_report) {
            const double t = std::chrono::duration<double>(Clock::now() - run.start).count();
            fmt::print(
                "t={:4.0f} s  live {:5}  req/s {:6.0f}  joins {:5}  vanished {:4}  left {:4}  "
                "audits {:4}+{:<4}  errors {}\n",
                t, run.live, static_cast<double>(run.c.requests - last_requests) / 10.0,
                run.c.joins, run.c.vanished, run.c.left, run.c.alive_checks, run.c.gone_checks,
                run.c.errors());
            std::fflush(stdout);
            last_requests = run.c.requests;
            next_report += 10s;
        }
    }
    done = true;
    const double elapsed = std::chrono::duration<double>(Clock::now() - run.start).count();
    const std::uint64_t departures = run.c.vanished + run.c.left;
    const std::uint64_t unaudited =
        (run.c.vanished * 2 + run.c.left) - (run.c.alive_checks + run.c.gone_checks);
    if (unaudited != 0) run.c.error(run.c.io_errors, fmt::format("{} audits never ran", unaudited));
    if (lives_done < lives) run.c.error(run.c.timeouts, "the run did not end in time");

    fmt::print(
        "soak: {} peers for {:.0f} s: {} requests ({:.0f}/s), {} joins, {} file list "
        "changes, {} GetPeers\n",
        cfg.peers, elapsed, run.c.requests, static_cast<double>(run.c.requests) / elapsed,
        run.c.joins, run.c.list_changes, run.c.get_peers);
    fmt::print("departures: {} ({} vanished, {} left); audits: {} while alive, {} once gone\n",
               departures, run.c.vanished, run.c.left, run.c.alive_checks, run.c.gone_checks);
    fmt::print(
        "errors: {} (error replies {}, connection {}, timeouts {}, joins {}, listed after "
        "expiry {}, expired early {}){}\n",
        run.c.errors(), run.c.error_replies, run.c.io_errors, run.c.timeouts, run.c.join_errors,
        run.c.stale, run.c.early, run.c.first_error.empty() ? "" : "; first: " + run.c.first_error);
    fmt::print(
        "RESULT {{\"peers\": {}, \"seconds\": {:.1f}, \"requests\": {}, \"rps\": {:.1f}, "
        "\"joins\": {}, \"list_changes\": {}, \"get_peers\": {}, \"vanished\": {}, \"left\": {}, "
        "\"alive_checks\": {}, \"gone_checks\": {}, \"stale\": {}, \"early\": {}, "
        "\"errors\": {}, \"setup_s\": {:.2f}}}\n",
        cfg.peers, elapsed, run.c.requests, static_cast<double>(run.c.requests) / elapsed,
        run.c.joins, run.c.list_changes, run.c.get_peers, run.c.vanished, run.c.left,
        run.c.alive_checks, run.c.gone_checks, run.c.stale, run.c.early, run.c.errors(), setup_s);
    std::fflush(stdout);
    run.io.stop();
    return run.c.errors() == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"tracker-soak: a long, churning load with expiry checks on a running tracker"};
    Config cfg;
    std::string tracker = "127.0.0.1:7000";
    app.add_option("--tracker", tracker, "HOST:PORT of the tracker");
    app.add_option("--peers", cfg.peers, "simulated peers (one connection each)")
        ->check(CLI::Range(1, 20000));
    app.add_option("--seconds", cfg.seconds, "length of the run")->check(CLI::Range(10.0, 86400.0));
    app.add_option("--seeds", cfg.seeds, "distinct seeds in the pool")
        ->check(CLI::Range(1, 1000000));
    app.add_option("--files", cfg.files, "seeds each peer holds")->check(CLI::Range(1, 1000));
    app.add_option("--query-every", cfg.query_every, "mean seconds between GetPeers, per peer")
        ->check(CLI::Range(0.01, 3600.0));
    app.add_option("--list-every", cfg.list_every,
                   "mean seconds between file list changes, per peer")
        ->check(CLI::Range(0.01, 3600.0));
    app.add_option("--depart-per-min", cfg.depart_per_min,
                   "share of the peers that depart (and are replaced) each minute")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--leave-share", cfg.leave_share, "share of departures that send Leave")
        ->check(CLI::Range(0.0, 1.0));
    app.add_option("--grace", cfg.grace,
                   "seconds after its TTL before a vanished peer must be gone (a negative "
                   "value checks the checker: it must then report errors)")
        ->check(CLI::Range(-60.0, 60.0));
    try {
        app.parse(argc, argv);
        auto hp = parse_host_port(tracker);
        if (!hp) throw CLI::ValidationError("--tracker", hp.error().message);
        cfg.tracker = *hp;
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        return run_soak(cfg);
    } catch (const std::exception& e) {
        fmt::print(stderr, "tracker-soak: {}\n", e.what());
        return 1;
    }
}
