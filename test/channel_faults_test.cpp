// Channels under faults (issue 14), in one io_context on 127.0.0.1: a
// publisher that lost its files brings them back before publishing again; a
// subscriber that refuses the publisher's connections still gets every
// version through its peers; a publisher that said goodbye, or vanished,
// leaves a channel a new subscriber still syncs from, and no one publishes in
// its place; a subscriber that vanishes mid-upload is not waited on; two
// publishers with one key that each published a version 1: every subscriber
// ends on the same one, and the losing publisher says so and goes on from the
// winner; a key that handed over twice (a fork): every subscriber ends on the
// winning chain, and the losing publisher says so and publishes no more.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <utility>

#include "peer/channel/channel_store.hpp"
#include "test/support/channel_harness.hpp"

namespace channel_faults_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void write_site(const TempDir& site) {
    write_file(site / "big.bin", pattern_bytes(1 << 20, 3));  // 4 chunks of 256 KiB
    fs::create_directories(site / "docs");
    write_file(site / "docs" / "a.txt", "alpha\n");
    write_file(site / "b.txt", "beta\n");
}

std::optional<std::int64_t> last_heard(const fs::path& dir) {
    auto view = ChannelStore::inspect(dir, Env::posix());
    if (auto* v = std::get_if<ChannelStore::View>(&view)) return v->last_heard;
    return std::nullopt;
}

}  // namespace

TEST_CASE("channel faults: a publisher that lost its files gets them back before publishing") {
    TempDir site, a, b;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_site(site);

    run_within(io, 180s, [&]() -> net::awaitable<void> {
        auto p1 = std::make_unique<TestPublisher>(io, pool, "publisher", site.path(), test_key(21),
                                                  tracker.address);
        CHECK(co_await eventually([&] { return p1->ready; }, 20s));
        write_file(site / "docs" / "a.txt", "alpha, second\n");
        CHECK(co_await eventually([&] { return p1->version() == 2; }, 20s));
        const ChannelId channel = p1->publisher->channel();
        const auto want = tree(site.path());

        auto sa =
            std::make_unique<TestSubscriber>(io, pool, "a", channel, a.path(), tracker.address);
        auto sb =
            std::make_unique<TestSubscriber>(io, pool, "b", channel, b.path(), tracker.address);
        CHECK(co_await eventually([&] { return sa->version() == 2 && sb->version() == 2; }, 30s));
        // Staleness: the subscribers recorded when they last heard the head.
        CHECK(co_await eventually([&] { return last_heard(a.path()).has_value(); }, 10s));
        const auto now = static_cast<std::int64_t>(std::time(nullptr));
        const auto heard = last_heard(a.path()).value_or(0);
        CHECK(heard <= now);
        CHECK(heard >= now - 60);

        // The publisher's disk is wiped: its files and its state are gone.
        co_await p1->stop();
        p1.reset();
        fs::remove_all(site.path());
        fs::create_directories(site.path());

        // Started again on the empty directory, it brings version 2 back
        // from the subscribers, publishes nothing on its way, and the
        // subscribers keep every file.
        auto p2 = std::make_unique<TestPublisher>(io, pool, "publisher-again", site.path(),
                                                  test_key(21), tracker.address);
        CHECK(co_await eventually([&] { return p2->ready || p2->done; }, 60s));
        CHECK(p2->error == "");
        CHECK(p2->publisher->recovered() == std::optional<std::uint64_t>(2));
        CHECK(p2->version() == 2);
        CHECK(p2->publisher->versions_published() == 0);
        CHECK(tree(site.path()) == want);
        co_await sa->more_rounds();
        CHECK(sa->version() == 2);
        CHECK(tree(a.path()) == want);

        // Publishing goes on from version 2, with every file.
        write_file(site / "new.txt", "new\n");
        CHECK(co_await eventually([&] { return sa->version() == 3 && sb->version() == 3; }, 30s));
        CHECK(p2->version() == 3);
        CHECK(tree(a.path()) == tree(site.path()));
        CHECK(tree(a.path()).size() == want.size() + 1);

        co_await sa->stop();
        co_await sb->stop();
        co_await p2->stop();
    });
}

