// Discovery in-process: gets that start with no tracker (a --peer, the
// address book, a peer that lacks the seed naming holders), and hostile
// gossip bounded (connection attempts per address, candidates per source).
#include <doctest/doctest.h>

#include "common/core/limits.hpp"
#include "peer/discovery/address_book_file.hpp"
#include "peer/library/seed_maker.hpp"
#include "peer/transfer/download.hpp"
#include "test/support/cluster.hpp"
#include "test/support/discovery_support.hpp"
#include "test/support/hostile.hpp"
#include "test/support/temp_dir.hpp"

namespace discovery_swarm_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace seedshare::test::discovery;
using namespace std::chrono_literals;
namespace pp = seedshare::peer_proto;

namespace {

// Another process sharing `state` (or an earlier run) remembers `holder` as
// a holder of `seed` in STATE/address-book.json.
void remember(const TempDir& state, const Seed& seed, const TestPeer& holder) {
    AddressBook book;
    book.learn(AddressBook::key(seed.id()), at(holder), address_book_now());
    REQUIRE(save_address_book(Env::posix(), state / kAddressBookFileName, book,
                              Logger("test", LogLevel::kOff)));
}

}  // namespace

TEST_CASE(
    "discovery: no tracker at all: a get with one --peer completes from peers it heard of by "
    "exchange") {
    TempDir src, out1, out2, out3;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);
    const Seed seed = make_seeded_file(src, "data.bin", 3 << 20, dead);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Server a(io, pool, 1 << 20);  // slow: the getters are still at it when the last joins
        a.share(seed, src / "data.bin");
        // Two getters that know only the server; the server tells each of the other.
        // g1 uploads slowly too: n, left with g1 alone, must find b (whom g1
        // gets everything from at once) to finish, and can only hear of it
        // by exchange.
        Get g1(io, pool, seed, out1.path(), {dead}, {at(a.peer)}, fast_swarm(), 256 * 1024);
        Get g2(io, pool, seed, out2.path(), {dead}, {at(a.peer)});
        g1.start(io);
        g2.start(io);
        CHECK(co_await eventually(
            [&] { return g1.download->swarm() && g1.download->swarm()->connection_count() >= 2; },
            10s));
        // A third knows only g1: it learns of the server and g2 from g1.
        Get g3(io, pool, seed, out3.path(), {dead}, {at(g1.peer)});
        g3.start(io);
        CHECK(co_await g3.ended_within(40s));
        CHECK(g3.outcome == Download::Outcome::kComplete);
        CHECK(read_file(out3 / "data.bin") == read_file(src / "data.bin"));
        const auto& heard = g3.download->swarm()->peer_list();
        CHECK(heard.count_from(PeerList::Source::kTracker) == 0);
        CHECK(heard.count_from(PeerList::Source::kPeerExchange) >= 2);
        CHECK(g3.peers_that_sent() >= 2);
        CHECK(co_await g1.ended_within(40s));
        CHECK(co_await g2.ended_within(40s));
        co_await g1.peer.stop();
        co_await g2.peer.stop();
        co_await g3.peer.stop();
        co_await a.peer.stop();
    });
}

TEST_CASE(
    "discovery: a peer without the seed answers with the holders it knows, the asker merges them") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);
    const Seed seed = make_seeded_file(src, "data.bin", 1 << 20, dead);

    run_within(io, 30s, [&]() -> net::awaitable<void> {
        Server a(io, pool, 0);
        a.share(seed, src / "data.bin");
        // A peer that does not hold the seed, but whose address book says who does.
        TestPeer knower(io, pool, "knower", fast_swarm());
        knower.node->book()->learn(AddressBook::key(seed.id()), at(a.peer), address_book_now());
        Get g(io, pool, seed, out.path(), {dead}, {at(knower)});
        g.start(io);
        CHECK(co_await g.ended_within(20s));
        CHECK(g.outcome == Download::Outcome::kComplete);
        const auto* learnt = g.download->swarm()->peer_list().find(at(a.peer));
        REQUIRE(learnt != nullptr);
        CHECK(learnt->from(PeerList::Source::kPeerExchange));
        CHECK(g.download->swarm()->peer_list().added_by(at(knower)) == 1);
        // The getter's own book now names the server (it completed a handshake).
        CHECK(g.peer.node->book()->holders(AddressBook::key(seed.id()), address_book_now(), 5) ==
              std::vector<PeerAddress>{at(a.peer)});
        co_await g.peer.stop();
        co_await knower.stop();
        co_await a.peer.stop();
    });
}

