// A new publisher by hand-over (issue 14), in one io_context on 127.0.0.1:
// the channel's key hands publishing over to another key; the new publisher,
// on another directory and node, brings the channel's files back from the
// network and publishes the next version, which every subscriber follows.
// The old key's later versions are refused by the subscribers and by the
// tracker, and the old publisher, started again, publishes nothing.
#include <doctest/doctest.h>

#include <ctime>
#include <filesystem>

#include "test/support/channel_harness.hpp"

namespace channel_handover_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void write_site(const TempDir& site) {
    write_file(site / "big.bin", pattern_bytes(1 << 20, 5));
    fs::create_directories(site / "docs");
    write_file(site / "docs" / "a.txt", "alpha\n");
}

// A peer of the channel that only announces (and serves) one manifest text.
net::awaitable<ChannelMesh::Verdict> refuse_all(VersionRef, std::shared_ptr<const std::string>) {
    co_return ChannelMesh::Verdict{VersionGossip::FetchOutcome::kStale, {}};
}

}  // namespace

TEST_CASE("channel handover: a new key publishes, the old key's later versions are refused") {
    TempDir site, site2, a, b;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_site(site);
    const ChannelKey old_key = test_key(31);
    const ChannelKey new_key = test_key(32);

    run_within(io, 240s, [&]() -> net::awaitable<void> {
        auto p1 = std::make_unique<TestPublisher>(io, pool, "old-publisher", site.path(), old_key,
                                                  tracker.address);
        CHECK(co_await eventually([&] { return p1->ready; }, 20s));
        const ChannelId channel = p1->publisher->channel();
        auto sa =
            std::make_unique<TestSubscriber>(io, pool, "a", channel, a.path(), tracker.address);
        auto sb =
            std::make_unique<TestSubscriber>(io, pool, "b", channel, b.path(), tracker.address);
        CHECK(co_await eventually([&] { return sa->version() == 1 && sb->version() == 1; }, 40s));

        // The old publisher hands over from version 2 (peer handover) and goes.
        const HandoverRecord record =
            sign_handover(channel, p1->version() + 1, old_key, new_key.public_key());
        co_await p1->stop();
        p1.reset();

        // The new publisher, on an empty directory of another node: it brings
        // version 1 back from the subscribers, then publishes version 2.
        auto p2 = std::make_unique<TestPublisher>(io, pool, "new-publisher", site2.path(), new_key,
                                                  tracker.address, record);
        CHECK(co_await eventually([&] { return p2->ready || p2->done; }, 60s));
        CHECK(p2->error == "");
        CHECK(p2->publisher->channel() == channel);
        CHECK(p2->publisher->recovered() == std::optional<std::uint64_t>(1));
        CHECK(tree(site2.path()) == tree(site.path()));
        write_file(site2 / "new.txt", "from the new publisher\n");
        CHECK(co_await eventually([&] { return sa->version() == 2 && sb->version() == 2; }, 40s));
        REQUIRE(p2->publisher->published());
        const Manifest v2 = *p2->publisher->published();
        CHECK(v2.version == 2);
        CHECK(v2.handovers == std::vector<Handover>{link_of(record)});
        CHECK(tree(a.path()) == tree(site2.path()));
        CHECK(tree(b.path()) == tree(site2.path()));

        // The old key signs a version 3 (the same files: nothing to fetch,
        // so a subscriber that took it would hold it at once).
        Manifest old3 = v2;
        old3.handovers.clear();
        old3.version = 3;
        old3.previous = manifest_body_hash(v2);
        old3 = sign_manifest(old3, old_key);
        REQUIRE(verify_manifest_signature(old3).ok());  // valid on its own
        const auto old3_text = std::make_shared<const std::string>(format_manifest(old3));

        // The tracker refuses it.
        TestPeer rogue(io, pool, "rogue");
        const std::vector<HostPort> where{tracker.address};
        const auto unreached = co_await rogue.trackers->connect(where);
        CHECK(unreached.empty());
        rogue.trackers->follow(channel, 0, where);
        const auto puts = co_await rogue.trackers->put_manifest(*old3_text, where);
        REQUIRE(puts.size() == 1);
        CHECK_FALSE(puts[0].kept);
        CHECK(puts[0].refusal == TrackerError::Kind::kManifestRefused);
        CHECK(puts[0].error.find("handed over") != std::string::npos);

        // A peer announces it to both subscribers: its reference says it
        // has no hand-over, so neither even fetches it.
        auto mesh = ChannelMesh::create(*rogue.node, channel, refuse_all, {}, rogue.log);
        const VersionRef old3_ref = ref_of(old3);
        CHECK(old3_ref.chain.empty());
        mesh->hold(old3_ref, old3_text);
        const auto asked_before = sa->subscriber->mesh()->stats().manifests_requested +
                                  sb->subscriber->mesh()->stats().manifests_requested;
        mesh->start();
        const auto loopback = asio::ip::make_address("127.0.0.1");
        std::vector<PeerAddress> subscribers;
        subscribers.push_back(PeerAddress{loopback, sa->peer.node->port()});
        subscribers.push_back(PeerAddress{loopback, sb->peer.node->port()});
        mesh->add_candidates(subscribers, PeerList::Source::kTracker);
        CHECK(co_await eventually([&] { return mesh->connection_count() >= 2; }, 30s));
        // Each subscriber knows the peer holds old3 (it decides whether to
        // fetch as it learns it): neither asked for it.
        CHECK(co_await eventually(
            [&] {
                return !sa->subscriber->mesh()->holders(old3_ref).empty() &&
                       !sb->subscriber->mesh()->holders(old3_ref).empty();
            },
            30s));
        CHECK(sa->subscriber->mesh()->stats().manifests_requested +
                  sb->subscriber->mesh()->stats().manifests_requested ==
              asked_before);
        CHECK(mesh->stats().manifests_served == 0);
        // Announced as if on the new key's chain: they fetch it, and refuse
        // it as forged (not the version announced), dropping the sender.
        const auto forged_before =
            sa->subscriber->mesh()->stats().forged + sb->subscriber->mesh()->stats().forged;
        VersionRef lie = old3_ref;
        lie.chain = ref_of(*sa->subscriber->applied()).chain;
        mesh->hold(lie, old3_text);
        CHECK(co_await eventually([&] { return mesh->stats().manifests_served >= 2; }, 30s));
        CHECK(co_await eventually(
            [&] {
                return sa->subscriber->mesh()->stats().forged +
                           sb->subscriber->mesh()->stats().forged >=
                       forged_before + 2;
            },
            30s));
        // Both dropped the sender, and looked again at what they hold.
        CHECK(co_await eventually([&] { return mesh->connection_count() == 0; }, 30s));
        co_await sa->more_rounds();
        co_await sb->more_rounds();
        CHECK(sa->version() == 2);
        CHECK(sb->version() == 2);
        REQUIRE(sa->subscriber->applied());
        CHECK(sa->subscriber->applied()->handovers.size() == 1);

        // The old publisher, started again, learns of the hand-over and
        // publishes nothing.
        auto p1_again = std::make_unique<TestPublisher>(io, pool, "old-again", site.path(), old_key,
                                                        tracker.address);
        CHECK(co_await eventually([&] { return p1_again->done; }, 30s));
        CHECK(p1_again->error.find("handed publishing") != std::string::npos);
        CHECK(p1_again->publisher->versions_published() == 0);

        // The new publisher goes on; everyone follows.
        write_file(site2 / "docs" / "a.txt", "alpha, third\n");
        CHECK(co_await eventually([&] { return sa->version() == 3 && sb->version() == 3; }, 40s));
        CHECK(tree(a.path()) == tree(site2.path()));

        // The new publisher restarted without the record: DIR's last version
        // names the channel and the chain, and publishing goes on.
        co_await p2->stop();
        p2.reset();
        auto p2_again = std::make_unique<TestPublisher>(io, pool, "new-again", site2.path(),
                                                        new_key, tracker.address);
        CHECK(co_await eventually([&] { return p2_again->ready || p2_again->done; }, 30s));
        CHECK(p2_again->error == "");
        CHECK(p2_again->publisher->channel() == channel);
        write_file(site2 / "after-restart.txt", "still the new publisher\n");
        CHECK(co_await eventually([&] { return sa->version() == 4 && sb->version() == 4; }, 40s));
        CHECK(tree(a.path()) == tree(site2.path()));
        REQUIRE(p2_again->publisher->published());
        CHECK(p2_again->publisher->published()->handovers ==
              std::vector<Handover>{link_of(record)});

        co_await mesh->stop(100ms);
        co_await rogue.node->stop(1s);
        co_await rogue.trackers->leave();
        co_await p1_again->peer.node->stop(1s);
        co_await sa->stop();
        co_await sb->stop();
        co_await p2_again->stop();
    });
}

}  // namespace channel_handover_test