TEST_CASE(
    "channel faults: a wiped publisher, the network split between two versions: all end on one") {
    TempDir site1, site2, site3, a, b;
    asio::io_context io;
    asio::thread_pool pool(2);
    // The same key published two different versions 1, each on its own
    // tracker; subscriber a follows one, b the other: the network holds two
    // versions and nothing has settled them. Then both publishers' disks are
    // wiped, and the key starts again on a third, empty directory that asks
    // both trackers.
    TestTracker tracker1(io), tracker2(io);
    write_file(site1 / "data.bin", pattern_bytes(1 << 20, 11));
    write_file(site1 / "one.txt", "first\n");
    write_file(site2 / "data.bin", pattern_bytes(1 << 20, 12));
    write_file(site2 / "two.txt", "second\n");
    const ChannelKey key = test_key(51);

    run_within(io, 180s, [&]() -> net::awaitable<void> {
        auto p1 =
            std::make_unique<TestPublisher>(io, pool, "p1", site1.path(), key, tracker1.address);
        auto p2 =
            std::make_unique<TestPublisher>(io, pool, "p2", site2.path(), key, tracker2.address);
        CHECK(co_await eventually([&] { return p1->ready && p2->ready; }, 20s));
        const auto v1 = version_of(*p1->publisher->published());
        const auto v2 = version_of(*p2->publisher->published());
        REQUIRE(freshness(v1, v2) == Freshness::kConflict);
        const ManifestVersion winner = conflict_winner(v1, v2);
        const auto want = tree(winner == v1 ? site1.path() : site2.path());
        const ChannelId channel = p1->publisher->channel();
        auto sa =
            std::make_unique<TestSubscriber>(io, pool, "a", channel, a.path(), tracker1.address);
        auto sb =
            std::make_unique<TestSubscriber>(io, pool, "b", channel, b.path(), tracker2.address);
        CHECK(co_await eventually([&] { return sa->version() == 1 && sb->version() == 1; }, 40s));
        co_await p1->stop();
        co_await p2->stop();
        p1.reset();
        p2.reset();
        fs::remove_all(site1.path());
        fs::remove_all(site2.path());
        // Still split: each subscriber holds the version of its tracker.
        CHECK(version_of(*sa->subscriber->applied()) == v1);
        CHECK(version_of(*sb->subscriber->applied()) == v2);

        const std::vector<HostPort> both{tracker1.address, tracker2.address};
        auto p3 = std::make_unique<TestPublisher>(io, pool, "p3", site3.path(), key, both);
        CHECK(co_await eventually([&] { return p3->ready || p3->done; }, 60s));
        CHECK(p3->error == "");
        // It brought back the version every peer keeps, and published nothing.
        CHECK(p3->publisher->recovered() == std::optional<std::uint64_t>(1));
        REQUIRE(p3->publisher->published());
        CHECK(version_of(*p3->publisher->published()) == winner);
        CHECK(p3->publisher->versions_published() == 0);
        CHECK(tree(site3.path()) == want);
        // The subscribers agree with it: the one that held the other version
        // hears of the winner and switches.
        const auto holds_winner = [&](const TestSubscriber& s) {
            const auto& m = s.subscriber->applied();
            return m && version_of(*m) == winner;
        };
        CHECK(co_await eventually([&] { return holds_winner(*sa) && holds_winner(*sb); }, 40s));
        CHECK(tree(a.path()) == want);
        CHECK(tree(b.path()) == want);
        // Hearing the loser from a subscriber is no lost conflict: the
        // version held here won.
        CHECK(p3->publisher->conflicts_lost() == 0);
        // And publishing goes on from it, everywhere.
        write_file(site3 / "new.txt", "new\n");
        CHECK(co_await eventually([&] { return sa->version() == 2 && sb->version() == 2; }, 30s));
        CHECK(p3->publisher->published()->previous == winner.body_hash);
        CHECK(tree(a.path()) == tree(site3.path()));
        CHECK(tree(b.path()) == tree(site3.path()));

        co_await sa->stop();
        co_await sb->stop();
        co_await p3->stop();
    });
}

