// The discovery's timers on the node's clock, in-process: the address book
// written at most every interval, and a failed candidate dialled again only
// as its backoff passes; the tests move a FakeClock instead of waiting.
#include <doctest/doctest.h>

#include "common/env/clock.hpp"
#include "peer/discovery/address_book_file.hpp"
#include "peer/transfer/download.hpp"
#include "test/support/cluster.hpp"
#include "test/support/discovery_support.hpp"
#include "test/support/temp_dir.hpp"

namespace discovery_clock_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace seedshare::test::discovery;
using namespace std::chrono_literals;

// The node's address-book writer on a FakeClock: the first change is written
// within its one-second look, later ones at most every book_save_interval;
// the test moves time, so nothing here waits for the interval.
TEST_CASE(
    "discovery: a node writes its changed address book on its clock, at most every interval") {
    FakeClock clock;  // outlives the io_context and what it holds
    asio::io_context io;
    asio::thread_pool pool(1);
    TempDir state;
    NodeOptions o = with_state(state);
    o.clock = &clock;
    o.book_save_interval = 5s;
    Node node(io.get_executor(), pool, o, Logger("node", LogLevel::kOff));
    node.listen();
    const auto path = state / kAddressBookFileName;
    const auto on_file = [&] {
        return load_address_book(Env::posix(), path, Logger("test", LogLevel::kOff)).entry_count();
    };
    const auto settle = []() -> net::awaitable<void> {
        for (int i = 0; i < 8; ++i)
            co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
    };
    const auto learn = [&](std::uint16_t port) {
        node.book()->learn(AddressBook::key(SeedId{}),
                           PeerAddress{asio::ip::make_address("127.0.0.1"), port},
                           address_book_now());
    };
    test::run_task(io, [&]() -> net::awaitable<void> {
        learn(7001);
        co_await settle();
        CHECK(on_file() == 0);  // not before the first look
        clock.advance(1s);
        CHECK(co_await eventually([&] { return on_file() == 1; }, 10s));  // the first at once
        learn(7002);
        for (int s = 1; s <= 4; ++s) {
            clock.advance(1s);
            co_await settle();
            CHECK(on_file() == 1);  // within the interval: not yet
        }
        clock.advance(1s);
        CHECK(co_await eventually([&] { return on_file() == 2; }, 10s));
        co_await node.stop(0ms);
    }());
}

// The swarm's discovery on a FakeClock: a getter's one --peer is down, and
// each failed dial puts the next off (0.5 s doubling, at most 30 s) in the
// swarm's time. The test moves the clock 30 s a step and requires each next
// dial within 10 s of real time: on the real clock the sixth would wait 16 s,
// and the case fail. Then the server comes up there; the next move of the
// clock lets the getter dial it, and it completes.
TEST_CASE(
    "discovery: a getter dials a failed candidate again when its backoff passed on its clock") {
    FakeClock clock;  // outlives the io_context and what it holds
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);   // the seed's tracker: gone
    const HostPort later = dead_address(io);  // where the server comes up
    const Seed seed = make_seeded_file(src, "data.bin", 256 << 10, dead);
    const PeerAddress where{asio::ip::make_address("127.0.0.1"), later.port};

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        NodeOptions no = node_options(fast_swarm());
        no.clock = &clock;
        TestPeer getter(io, pool, Logger("getter", LogLevel::kWarn), no);
        DownloadOptions d;
        d.seed = seed;
        d.out_dir = out.path();
        d.trackers = {dead};
        d.peers = {where};
        Download download(*getter.node, *getter.trackers, d, getter.log);
        std::optional<Download::Outcome> outcome;
        auto get = [&]() -> net::awaitable<void> { outcome = co_await download.run(); };
        net::spawn(io.get_executor(), get(), Logger("test"), "download");
        const auto failures = [&]() -> std::uint32_t {
            const auto s = download.swarm();
            const auto* e = s ? s->peer_list().find(where) : nullptr;
            return e != nullptr ? e->failures : 0;
        };
        REQUIRE(co_await eventually([&] { return failures() >= 1; }, 10s));
        for (std::uint32_t n = 2; n <= 7; ++n) {
            clock.advance(30s);
            REQUIRE(co_await eventually([&] { return failures() >= n; }, 10s));
        }
        CHECK_FALSE(outcome.has_value());

        NodeOptions so = node_options(fast_swarm());
        so.port = later.port;
        TestPeer server(io, pool, Logger("server", LogLevel::kWarn), so);
        auto shared = FileTransfer::share(*server.node, *server.trackers, {}, seed,
                                          open_shared(src / "data.bin"), server.log);
        shared->start(false);
        server.shared.push_back(std::move(shared));
        clock.advance(30s);
        REQUIRE(co_await eventually([&] { return outcome.has_value(); }, 30s));
        CHECK(*outcome == Download::Outcome::kComplete);
        CHECK(read_file(out / "data.bin") == read_file(src / "data.bin"));
        co_await getter.stop();
        co_await server.stop();
    });
}

}  // namespace discovery_clock_test
