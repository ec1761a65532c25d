// TrackerClient against a real TrackerServer, in one io_context on
// 127.0.0.1: joining, holdings kept in sync, queries, expiry of a silent
// client, and rejoining by itself after a tracker restart. (What it does
// when the tracker cannot be reached or is not a tracker:
// tracker_client_errors_test.cpp.)
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "common/env/clock.hpp"
#include "common/net/net.hpp"
#include "peer/discovery/tracker_client.hpp"
#include "test/support/async.hpp"
#include "test/support/hostile.hpp"
#include "test/support/temp_dir.hpp"
#include "test/support/tracker_client_support.hpp"
#include "tracker/server/server.hpp"
#include "tracker/sqlite/store.hpp"

namespace tracker_client_test {

using namespace seedshare;
using namespace seedshare::tracker;
using namespace std::chrono_literals;
namespace proto = seedshare::tracker_proto;
using net::awaitable;
using test::client_options;
using test::kQuiet;

namespace {

Seed make_seed(const std::string& name, std::uint8_t salt) {
    Seed s;
    s.name = name;
    s.chunk_size = 1024;
    s.length = 2000;
    s.file_hash.bytes[0] = salt;
    s.trackers = {HostPort{"127.0.0.1", 7000}};
    s.chunk_hashes.resize(2);
    s.chunk_hashes[0].bytes[0] = salt;
    return s;
}

struct Tracker {
    Tracker(asio::io_context& io, const std::string& db, TrackerServer::Options opt,
            NowMs now_ms = system_now_ms) {
        auto s = Store::open(db, std::move(now_ms), opt.ttl);
        REQUIRE_MESSAGE(s.ok(), (s ? "" : s.error().message));
        store = std::move(*s);
        server = std::make_unique<TrackerServer>(io.get_executor(), *store, opt,
                                                 Logger("tracker", LogLevel::kOff));
        server->start();
    }
    ~Tracker() { server.reset(); }  // stops (and flushes) before the store closes
    std::unique_ptr<Store> store;
    std::unique_ptr<TrackerServer> server;
};

// Runs a client's run() in the background (it ends with stop()/leave()).
void start_run(asio::io_context& io, TrackerClient& c, bool* finished = nullptr) {
    asio::co_spawn(io, c.run(), [finished](std::exception_ptr e) {
        CHECK_MESSAGE(!e, "run() must not throw");
        if (finished != nullptr) *finished = true;
    });
}

awaitable<std::set<UserId>> holders(TrackerClient& asker, const SeedId& id) {
    std::set<UserId> out;
    for (const auto& p : co_await asker.get_peers(id, 200))
        out.insert(p.user);
    co_return out;
}

}  // namespace

TEST_CASE("tracker client: clients join, share, and find each other") {
    asio::io_context io;
    Tracker t(io, ":memory:", {});
    const auto port = t.server->port();
    TrackerClient a(io.get_executor(), client_options(port, 5001), kQuiet);
    TrackerClient b(io.get_executor(), client_options(port, 5002), kQuiet);
    TrackerClient c(io.get_executor(), client_options(port, 0), kQuiet);  // does not serve
    const Seed s1 = make_seed("one.bin", 1);
    const Seed s2 = make_seed("two.bin", 2);

    test::run_task(io, [&]() -> awaitable<void> {
        CHECK_FALSE(a.joined());
        co_await a.connect();
        co_await b.connect();
        co_await c.connect();
        CHECK(a.joined());
        a.hold(s1, true);
        a.hold(s2, false);
        b.hold(s1, false);
        c.hold(s1, true);
        start_run(io, a);
        start_run(io, b);
        start_run(io, c);

        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> { co_return (co_await holders(c, s1.id())).size() == 2; },
            3s));
        const auto seen_by_a = co_await a.get_peers(s1.id(), 50);
        REQUIRE(seen_by_a.size() == 1);  // b; never a itself, never c (port 0)
        CHECK(seen_by_a[0].port == 5002);
        CHECK_FALSE(seen_by_a[0].complete);
        CHECK(seen_by_a[0].address == asio::ip::make_address("127.0.0.1"));

        // Seeds were uploaded after the file list; anyone can fetch them by id.
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> { co_return (co_await b.get_seed(s2.id())).has_value(); },
            3s));
        const auto text = co_await b.get_seed(s1.id());
        REQUIRE(text);
        auto parsed = parse_seed(*text);
        REQUIRE(parsed);
        CHECK(parsed->id() == s1.id());
        CHECK_FALSE(co_await b.get_seed(make_seed("nobody", 99).id()));

        const auto files = co_await c.list_files();
        REQUIRE(files.size() == 2);
        for (const auto& f : files) {
            if (f.id == s1.id()) {
                CHECK(f.name == "one.bin");
                CHECK(f.holders == 2);  // a and b; c does not serve
                CHECK(f.complete_holders == 1);
            } else {
                CHECK(f.id == s2.id());
                CHECK(f.holders == 1);
                CHECK(f.complete_holders == 0);
            }
        }

        // Requests from many coroutines share the one connection in order.
        int answered = 0;
        for (int i = 0; i < 20; ++i)
            asio::co_spawn(
                io,
                [&]() -> awaitable<void> {
                    const auto p = co_await c.get_peers(s1.id(), 10);
                    if (p.size() == 2) ++answered;
                },
                asio::detached);
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> { co_return answered == 20; }, 5s));
        a.stop();
        b.stop();
        c.stop();
    }());
}