TEST_CASE("discovery: a getter whose peers all leave but one refills its pool by exchange") {
    TempDir src, out1, out2;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);
    const Seed seed = make_seeded_file(src, "data.bin", 4 << 20, dead);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Server a(io, pool, 256 * 1024);  // slow: nobody completes from it alone
        a.share(seed, src / "data.bin");
        // g1 uploads slowly too: n, left with g1 alone, must find b (whom g1
        // gets everything from at once) to finish, and can only hear of it
        // by exchange.
        Get g1(io, pool, seed, out1.path(), {dead}, {at(a.peer)}, fast_swarm(), 256 * 1024);
        Get n(io, pool, seed, out2.path(), {dead}, {at(a.peer)});
        g1.start(io);
        n.start(io);
        // n is connected to the server and to g1 (the server told of it).
        CHECK(co_await eventually(
            [&] { return n.download->swarm() && n.download->swarm()->connection_count() >= 2; },
            10s));
        // A server nobody heard of; g1 alone learns of it (as from a tracker).
        // At 1 MiB/s, g1 is still fetching from it (connected, so it passes b
        // on) for a few seconds.
        Server b(io, pool, 1 << 20);
        b.share(seed, src / "data.bin");
        const std::vector<PeerAddress> only_b{at(b.peer)};
        g1.download->swarm()->add_candidates(only_b, PeerList::Source::kBootstrap);
        CHECK(co_await eventually([&] { return g1.download->swarm()->connection_count() >= 3; },
                                  10s));
        // Every peer of n leaves but g1.
        a.peer.kill();
        CHECK(co_await n.ended_within(30s));
        CHECK(n.outcome == Download::Outcome::kComplete);
        const auto* heard = n.download->swarm()->peer_list().find(at(b.peer));
        REQUIRE(heard != nullptr);
        CHECK(heard->from(PeerList::Source::kPeerExchange));
        CHECK_FALSE(heard->from(PeerList::Source::kTracker));
        CHECK(n.download->swarm()->peer_list().added_by(at(g1.peer)) >= 1);
        std::uint64_t from_b = 0;
        for (const auto& p : n.download->swarm()->peer_stats())
            if (p.name == at(b.peer).str()) from_b = p.downloaded;
        CHECK(from_b > 0);
        CHECK(co_await g1.ended_within(30s));
        co_await g1.peer.stop();
        co_await n.peer.stop();
        co_await b.peer.stop();
        co_await a.peer.stop();  // (killed: this only waits for its handshakes to end)
    });
}

TEST_CASE("discovery: the address book lets a get start with no tracker and no --peer") {
    TempDir src, out, state;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);
    const Seed seed = make_seeded_file(src, "data.bin", 1 << 20, dead);

    run_within(io, 30s, [&]() -> net::awaitable<void> {
        Server a(io, pool, 0);
        a.share(seed, src / "data.bin");
        // An earlier run remembered the server in STATE/address-book.json.
        remember(state, seed, a.peer);
        TestPeer getter(io, pool, Logger("getter", LogLevel::kWarn), with_state(state));
        DownloadOptions d;
        d.seed = seed;
        d.out_dir = out.path();
        d.trackers = {dead};
        Download download(*getter.node, *getter.trackers, d, getter.log);
        const auto outcome = co_await download.run();
        CHECK(outcome == Download::Outcome::kComplete);
        CHECK(download.swarm()->peer_list().count_from(PeerList::Source::kAddressBook) == 1);
        co_await getter.stop();
        co_await a.peer.stop();
    });
}