TEST_CASE("channel faults: a subscriber that refuses the publisher gets every version via peers") {
    TempDir site, a, cut;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_site(site);

    run_within(io, 180s, [&]() -> net::awaitable<void> {
        auto p = std::make_unique<TestPublisher>(io, pool, "publisher", site.path(), test_key(22),
                                                 tracker.address);
        CHECK(co_await eventually([&] { return p->ready; }, 20s));
        const ChannelId channel = p->publisher->channel();
        const UserId publisher_user = p->peer.node->user();
        auto sa =
            std::make_unique<TestSubscriber>(io, pool, "a", channel, a.path(), tracker.address);
        auto sc =
            std::make_unique<TestSubscriber>(io, pool, "cut", channel, cut.path(), tracker.address);
        // Before it runs: the cut-off subscriber refuses the publisher's
        // connections and closes any it reaches.
        sc->peer.node->refuse(publisher_user);
        CHECK(co_await eventually([&] { return sa->version() == 1 && sc->version() == 1; }, 40s));
        CHECK(tree(cut.path()) == tree(site.path()));

        for (int v = 2; v <= 3; ++v) {
            write_file(site / "docs" / "a.txt", fmt::format("alpha {}\n", v));
            write_file(site / fmt::format("v{}.txt", v), "more\n");
            CHECK(co_await eventually([&] { return sc->version() == std::uint64_t(v); }, 40s));
            CHECK(tree(cut.path()) == tree(site.path()));
        }
        // Nothing came from the publisher: it uploaded to `a` only.
        const auto up = p->peer.node->uploads();
        const std::string cut_at = fmt::format("127.0.0.1:{}", sc->peer.node->port());
        CHECK_FALSE(up.peers.contains(cut_at));

        co_await sa->stop();
        co_await sc->stop();
        co_await p->stop();
    });
}

TEST_CASE("channel faults: the publisher gone, with or without goodbye: still synced, no new one") {
    // Said goodbye (stop: Leave to the tracker, goodbye to every peer), or
    // vanished (no word to anyone).
    for (const bool goodbye : {true, false}) {
        CAPTURE(goodbye);
        TempDir site, a, b, late;
        asio::io_context io;
        asio::thread_pool pool(2);
        TestTracker tracker(io);
        write_site(site);

        run_within(io, 180s, [&]() -> net::awaitable<void> {
            auto p = std::make_unique<TestPublisher>(io, pool, "publisher", site.path(),
                                                     test_key(23), tracker.address);
            CHECK(co_await eventually([&] { return p->ready; }, 20s));
            write_file(site / "b.txt", "beta, second\n");
            CHECK(co_await eventually([&] { return p->version() == 2; }, 20s));
            const ChannelId channel = p->publisher->channel();
            const auto want = tree(site.path());
            const std::string head = format_manifest(*p->publisher->published());
            auto sa =
                std::make_unique<TestSubscriber>(io, pool, "a", channel, a.path(), tracker.address);
            auto sb =
                std::make_unique<TestSubscriber>(io, pool, "b", channel, b.path(), tracker.address);
            CHECK(
                co_await eventually([&] { return sa->version() == 2 && sb->version() == 2; }, 30s));

            CHECK_FALSE(p->done);
            if (goodbye) {
                co_await p->stop();
            } else {
                p->kill();
                CHECK(co_await eventually([&] { return p->done; }, 10s));
            }

            auto sl = std::make_unique<TestSubscriber>(io, pool, "late", channel, late.path(),
                                                       tracker.address, true);
            CHECK(co_await eventually([&] { return sl->done; }, 60s));
            CHECK(sl->outcome == Subscriber::Outcome::kUpToDate);
            CHECK(sl->version() == 2);
            CHECK(tree(late.path()) == want);

            // No new publisher: the channel stays at the publisher's last
            // version everywhere, the tracker's head included.
            co_await sa->more_rounds();
            co_await sb->more_rounds();
            CHECK(sa->version() == 2);
            CHECK(sb->version() == 2);
            CHECK(sa->applied.size() == 1);
            CHECK(tracker.store->get_manifest(channel) == std::optional<std::string>(head));

            co_await sa->stop();
            co_await sb->stop();
            co_await sl->stop();
        });
    }
}