TEST_CASE("tracker client: holdings changes reach the tracker promptly") {
    asio::io_context io;
    Tracker t(io, ":memory:", {});  // ttl 90 s: heartbeats every 30 s, far off
    TrackerClient a(io.get_executor(), client_options(t.server->port(), 5001), kQuiet);
    TrackerClient b(io.get_executor(), client_options(t.server->port(), 5002), kQuiet);
    const Seed s = make_seed("late.bin", 3);
    test::run_task(io, [&]() -> awaitable<void> {
        co_await a.connect();
        co_await b.connect();
        start_run(io, a);
        start_run(io, b);
        co_await test::pause(100ms);
        CHECK((co_await holders(b, s.id())).empty());
        // Each change is sent when it is made, not with the next heartbeat
        // (30 s off): the waits below are safety limits well under that (a
        // change carried only by a heartbeat fails the first one); how fast
        // this machine is does not matter.
        a.hold(s, false);
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> { co_return (co_await holders(b, s.id())).size() == 1; },
            10s));
        a.hold(s, true);  // partial -> complete
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> {
                const auto p = co_await b.get_peers(s.id(), 5);
                co_return p.size() == 1 && p[0].complete;
            },
            10s));
        a.drop(s.id());
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> { co_return (co_await holders(b, s.id())).empty(); }, 10s));
        a.stop();
        b.stop();
    }());
}

// Time is a FakeClock the tracker's store and the clients share: the
// clients' heartbeats come when the test moves it, and the test sweeps, so
// nothing here waits for a heartbeat or a TTL to pass.
TEST_CASE("tracker client: a client that stops heartbeating expires, and leave is immediate") {
    FakeClock clock;  // outlives the io_context and what it holds
    asio::io_context io;
    TrackerServer::Options opt;                   // ttl 90 s: heartbeats every 30 s
    opt.sweep_interval = std::chrono::hours(24);  // the test sweeps
    Tracker t(io, ":memory:", opt, [&clock] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   clock.system_now().time_since_epoch())
            .count();
    });
    const auto port = t.server->port();
    auto on_clock = [&](std::uint16_t listen) {
        auto o = client_options(port, listen);
        o.clock = &clock;
        return o;
    };
    const auto alive_options = on_clock(5001);
    TrackerClient alive(io.get_executor(), alive_options, kQuiet);
    TrackerClient silent(io.get_executor(), on_clock(5002), kQuiet);
    TrackerClient leaving(io.get_executor(), on_clock(5003), kQuiet);
    TrackerClient asker(io.get_executor(), on_clock(0), kQuiet);
    const Seed s = make_seed("shared.bin", 4);
    bool leaving_done = false;
    test::run_task(io, [&]() -> awaitable<void> {
        for (auto* c : {&alive, &silent, &leaving, &asker}) {
            co_await c->connect();
            c->hold(s, true);
        }
        start_run(io, alive);
        start_run(io, silent);
        start_run(io, leaving, &leaving_done);
        start_run(io, asker);
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> { co_return (co_await holders(asker, s.id())).size() == 3; },
            3s));

        co_await leaving.leave();
        CHECK((co_await holders(asker, s.id())).size() == 2);  // at once
        CHECK(co_await test::eventually_async([&]() -> awaitable<bool> { co_return leaving_done; },
                                              2s));
        CHECK_FALSE(leaving.joined());

        silent.stop();  // no Leave, no more heartbeats
        // Ten-second steps over ten minutes: a heartbeat every 30 s from each
        // client still running, none in between; the silent one expires
        // between 80 and 100 s (the TTL is 90), the others stay.
        for (int step = 1; step <= 60; ++step) {
            clock.advance(10s);
            const auto due = static_cast<std::uint64_t>(step / 3);
            REQUIRE(co_await test::eventually_async(
                [&]() -> awaitable<bool> {
                    co_return alive.heartbeats() >= due&& asker.heartbeats() >= due;
                },
                5s));
            CHECK(alive.heartbeats() == due);
            CHECK(asker.heartbeats() == due);
            CHECK(silent.heartbeats() == 0);
            t.store->sweep();
            const auto listed = co_await holders(asker, s.id());
            if (step <= 8) CHECK(listed.size() == 2);
            if (step >= 10) {
                REQUIRE(listed.size() == 1);
                CHECK(listed.count(alive_options.user) == 1);
            }
        }
        const auto left = co_await asker.get_peers(s.id(), 10);
        REQUIRE(left.size() == 1);
        CHECK(left[0].port == 5001);
        alive.stop();
        asker.stop();
    }());
}

