// Channels in one io_context: a tracker, a publisher and several subscribers
// on 127.0.0.1. Versions reach every subscriber (through the trackers and
// the mesh), only changed chunks cross the network, a late subscriber goes
// straight to the latest version, and forged or rolled-back versions from a
// peer change nothing.
#include <doctest/doctest.h>

#include <filesystem>

#include "common/crypto/sha256.hpp"
#include "peer/channel/publisher.hpp"
#include "peer/channel/subscriber.hpp"
#include "test/support/channel_harness.hpp"

namespace channel_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_CASE("channel: versions reach every subscriber, only changes cross the network") {
    TempDir site, a, b, c, late;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    // 8 chunks of 256 KiB, and two small files.
    write_file(site / "big.bin", pattern_bytes(2 << 20, 1));
    fs::create_directories(site / "docs");
    write_file(site / "docs" / "a.txt", "alpha\n");
    write_file(site / "b.txt", "beta\n");

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        TestPeer publisher_peer(io, pool, "publisher");
        PublisherOptions po{site.path(), test_key(7), "site", {tracker.address}, {}, 100ms, {}, {}};
        po.mesh.tick = 50ms;
        Publisher publisher(*publisher_peer.node, *publisher_peer.trackers, po, publisher_peer.log);
        bool ready = false;
        bool publisher_done = false;
        auto run_publisher = [&]() -> net::awaitable<void> {
            const std::function<void()> on_ready = [&] { ready = true; };
            co_await publisher.run(on_ready);
            publisher_done = true;
        };
        net::spawn(io.get_executor(), run_publisher(), Logger("test"), "publisher");
        CHECK(co_await eventually([&] { return ready; }, 20s));
        REQUIRE(publisher.published());
        CHECK(publisher.published()->version == 1);
        const ChannelId channel = publisher.channel();

        auto sa =
            std::make_unique<TestSubscriber>(io, pool, "a", channel, a.path(), tracker.address);
        auto sb =
            std::make_unique<TestSubscriber>(io, pool, "b", channel, b.path(), tracker.address);
        auto sc =
            std::make_unique<TestSubscriber>(io, pool, "c", channel, c.path(), tracker.address);
        const auto all_at = [&](std::uint64_t v) {
            return sa->version() == v && sb->version() == v && sc->version() == v;
        };
        CHECK(co_await eventually([&] { return all_at(1); }, 30s));
        const auto want1 = tree(site.path());
        CHECK(tree(a.path()) == want1);
        CHECK(tree(b.path()) == want1);
        CHECK(tree(c.path()) == want1);

        // One byte of big.bin changes (one chunk), b.txt is renamed, a file added.
        {
            auto bytes = read_file(site / "big.bin");
            bytes[(1 << 20) + 5] ^= 0x5a;
            write_file(site / "big.bin", bytes);
        }
        fs::rename(site / "b.txt", site / "docs" / "b-renamed.txt");
        write_file(site / "new.txt", "new\n");
        CHECK(co_await eventually([&] { return all_at(2); }, 30s));
        const auto want2 = tree(site.path());
        const std::vector<std::pair<TestSubscriber*, fs::path>> subs{
            {sa.get(), a.path()}, {sb.get(), b.path()}, {sc.get(), c.path()}};
        for (const auto& [s, dir] : subs) {
            CAPTURE(dir);
            CHECK(tree(dir) == want2);
            // The edited chunk and the new file: the rename and the other 7
            // chunks were copied locally.
            const auto& r = s->applied.back().report;
            CHECK(r.network_chunks <= 2);
            CHECK(r.local_chunks >= 8);
        }
        // Version 2 reached the subscribers through their mesh too.
        std::size_t from_peers = 0;
        for (auto* s : {sa.get(), sb.get(), sc.get()})
            from_peers += s->subscriber->mesh()->stats().manifests_fetched;
        CHECK(from_peers >= 1);

        // Version 3; a late subscriber (--once) goes straight to it.
        write_file(site / "docs" / "a.txt", "alpha, again\n");
        CHECK(co_await eventually([&] { return all_at(3); }, 30s));
        auto sl = std::make_unique<TestSubscriber>(io, pool, "late", channel, late.path(),
                                                   tracker.address, true);
        CHECK(co_await eventually([&] { return sl->done; }, 30s));
        CHECK(sl->outcome == Subscriber::Outcome::kUpToDate);
        REQUIRE(sl->applied.size() == 1);
        CHECK(sl->applied[0].version == 3);
        CHECK(tree(late.path()) == tree(site.path()));