TEST_CASE(
    "channel faults: subscribers that traded chunks see each other whole, and serve a late one "
    "with the publisher gone") {
    // Three subscribers fetch one file of 32 chunks at once: the publisher
    // sends each chunk about once and they trade the rest. Each must learn
    // every chunk the others verify, even one it holds itself: otherwise
    // two complete subscribers each keep a stale partial view of the other,
    // their connection never closes ("both complete"), and each, counting
    // such phantom partial peers, rations its uploads and refuses the chunks
    // a late getter lacks (the bench's stall: with the publisher killed, a
    // fresh subscriber or the wiped publisher received nothing for minutes).
    TempDir site, a, b, c, late;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(site / "big.bin", pattern_bytes(8 << 20, 11));  // 32 chunks of 256 KiB
    write_file(site / "small.txt", "small\n");

    run_within(io, 240s, [&]() -> net::awaitable<void> {
        auto p = std::make_unique<TestPublisher>(io, pool, "publisher", site.path(), test_key(26),
                                                 tracker.address);
        CHECK(co_await eventually([&] { return p->ready; }, 20s));
        const ChannelId channel = p->publisher->channel();
        std::vector<std::unique_ptr<TestSubscriber>> subs;
        for (const auto& [name, dir] : {std::pair{"a", &a}, std::pair{"b", &b}, std::pair{"c", &c}})
            subs.push_back(std::make_unique<TestSubscriber>(io, pool, name, channel, dir->path(),
                                                            tracker.address));
        const auto all_at = [&](std::uint64_t v) {
            return std::all_of(subs.begin(), subs.end(),
                               [v](const auto& s) { return s->version() == v; });
        };
        CHECK(co_await eventually([&] { return all_at(1); }, 60s));

        // Every file-swarm connection between complete peers closes: none
        // is left that a stale view holds open.
        const auto file_connections = [](const TestSubscriber& s) {
            std::size_t n = 0;
            for (const auto& [id, swarm] : s.peer.node->swarms())
                n += swarm->connection_count();
            return n;
        };
        const auto none_left = [&] {
            return std::all_of(subs.begin(), subs.end(),
                               [&](const auto& s) { return file_connections(*s) == 0; });
        };
        CHECK(co_await eventually(none_left, 30s));
        for (const auto& s : subs)
            if (const auto n = file_connections(*s); n != 0)
                MESSAGE(fmt::format("a subscriber still has {} file connection(s)", n));

        // The publisher vanishes; a late subscriber gets the whole version
        // from the three.
        p->kill();
        CHECK(co_await eventually([&] { return p->done; }, 10s));
        auto sl = std::make_unique<TestSubscriber>(io, pool, "late", channel, late.path(),
                                                   tracker.address, true);
        CHECK(co_await eventually([&] { return sl->done; }, 60s));
        CHECK(sl->outcome == Subscriber::Outcome::kUpToDate);
        CHECK(tree(late.path()) == tree(site.path()));

        for (auto& s : subs)
            co_await s->stop();
        co_await sl->stop();
    });
}

TEST_CASE("channel faults: a subscriber that vanishes mid-upload: the others finish without it") {
    TempDir site, a, b, c;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(site / "big.bin", pattern_bytes(8 << 20, 7));  // 32 chunks of 256 KiB
    write_file(site / "small.txt", "small\n");

    run_within(io, 180s, [&]() -> net::awaitable<void> {
        auto p = std::make_unique<TestPublisher>(io, pool, "publisher", site.path(), test_key(25),
                                                 tracker.address);
        CHECK(co_await eventually([&] { return p->ready; }, 20s));
        const ChannelId channel = p->publisher->channel();
        const std::vector<HostPort> trackers{tracker.address};
        auto sa = std::make_unique<TestSubscriber>(io, pool, "a", channel, a.path(), trackers);
        auto sb = std::make_unique<TestSubscriber>(io, pool, "b", channel, b.path(), trackers);
        CHECK(co_await eventually([&] { return sa->version() == 1 && sb->version() == 1; }, 40s));

        // `c` joins late, refusing the publisher: its chunks come from `a`
        // and `b`, slowly (a download cap), and a request that goes
        // unanswered is not given up on for minutes (the stall timeout), so
        // only noticing that `a` is gone finishes the download in time.
        NodeOptions slow;
        slow.max_download_rate = 2u << 20;
        slow.swarm.stall_timeout = 600s;
        slow.swarm.rediscover = 300ms;
        const std::uint64_t a_before = sa->peer.node->uploads().bytes;
        auto sc = std::make_unique<TestSubscriber>(io, pool, "c", channel, c.path(), trackers,
                                                   false, slow);
        sc->peer.node->refuse(p->peer.node->user());
        const std::string c_at = fmt::format("127.0.0.1:{}", sc->peer.node->port());
        const auto a_serves_c = [&] {
            const auto up = sa->peer.node->uploads();
            return up.peers.contains(c_at) && up.bytes >= a_before + (512u << 10);
        };
        CHECK(co_await eventually(a_serves_c, 40s));
        // `a` vanishes mid-upload: no goodbye to anyone, the tracker
        // still lists it.
        CHECK(sc->version() == 0);
        CHECK_FALSE(sa->done);
        sa->kill();
        CHECK(co_await eventually([&] { return sa->done; }, 10s));

        CHECK(co_await eventually([&] { return sc->version() == 1; }, 60s));
        CHECK(tree(c.path()) == tree(site.path()));

        // Nothing waits on it: the next version reaches the others.
        write_file(site / "small.txt", "small, second\n");
        CHECK(co_await eventually([&] { return sb->version() == 2 && sc->version() == 2; }, 40s));
        CHECK(tree(c.path()) == tree(site.path()));
        CHECK(tree(b.path()) == tree(site.path()));

        co_await sb->stop();
        co_await sc->stop();
        co_await p->stop();
    });
}