TEST_CASE(
    "discovery: a getter left with no peer learns holders another process saved in the shared "
    "address book") {
    // The tracker answered the getter but named nobody (as when it dies
    // between the getter's Join and its GetPeers); another process of this
    // machine, sharing the state directory, has since saved a holder.
    TempDir src, out, state;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_seeded_file(src, "data.bin", 1 << 20, tracker.address);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Server a(io, pool, 0);  // registered at no tracker
        a.share(seed, src / "data.bin");
        TestPeer getter(io, pool, Logger("getter", LogLevel::kWarn), with_state(state));
        DownloadOptions d;
        d.seed = seed;
        d.out_dir = out.path();
        d.trackers = {tracker.address};
        Download download(*getter.node, *getter.trackers, d, getter.log);
        std::optional<Download::Outcome> outcome;
        auto run = [&]() -> net::awaitable<void> { outcome = co_await download.run(); };
        net::spawn(io.get_executor(), run(), Logger("test"), "download");

        // Stranded: the tracker answered with nobody, the book was empty.
        using Ask = PoolPlanner::Ask;
        const std::function<bool()> stranded = [&] {
            const auto swarm = download.swarm();
            return swarm && swarm->asks_done(Ask::kTrackers) >= 1 &&
                   swarm->asks_done(Ask::kAddressBook) >= 1;
        };
        REQUIRE(co_await eventually(stranded, 30s));
        REQUIRE_FALSE(outcome.has_value());
        CHECK(download.swarm()->peer_stats().empty());

        remember(state, seed, a.peer);
        const bool ended = co_await eventually([&] { return outcome.has_value(); }, 40s);
        CHECK(ended);
        CHECK(outcome == Download::Outcome::kComplete);
        CHECK(download.swarm()->peer_list().count_from(PeerList::Source::kAddressBook) == 1);
        if (!ended) {
            download.stop();
            co_await eventually([&] { return outcome.has_value(); }, 10s);
        }
        co_await getter.stop();
        co_await a.peer.stop();
    });
}

TEST_CASE(
    "discovery: a get that reaches no tracker starts from a holder another process saved after "
    "it started") {
    TempDir src, out, state;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);
    const Seed seed = make_seeded_file(src, "data.bin", 1 << 20, dead);

    run_within(io, 30s, [&]() -> net::awaitable<void> {
        Server a(io, pool, 0);
        a.share(seed, src / "data.bin");
        TestPeer getter(io, pool, Logger("getter", LogLevel::kWarn),
                        with_state(state));  // its book: empty
        REQUIRE(getter.node->book()->entry_count() == 0);
        // Meanwhile another process of this state directory learnt a holder.
        remember(state, seed, a.peer);
        DownloadOptions d;
        d.seed = seed;
        d.out_dir = out.path();
        d.trackers = {dead};
        Download download(*getter.node, *getter.trackers, d, getter.log);
        const auto outcome = co_await download.run();
        CHECK(outcome == Download::Outcome::kComplete);
        co_await getter.stop();
        co_await a.peer.stop();
    });
}

TEST_CASE("discovery: with no tracker and no peer known, a get fails as the tracker's fault") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);
    const Seed seed = make_seeded_file(src, "data.bin", 256 * 1024, dead);
    run_within(io, 30s, [&]() -> net::awaitable<void> {
        Get g(io, pool, seed, out.path(), {dead}, {});
        const auto outcome = co_await g.download->run();
        CHECK(outcome == Download::Outcome::kTrackerUnreachable);
        co_await g.peer.stop();
    });
}