        for (auto* s : {sa.get(), sb.get(), sc.get(), sl.get()})
            co_await s->stop();
        publisher.stop();
        CHECK(co_await eventually([&] { return publisher_done; }, 10s));
        co_await publisher_peer.node->stop(1s);
        co_await publisher_peer.trackers->leave();
    });
}

TEST_CASE("channel: forged and rolled-back versions from a peer change nothing") {
    TempDir site, a;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(site / "f.txt", "first\n");

    run_within(io, 120s, [&]() -> net::awaitable<void> {
        TestPeer publisher_peer(io, pool, "publisher");
        PublisherOptions po{site.path(), test_key(9), "site", {tracker.address}, {}, 100ms, {}, {}};
        Publisher publisher(*publisher_peer.node, *publisher_peer.trackers, po, publisher_peer.log);
        bool ready = false, publisher_done = false;
        auto run_publisher = [&]() -> net::awaitable<void> {
            const std::function<void()> on_ready = [&] { ready = true; };
            co_await publisher.run(on_ready);
            publisher_done = true;
        };
        net::spawn(io.get_executor(), run_publisher(), Logger("test"), "publisher");
        CHECK(co_await eventually([&] { return ready; }, 20s));
        const ChannelId channel = publisher.channel();
        const std::string v1_text = format_manifest(*publisher.published());
        write_file(site / "f.txt", "second\n");
        CHECK(co_await eventually(
            [&] { return publisher.published() && publisher.published()->version == 2; }, 20s));

        auto sa =
            std::make_unique<TestSubscriber>(io, pool, "a", channel, a.path(), tracker.address);
        CHECK(co_await eventually([&] { return sa->version() == 2; }, 30s));

        // A hostile peer of the channel: it holds version 1 (a rollback) and
        // announces a version 9 signed by another key.
        TestPeer liar(io, pool, "liar");
        auto v1 = parse_manifest(v1_text);
        REQUIRE(v1);
        Manifest forged = *v1;
        forged.version = 9;
        forged.previous = manifest_body_hash(*v1);
        forged = sign_manifest(forged, test_key(1));  // another key...
        forged.channel = channel;                     // ...claiming this channel
        const std::string forged_text = format_manifest(forged);
        auto liar_mesh = ChannelMesh::create(
            *liar.node, channel,
            [](VersionRef,
               std::shared_ptr<const std::string>) -> net::awaitable<ChannelMesh::Verdict> {
                co_return ChannelMesh::Verdict{VersionGossip::FetchOutcome::kStale, {}};
            },
            ChannelMeshOptions{}, liar.log);
        liar_mesh->hold(ref_of(forged), std::make_shared<const std::string>(forged_text));
        liar_mesh->start();
        liar_mesh->add_candidates(
            {PeerAddress{asio::ip::make_address("127.0.0.1"), sa->peer.node->port()}},
            PeerList::Source::kTracker);
        CHECK(
            co_await eventually([&] { return sa->subscriber->mesh()->stats().forged == 1; }, 20s));
        CHECK(sa->version() == 2);
        CHECK(read_file(a / "f.txt") == "second\n");

        // A rollback: a peer holding version 1 is never asked for it.
        TestPeer old(io, pool, "old");
        auto old_mesh = ChannelMesh::create(
            *old.node, channel,
            [](VersionRef,
               std::shared_ptr<const std::string>) -> net::awaitable<ChannelMesh::Verdict> {
                co_return ChannelMesh::Verdict{VersionGossip::FetchOutcome::kStale, {}};
            },
            ChannelMeshOptions{}, old.log);
        old_mesh->hold(ref_of(*v1), std::make_shared<const std::string>(v1_text));
        old_mesh->start();
        old_mesh->add_candidates(
            {PeerAddress{asio::ip::make_address("127.0.0.1"), sa->peer.node->port()}},
            PeerList::Source::kTracker);
        CHECK(co_await eventually([&] { return old_mesh->connection_count() >= 1; }, 10s));
        // It is told version 2 instead (and would take it from the subscriber).
        CHECK(co_await eventually(
            [&] {
                const auto v = sa->subscriber->mesh()->peer_versions();
                return std::find(v.begin(), v.end(), ref_of(*v1)) != v.end();
            },
            10s));
        CHECK(sa->version() == 2);
        CHECK(sa->applied.size() == 1);

        co_await liar_mesh->stop(1s);
        co_await old_mesh->stop(1s);
        co_await liar.node->stop(1s);
        co_await old.node->stop(1s);
        co_await sa->stop();
        publisher.stop();
        CHECK(co_await eventually([&] { return publisher_done; }, 10s));
        co_await publisher_peer.node->stop(1s);
        co_await publisher_peer.trackers->leave();
    });
}

}  // namespace channel_test