TEST_CASE("channel faults: two publishers with one key: a tie is settled alike everywhere") {
    TempDir site1, site2, a, b;
    asio::io_context io;
    asio::thread_pool pool(2);
    // One tracker each: neither publisher hears of the other's version 1
    // before publishing its own (the same key on two machines, racing).
    TestTracker tracker1(io), tracker2(io);
    write_file(site1 / "data.bin", pattern_bytes(1 << 20, 5));
    write_file(site1 / "one.txt", "from the first machine\n");
    write_file(site2 / "data.bin", pattern_bytes(1 << 20, 6));
    write_file(site2 / "two.txt", "from the second machine\n");

    run_within(io, 180s, [&]() -> net::awaitable<void> {
        auto p1 = std::make_unique<TestPublisher>(io, pool, "first", site1.path(), test_key(24),
                                                  tracker1.address);
        CHECK(co_await eventually([&] { return p1->ready; }, 20s));
        auto p2 = std::make_unique<TestPublisher>(io, pool, "second", site2.path(), test_key(24),
                                                  tracker2.address);
        CHECK(co_await eventually([&] { return p2->ready; }, 20s));
        REQUIRE(p1->version() == 1);
        REQUIRE(p2->version() == 1);
        const auto v1 = version_of(*p1->publisher->published());
        const auto v2 = version_of(*p2->publisher->published());
        REQUIRE(v1 != v2);
        const ManifestVersion winner = conflict_winner(v1, v2);
        TestPublisher& won = winner == v1 ? *p1 : *p2;
        TestPublisher& lost = winner == v1 ? *p2 : *p1;
        const ChannelId channel = p1->publisher->channel();

        // Subscribers that ask both trackers see both versions 1.
        const std::vector<HostPort> both{tracker1.address, tracker2.address};
        auto sa = std::make_unique<TestSubscriber>(io, pool, "a", channel, a.path(), both);
        auto sb = std::make_unique<TestSubscriber>(io, pool, "b", channel, b.path(), both);
        const auto holds_winner = [&](const TestSubscriber& s) {
            const auto& m = s.subscriber->applied();
            return m && version_of(*m) == winner;
        };
        CHECK(co_await eventually([&] { return holds_winner(*sa) && holds_winner(*sb); }, 40s));
        const fs::path won_dir = winner == v1 ? site1.path() : site2.path();
        CHECK(tree(a.path()) == tree(won_dir));
        CHECK(tree(a.path()) == tree(b.path()));
        // The losing publisher was told and said so; the winner was not.
        CHECK(co_await eventually([&] { return lost.publisher->conflicts_lost() >= 1; }, 30s));
        CHECK(won.publisher->conflicts_lost() == 0);
        // The loser does not publish its version 1 again; its next version
        // continues from the winner's (number and previous hash).
        CHECK(lost.publisher->versions_published() == 1);
        const fs::path lost_dir = winner == v1 ? site2.path() : site1.path();
        write_file(lost_dir / "after.txt", "after the conflict\n");
        CHECK(co_await eventually([&] { return sa->version() == 2 && sb->version() == 2; }, 40s));
        REQUIRE(lost.publisher->published());
        CHECK(lost.publisher->published()->version == 2);
        CHECK(lost.publisher->published()->previous == winner.body_hash);
        CHECK(version_of(*sa->subscriber->applied()) == version_of(*lost.publisher->published()));
        CHECK(tree(a.path()) == tree(lost_dir));

        co_await sa->stop();
        co_await sb->stop();
        co_await p1->stop();
        co_await p2->stop();
    });
}