TEST_CASE("discovery: hostile gossip: 10,000 addresses and one victim repeated are bounded") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);
    const Seed seed = make_seeded_file(src, "data.bin", 4 << 20, dead);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        // The victim: a listener on 127.0.0.1 that counts the connections
        // aimed at it and closes each at once.
        net::tcp::acceptor victim(io, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        const PeerAddress victim_at{asio::ip::make_address("127.0.0.1"),
                                    victim.local_endpoint().port()};
        std::size_t victim_hits = 0;
        std::function<void(const asio::error_code&, net::tcp::socket)> on_accept =
            [&](const asio::error_code& ec, net::tcp::socket s) {
                if (ec) return;
                ++victim_hits;
                s.close();
                victim.async_accept(on_accept);
            };
        victim.async_accept(on_accept);

        Server a(io, pool, 256 * 1024);  // slow: the get lasts while the attacker talks
        a.share(seed, src / "data.bin");
        Get g(io, pool, seed, out.path(), {dead}, {at(a.peer)});
        g.start(io);
        CHECK(co_await eventually([&] { return g.download->swarm() != nullptr; }, 10s));
        const auto swarm = g.download->swarm();

        // The attacker joins the swarm properly, then gossips.
        auto h = co_await RawPeer::connect(g.peer.node->port());
        // (Messages named first: GCC 12 and temporaries in co_await.)
        const pp::Message hello = pp::Hello{pp::kVersion, seed.id(), random_user_id(), 0};
        const pp::Message nothing = pp::BitfieldMsg{Bitfield(seed.chunk_count())};
        const pp::Message get_peers = pp::GetPeers{};
        co_await h.send_message(hello);
        for (int i = 0; i < 2; ++i)
            (void)co_await h.recv_message(5s);  // Hello, Bitfield
        co_await h.send_message(nothing);
        asio::steady_timer pause(io);
        std::size_t sent = 0;
        for (int round = 0; round < 40; ++round) {  // 4 s of gossip
            pp::PeerList victims;                   // one victim, 64 times
            victims.peers.assign(pp::kMaxPeerListEntries, victim_at);
            const pp::Message victims_message = victims;
            co_await h.send_message(victims_message);
            pp::PeerList flood;  // 64 distinct addresses nobody listens on (loopback)
            for (std::size_t i = 0; i < pp::kMaxPeerListEntries; ++i, ++sent) {
                const std::uint32_t n = static_cast<std::uint32_t>(sent);
                flood.peers.push_back(
                    PeerAddress{asio::ip::make_address_v4(0x7f4d0000u + (n & 0xffff)), 1});
            }
            const pp::Message flood_message = flood;
            co_await h.send_message(flood_message);
            pause.expires_after(100ms);
            co_await pause.async_wait(asio::use_awaitable);
        }
        const PeerAddress origin{asio::ip::make_address("127.0.0.1"), 0};
        MESSAGE("gossiped ", sent + 40 * pp::kMaxPeerListEntries,
                " addresses; taken from it: ", swarm->peer_list().added_by(origin),
                "; victim dialled ", victim_hits, " times");
        CHECK(sent >= 2500);
        // Candidates per source: at most the cap, whatever it said.
        CHECK(swarm->peer_list().added_by(origin) <= limits::kMaxCandidatesPerSource);
        CHECK(swarm->peer_list().size() <= limits::kMaxCandidatesPerSource + 2);
        // Connection attempts per address: the victim was tried, never more
        // than the failures that make an address forgotten.
        CHECK(victim_hits >= 1);
        CHECK(victim_hits <= limits::kForgetAfterFailures);

        // What it gossiped is not passed on: a newcomer asking hears only
        // of peers we completed a handshake with (the server).
        auto asker = co_await RawPeer::connect(g.peer.node->port());
        const pp::Message asker_hello = pp::Hello{pp::kVersion, seed.id(), random_user_id(), 0};
        co_await asker.send_message(asker_hello);
        std::vector<PeerAddress> told;
        for (int i = 0; i < 4; ++i) {
            auto m = co_await asker.recv_message(5s);
            if (auto* list = std::get_if<pp::PeerList>(&m)) {
                told = list->peers;
                break;
            }
            if (std::holds_alternative<pp::BitfieldMsg>(m)) {
                co_await asker.send_message(nothing);
                co_await asker.send_message(get_peers);
            }
        }
        CHECK(told == std::vector<PeerAddress>{at(a.peer)});
        victim.close();
        g.download->stop();
        CHECK(co_await g.ended_within(10s));
        co_await g.peer.stop();
        co_await a.peer.stop();
    });
}