TEST_CASE("tracker client: after a tracker restart, clients rejoin and keep their tokens") {
    test::TempDir dir;
    const std::string db = (dir / "tracker.db").string();
    asio::io_context io;
    TrackerServer::Options opt;
    opt.ttl = 3s;
    auto t = std::make_unique<Tracker>(io, db, opt);
    opt.port = t->server->port();  // the clients know this address
    auto oa = client_options(opt.port, 5001);
    auto ob = client_options(opt.port, 5002);
    TrackerClient a(io.get_executor(), oa, kQuiet);
    TrackerClient b(io.get_executor(), ob, kQuiet);
    const Seed s = make_seed("survivor.bin", 5);
    test::run_task(io, [&]() -> awaitable<void> {
        co_await a.connect();
        co_await b.connect();
        a.hold(s, true);
        start_run(io, a);
        start_run(io, b);
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> { co_return (co_await holders(b, s.id())).size() == 1; }, 3s));
        const auto token_a = t->store->token_of(oa.user);
        const auto token_b = t->store->token_of(ob.user);
        REQUIRE(token_a);
        REQUIRE(token_b);

        t.reset();  // stop the tracker and close its database
        t = std::make_unique<Tracker>(io, db, opt);
        // The new tracker answers from the database before anyone rejoins.
        CHECK(t->store->get_peers(s.id(), ob.user, 10).size() == 1);
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> {
                co_return t->server->connections() == 2 && a.joined() && b.joined();
            },
            5s));
        CHECK(t->store->token_of(oa.user) == token_a);
        CHECK(t->store->token_of(ob.user) == token_b);
        CHECK(t->server->connections() == 2);
        CHECK((co_await holders(b, s.id())).size() == 1);
        a.stop();
        b.stop();
    }());
}

TEST_CASE("tracker client: a tracker that forgot the peer gets the whole list again") {
    asio::io_context io;
    TrackerServer::Options opt;
    opt.ttl = 900ms;
    Tracker t(io, ":memory:", opt);
    auto oa = client_options(t.server->port(), 5001);
    TrackerClient a(io.get_executor(), oa, kQuiet);
    TrackerClient b(io.get_executor(), client_options(t.server->port(), 5002), kQuiet);
    const Seed s = make_seed("again.bin", 6);
    test::run_task(io, [&]() -> awaitable<void> {
        co_await a.connect();
        co_await b.connect();
        a.hold(s, true);
        start_run(io, a);
        start_run(io, b);
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> { co_return (co_await holders(b, s.id())).size() == 1; }, 3s));
        const auto token = t.store->token_of(oa.user);
        REQUIRE(token);
        REQUIRE(std::holds_alternative<tracker::Done>(t.store->leave(oa.user, *token)));
        CHECK((co_await holders(b, s.id())).empty());
        // a's next heartbeat gets UnknownPeer: it rejoins and sends its list.
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> { co_return (co_await holders(b, s.id())).size() == 1; }, 3s));
        a.stop();
        b.stop();
    }());
}