TEST_CASE("channel faults: one key handing over twice: every peer ends on the same chain") {
    TempDir site1, site2, a, b, c;
    asio::io_context io;
    asio::thread_pool pool(2);
    // The channel's key hands publishing over twice, from version 1, to two
    // keys on two machines, each with its own tracker: each new publisher
    // publishes its version 1 before hearing of the other's (a fork).
    TestTracker tracker1(io), tracker2(io);
    write_file(site1 / "data.bin", pattern_bytes(1 << 20, 7));
    write_file(site1 / "one.txt", "from the first new key\n");
    write_file(site2 / "data.bin", pattern_bytes(1 << 20, 8));
    write_file(site2 / "two.txt", "from the second new key\n");
    const ChannelKey first = test_key(41);
    const ChannelId channel = channel_id_of(first.public_key());
    const HandoverRecord to1 = sign_handover(channel, 1, first, test_key(42).public_key());
    const HandoverRecord to2 = sign_handover(channel, 1, first, test_key(43).public_key());

    run_within(io, 180s, [&]() -> net::awaitable<void> {
        auto p1 = std::make_unique<TestPublisher>(io, pool, "first", site1.path(), test_key(42),
                                                  tracker1.address, to1);
        auto p2 = std::make_unique<TestPublisher>(io, pool, "second", site2.path(), test_key(43),
                                                  tracker2.address, to2);
        CHECK(co_await eventually([&] { return p1->ready && p2->ready; }, 20s));
        REQUIRE(p1->version() == 1);
        REQUIRE(p2->version() == 1);
        REQUIRE(p1->publisher->channel() == channel);
        REQUIRE(p2->publisher->channel() == channel);
        const auto v1 = version_of(*p1->publisher->published());
        const auto v2 = version_of(*p2->publisher->published());
        REQUIRE(freshness(v1, v2) == Freshness::kForked);
        const ManifestVersion winner = fork_winner(v1, v2);
        TestPublisher& won = winner == v1 ? *p1 : *p2;
        TestPublisher& lost = winner == v1 ? *p2 : *p1;
        const fs::path won_dir = winner == v1 ? site1.path() : site2.path();
        const fs::path lost_dir = winner == v1 ? site2.path() : site1.path();

        // Subscriber a asks only the loser's tracker, so it first holds the
        // losing version; b only the winner's; c both (it links the two).
        const HostPort lost_tracker = winner == v1 ? tracker2.address : tracker1.address;
        const HostPort won_tracker = winner == v1 ? tracker1.address : tracker2.address;
        auto sa = std::make_unique<TestSubscriber>(io, pool, "a", channel, a.path(), lost_tracker);
        CHECK(co_await eventually([&] { return sa->version() == 1; }, 40s));
        REQUIRE(sa->subscriber->applied());
        const bool a_first_lost = version_of(*sa->subscriber->applied()) != winner;
        write_file(a / "mine.txt", "the subscriber's own file\n");
        auto sb = std::make_unique<TestSubscriber>(io, pool, "b", channel, b.path(), won_tracker);
        const std::vector<HostPort> both{tracker1.address, tracker2.address};
        auto sc = std::make_unique<TestSubscriber>(io, pool, "c", channel, c.path(), both);
        const auto holds_winner = [&](const TestSubscriber& s) {
            const auto& m = s.subscriber->applied();
            return m && version_of(*m) == winner;
        };
        CHECK(co_await eventually(
            [&] { return holds_winner(*sa) && holds_winner(*sb) && holds_winner(*sc); }, 60s));
        CHECK(a_first_lost);  // a switched from the losing chain to the winning one
        CHECK(read_file(a / "mine.txt") == "the subscriber's own file\n");
        fs::remove(a / "mine.txt");
        CHECK(tree(a.path()) == tree(won_dir));
        CHECK(tree(b.path()) == tree(won_dir));
        CHECK(tree(c.path()) == tree(won_dir));
        // The losing publisher was told and said so; the winner was not.
        CHECK(co_await eventually([&] { return lost.publisher->forks_lost() >= 1; }, 30s));
        CHECK(won.publisher->forks_lost() == 0);
        // The winner goes on; the loser's key publishes nothing more.
        write_file(lost_dir / "after.txt", "from the losing key\n");
        write_file(won_dir / "after.txt", "from the winning key\n");
        CHECK(co_await eventually(
            [&] { return sa->version() == 2 && sb->version() == 2 && sc->version() == 2; }, 40s));
        CHECK(co_await eventually([&] { return lost.publisher->publishes_refused() >= 1; }, 20s));
        CHECK(lost.publisher->versions_published() == 1);
        CHECK(won.publisher->published()->version == 2);
        CHECK(version_of(*sc->subscriber->applied()) == version_of(*won.publisher->published()));
        CHECK(read_file(c / "after.txt") == "from the winning key\n");

        co_await sa->stop();
        co_await sb->stop();
        co_await sc->stop();
        co_await p1->stop();
        co_await p2->stop();
    });
}

}  // namespace channel_faults_test