TEST_CASE("discovery: gossip naming many ports of one machine dials it a bounded number of times") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);
    const Seed seed = make_seeded_file(src, "data.bin", 4 << 20, dead);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        // The victim machine: 64 listeners on 127.0.0.9 (another loopback
        // address, so only the attacker's gossip names it), each counting the
        // connections aimed at it and closing them at once.
        const auto victim_ip = asio::ip::make_address("127.0.0.9");
        std::vector<std::unique_ptr<net::tcp::acceptor>> ports;
        std::size_t victim_hits = 0;
        std::function<void(net::tcp::acceptor&)> serve = [&](net::tcp::acceptor& acc) {
            acc.async_accept([&](const asio::error_code& ec, net::tcp::socket s) {
                if (ec) return;
                ++victim_hits;
                s.close();
                serve(acc);
            });
        };
        pp::PeerList victims;
        for (std::size_t i = 0; i < pp::kMaxPeerListEntries; ++i) {
            ports.push_back(
                std::make_unique<net::tcp::acceptor>(io, net::tcp::endpoint(victim_ip, 0)));
            serve(*ports.back());
            victims.peers.push_back(PeerAddress{victim_ip, ports.back()->local_endpoint().port()});
        }

        Server a(io, pool, 256 * 1024);  // slow: the get lasts while the attacker talks
        a.share(seed, src / "data.bin");
        Get g(io, pool, seed, out.path(), {dead}, {at(a.peer)});
        g.start(io);
        CHECK(co_await eventually([&] { return g.download->swarm() != nullptr; }, 10s));
        const auto swarm = g.download->swarm();

        auto h = co_await RawPeer::connect(g.peer.node->port());
        const pp::Message hello = pp::Hello{pp::kVersion, seed.id(), random_user_id(), 0};
        const pp::Message nothing = pp::BitfieldMsg{Bitfield(seed.chunk_count())};
        const pp::Message victims_message = victims;
        co_await h.send_message(hello);
        for (int i = 0; i < 2; ++i)
            (void)co_await h.recv_message(5s);  // Hello, Bitfield
        co_await h.send_message(nothing);
        asio::steady_timer pause(io);
        for (int round = 0; round < 80; ++round) {  // 8 s: every address's backoff has passed
            co_await h.send_message(victims_message);
            pause.expires_after(100ms);
            co_await pause.async_wait(asio::use_awaitable);
        }
        const PeerAddress origin{asio::ip::make_address("127.0.0.1"), 0};
        const auto taken = swarm->peer_list().added_by(origin);
        MESSAGE("64 ports of one machine gossiped 80 times; candidates taken: ", taken,
                "; connections that reached the machine: ", victim_hits,
                " (without the per-IP rule: up to ", taken * limits::kForgetAfterFailures, ")");
        CHECK(taken == limits::kMaxCandidatesPerSource);
        CHECK(victim_hits >= 1);
        // kHearsayFailuresPerIp, then one dial per rest (0.5 s doubling).
        CHECK(victim_hits <= PeerList::kHearsayFailuresPerIp + 12);
        CHECK(swarm->peer_list().hearsay_failures(victim_ip) >= PeerList::kHearsayFailuresPerIp);
        for (auto& p : ports)
            p->close();
        g.download->stop();
        CHECK(co_await g.ended_within(10s));
        co_await g.peer.stop();
        co_await a.peer.stop();
    });
}

TEST_CASE("discovery: a peer that says goodbye is gossiped as dropped") {
    TempDir src, out1, out2;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);
    const Seed seed = make_seeded_file(src, "data.bin", 4 << 20, dead);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Server a(io, pool, 256 * 1024);  // slow: both gets last
        a.share(seed, src / "data.bin");
        Get g(io, pool, seed, out1.path(), {dead}, {at(a.peer)});
        g.start(io);
        CHECK(co_await eventually([&] { return g.download->swarm() != nullptr; }, 10s));

        // An observer joins g's swarm and listens to its gossip.
        auto o = co_await RawPeer::connect(g.peer.node->port());
        const pp::Message hello = pp::Hello{pp::kVersion, seed.id(), random_user_id(), 0};
        const pp::Message nothing = pp::BitfieldMsg{Bitfield(seed.chunk_count())};
        co_await o.send_message(hello);
        co_await o.send_message(nothing);

        // Another getter joins through g, then leaves saying goodbye.
        Get h(io, pool, seed, out2.path(), {dead}, {at(g.peer)});
        h.start(io);
        const PeerAddress h_at = at(h.peer);
        // (It answers every message with a KeepAlive: a connection that sends
        // nothing is closed as stalled. g sends a Have per chunk it gets.)
        const pp::Message keep_alive = pp::KeepAlive{};
        bool added = false, dropped = false;
        for (int i = 0; i < 20000 && !dropped; ++i) {
            const auto m = co_await o.recv_message(15s);
            co_await o.send_message(keep_alive);
            const auto* list = std::get_if<pp::PeerList>(&m);
            if (list == nullptr) continue;
            if (std::find(list->peers.begin(), list->peers.end(), h_at) != list->peers.end()) {
                added = true;
                h.download->stop();  // goodbye to g
            }
            if (std::find(list->dropped.begin(), list->dropped.end(), h_at) != list->dropped.end())
                dropped = true;
        }
        CHECK(added);
        CHECK(dropped);
        CHECK(co_await h.ended_within(10s));
        g.download->stop();
        CHECK(co_await g.ended_within(10s));
        co_await h.peer.stop();
        co_await g.peer.stop();
        co_await a.peer.stop();
    });
}

}  // namespace discovery_swarm_test