namespace {
awaitable<std::map<UserId, std::uint64_t>> followers(TrackerClient& asker,
                                                     const ChannelId& channel) {
    std::map<UserId, std::uint64_t> out;
    for (const auto& p : co_await asker.channel_peers(channel, 200))
        out[p.user] = p.version;
    co_return out;
}
}  // namespace

TEST_CASE("tracker client: follows reach the tracker and survive it forgetting the peer") {
    asio::io_context io;
    TrackerServer::Options opt;
    opt.ttl = 900ms;
    Tracker t(io, ":memory:", opt);
    auto oa = client_options(t.server->port(), 5001);
    test::TempDir dir;
    test::LogCapture log(dir / "a.log");
    TrackerClient a(io.get_executor(), oa, log.logger("a"));
    TrackerClient b(io.get_executor(), client_options(t.server->port(), 5002), kQuiet);
    ChannelId channel;
    channel.bytes[0] = 0x5e;
    ChannelId other;
    other.bytes[0] = 0x6f;
    test::run_task(io, [&]() -> awaitable<void> {
        co_await a.connect();
        co_await b.connect();
        start_run(io, a);
        start_run(io, b);
        a.follow(channel, 3);
        a.follow(other, 1);
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> {
                const auto f = co_await followers(b, channel);
                co_return f.size() == 1 && f.begin()->second == 3;
            },
            3s));
        a.follow(channel, 4);  // a newer version held
        a.unfollow(other);
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> {
                const auto f = co_await followers(b, channel);
                co_return f.size() == 1 && f.begin()->second == 4 &&
                    (co_await followers(b, other)).empty();
            },
            3s));
        // The tracker forgets a: it rejoins and follows again.
        const auto token = t.store->token_of(oa.user);
        REQUIRE(token);
        REQUIRE(std::holds_alternative<tracker::Done>(t.store->leave(oa.user, *token)));
        CHECK((co_await followers(b, channel)).empty());
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> { co_return (co_await followers(b, channel)).size() == 1; },
            3s));

        // More changes than one message holds (600 dropped, 600 new): sent
        // as the whole list instead, never as a message the tracker refuses.
        const auto nth = [](std::uint32_t n) {
            ChannelId c;
            c.bytes[0] = 0x77;
            c.bytes[1] = static_cast<std::uint8_t>(n >> 8);
            c.bytes[2] = static_cast<std::uint8_t>(n);
            return c;
        };
        for (std::uint32_t n = 0; n < 600; ++n)
            a.follow(nth(n), 1);
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> { co_return (co_await followers(b, nth(599))).size() == 1; },
            3s));
        const auto generation_joined = a.joined();
        for (std::uint32_t n = 0; n < 600; ++n) {
            a.unfollow(nth(n));
            a.follow(nth(1000 + n), 2);
        }
        CHECK(co_await test::eventually_async(
            [&]() -> awaitable<bool> {
                co_return (co_await followers(b, nth(1599))).size() == 1 &&
                    (co_await followers(b, nth(0))).empty();
            },
            3s));
        CHECK(generation_joined);
        CHECK(a.joined());
        CHECK((co_await followers(b, channel)).size() == 1);  // still followed
        // Joined twice (at start, after the tracker forgot it), never refused.
        CHECK(log.count("joined tracker") == 2);
        CHECK(log.count("Malformed") == 0);

        // A text that is no manifest: refused, typed; the connection goes on.
        std::optional<TrackerError::Kind> kind;
        const std::string garbage = "not a manifest\n";
        try {
            co_await a.put_manifest(garbage);
        } catch (const TrackerError& e) {
            kind = e.kind;
        }
        CHECK(kind == TrackerError::Kind::kManifestRefused);
        CHECK_FALSE(co_await a.get_manifest(channel));
        CHECK((co_await b.list_channels()).empty());
        CHECK(a.joined());
        a.stop();
        b.stop();
    }());
}

}  // namespace tracker_client_test
