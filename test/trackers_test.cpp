// Trackers (peer/trackers.*) asks its trackers at once: against one live
// tracker and one that joins peers and then never answers a question, the
// live tracker's answer comes back while the silent tracker's query is still
// out (its request timeout is an hour, so waiting for it would not end).
#include <doctest/doctest.h>

#include <algorithm>

#include "common/net/join_all.hpp"
#include "common/net/net.hpp"
#include "peer/discovery/tracker_client.hpp"
#include "peer/discovery/trackers.hpp"
#include "test/support/cluster.hpp"
#include "test/support/manifests.hpp"

namespace trackers_test {

using namespace seedshare;
using namespace std::chrono_literals;
namespace proto = seedshare::tracker_proto;
using net::awaitable;

namespace {

const Logger kQuiet("test", LogLevel::kOff);

Seed make_seed() {
    Seed s;
    s.name = "parallel.bin";
    s.chunk_size = 1024;
    s.length = 2000;
    s.file_hash.bytes[0] = 7;
    s.trackers = {HostPort{"127.0.0.1", 7000}};
    s.chunk_hashes.resize(2);
    return s;
}

// A tracker that answers Join and FileList, and sits on every other
// question: a GetPeers until the test releases it (then it answers with
// `late_peer`), anything else for good.
struct SilentTracker {
    explicit SilentTracker(asio::io_context& io)
        : acceptor(io, {asio::ip::make_address("127.0.0.1"), 0}),
          release(io, net::Clock::time_point::max()) {}

    HostPort address() const { return HostPort{"127.0.0.1", acceptor.local_endpoint().port()}; }

    awaitable<void> serve() {
        auto socket = co_await acceptor.async_accept(asio::use_awaitable);
        net::FrameStream fs(std::move(socket), limits::kMaxTrackerFrameBytes, {});
        try {
            while (true) {
                const auto h = co_await fs.read_header();
                const auto payload = co_await fs.read_payload(h);
                auto request = proto::decode_request(h.type, payload);
                if (!request) break;
                proto::Response answer;
                if (const auto* join = std::get_if<proto::Join>(&*request)) {
                    proto::Joined ok;
                    ok.token = join->token;
                    ok.heartbeat_ms = 3'600'000;
                    ok.ttl_ms = 3'600'000;
                    ok.observed = asio::ip::make_address("127.0.0.1");
                    answer = ok;
                } else if (std::holds_alternative<proto::FileList>(*request)) {
                    answer = proto::FileListOk{};
                } else if (const auto* q = std::get_if<proto::GetPeers>(&*request)) {
                    ++get_peers_asked;
                    release.expires_at(net::Clock::time_point::max());
                    asio::error_code ec;
                    co_await release.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                    proto::Peers peers;
                    peers.id = q->id;
                    peers.peers.push_back(proto::PeerEntry{late_peer.address, late_peer.port,
                                                           random_user_id(), true});
                    answer = peers;
                    ++get_peers_answered;
                } else {
                    continue;  // sat on: never answered
                }
                const Bytes frame = proto::encode(answer);
                co_await fs.write(frame);
            }
        } catch (const std::exception&) {
        }
        closed = true;
    }

    asio::ip::tcp::acceptor acceptor;
    asio::steady_timer release;  // cancelled: answer the GetPeers being sat on
    const PeerAddress late_peer{asio::ip::make_address("10.9.8.7"), 6543};
    std::size_t get_peers_asked = 0;
    std::size_t get_peers_answered = 0;
    bool closed = false;
};

bool contains(const std::vector<PeerAddress>& peers, const PeerAddress& p) {
    return std::find(peers.begin(), peers.end(), p) != peers.end();
}

}  // namespace

TEST_CASE("trackers: a silent tracker does not hold up the answer of a live one") {
    asio::io_context io;
    test::TestTracker live(io);
    SilentTracker silent(io);
    const Seed seed = make_seed();
    const SeedId id = seed.id();

    // A peer that holds the seed, registered at the live tracker only.
    TrackerClient::Options ho;
    ho.tracker = live.address;
    ho.user = random_user_id();
    ho.listen_port = 4242;
    TrackerClient holder(io.get_executor(), ho, kQuiet);
    const PeerAddress holder_address{asio::ip::make_address("127.0.0.1"), 4242};

    // An hour: a call that waited for the silent tracker would not return.
    TrackersOptions options;
    options.request_timeout = 3600s;
    options.straggler_wait = 100ms;
    Trackers trackers(io.get_executor(), random_user_id(), 0, kQuiet, options);
    const std::vector<HostPort> both{silent.address(), live.address};  // the silent one first

    test::run_within(io, 20s, [&]() -> awaitable<void> {
        net::spawn(io.get_executor(), silent.serve(), kQuiet, "silent tracker");
        co_await holder.connect();
        holder.hold(seed, true);
        net::spawn(io.get_executor(), holder.run(), kQuiet, "holder");
        const auto unreachable = co_await trackers.connect(both);
        CHECK(unreachable.empty());
        // The holder's seed text (sent after its file list) is at the live tracker.
        const std::vector<HostPort> live_only{live.address};
        std::optional<std::string> known;
        asio::steady_timer pause(io);
        for (int i = 0; i < 500 && !known; ++i) {
            known = co_await trackers.get_seed(id, live_only);
            pause.expires_after(10ms);
            if (!known) co_await pause.async_wait(asio::use_awaitable);
        }
        REQUIRE(known.has_value());

        // Both are asked at once; the live one's answer comes back while the
        // silent one sits on its question.
        const auto peers = co_await trackers.find_peers(id, both, 50);
        CHECK(silent.get_peers_asked == 1);
        CHECK(silent.get_peers_answered == 0);
        CHECK_FALSE(silent.closed);
        CHECK(contains(peers, holder_address));
        CHECK_FALSE(contains(peers, silent.late_peer));

        // The first seed text wins; the silent tracker is not waited for.
        const auto text = co_await trackers.get_seed(id, both);
        REQUIRE(text.has_value());
        const auto parsed = parse_seed(*text);
        REQUIRE(parsed.ok());
        CHECK(parsed->id() == id);
        CHECK(silent.get_peers_answered == 0);
        CHECK_FALSE(silent.closed);

        // The silent tracker answers at last: the next call hands its answer out.
        silent.release.cancel();
        const std::vector<HostPort> silent_only{silent.address()};
        const auto late = co_await trackers.find_peers(id, silent_only, 50);
        CHECK(silent.get_peers_answered == 1);
        CHECK(contains(late, silent.late_peer));

        trackers.abandon();
        holder.stop();
    });
}

TEST_CASE(
    "trackers: a manifest goes to every tracker, refusals typed, heads and followers merged") {
    asio::io_context io;
    test::TestTracker one(io);
    test::TestTracker two(io);
    const std::vector<HostPort> both{one.address, two.address};
    const ChannelKey key = test::channel_key(5);
    const ChannelId channel = test::channel_of(key);
    Trackers publisher(io.get_executor(), random_user_id(), 4321, kQuiet);
    Trackers subscriber(io.get_executor(), random_user_id(), 0, kQuiet);

    test::run_within(io, 20s, [&]() -> awaitable<void> {
        CHECK((co_await publisher.connect(both)).empty());
        CHECK((co_await subscriber.connect(both)).empty());
        CHECK((co_await subscriber.get_manifests(channel, both)).empty());

        publisher.follow(channel, 2, both);
        auto puts = co_await publisher.put_manifest(test::signed_manifest(key, 2), both);
        REQUIRE(puts.size() == 2);
        for (const auto& p : puts)
            CHECK_MESSAGE(p.kept, p.error);
        // Older than what both keep: refused by each, typed.
        puts = co_await publisher.put_manifest(test::signed_manifest(key, 1), both);
        REQUIRE(puts.size() == 2);
        for (const auto& p : puts) {
            CHECK_FALSE(p.kept);
            CHECK(p.refusal == TrackerError::Kind::kManifestStale);
        }
        // Not a manifest at all.
        // (Named arguments: GCC 12 mishandles temporaries written inside co_await.)
        const std::string forged = "forged\n";
        const std::vector<HostPort> only_one{one.address};
        puts = co_await publisher.put_manifest(forged, only_one);
        REQUIRE(puts.size() == 1);
        CHECK(puts[0].refusal == TrackerError::Kind::kManifestRefused);
        // A tracker never connected is reported, not waited for.
        const std::vector<HostPort> nowhere{HostPort{"127.0.0.1", 1}};
        puts = co_await publisher.put_manifest(test::signed_manifest(key, 3), nowhere);
        REQUIRE(puts.size() == 1);
        CHECK_FALSE(puts[0].kept);
        CHECK(puts[0].refusal == TrackerError::Kind::kUnreachable);

        const auto heads = co_await subscriber.get_manifests(channel, both);
        CHECK(heads == std::vector<std::string>{test::signed_manifest(key, 2),
                                                test::signed_manifest(key, 2)});
        // The publisher follows at both trackers: one entry, merged.
        const auto peers = co_await subscriber.channel_peers(channel, both, 50);
        REQUIRE(peers.size() == 1);
        CHECK(peers[0].port == 4321);
        CHECK(peers[0].version == 2);
        publisher.abandon();
        subscriber.abandon();
    });
}

// Downloads side by side (peer get SEED..., a sync's parallel builds) each
// connect the trackers: a second connect() to a tracker being connected
// waits for the first's outcome instead of connecting (and starting a
// second registration loop) itself. A tracker that accepts and never
// answers: one connection for two callers, and both hear the failure.
TEST_CASE("trackers: two callers connecting one tracker at once share one attempt") {
    asio::io_context io;
    asio::ip::tcp::acceptor mute(io, {asio::ip::make_address("127.0.0.1"), 0});
    std::size_t accepted = 0;
    std::vector<asio::ip::tcp::socket> held;
    TrackersOptions options;
    options.connect_timeout = 300ms;
    options.request_timeout = 300ms;
    Trackers trackers(io.get_executor(), random_user_id(), 0, kQuiet, options);
    const std::vector<HostPort> where{HostPort{"127.0.0.1", mute.local_endpoint().port()}};

    test::run_within(io, 20s, [&]() -> awaitable<void> {
        auto accept_all = [&]() -> awaitable<void> {
            for (;;) {
                auto socket = co_await mute.async_accept(asio::use_awaitable);
                ++accepted;
                held.push_back(std::move(socket));
            }
        };
        net::spawn(io.get_executor(), accept_all(), kQuiet, "mute tracker");
        std::vector<std::vector<std::string>> results(2);
        auto caller = [&](std::size_t i) -> awaitable<void> {
            results[i] = co_await trackers.connect(where);
        };
        std::vector<awaitable<void>> both;
        both.push_back(caller(0));
        both.push_back(caller(1));
        co_await net::join_all(std::move(both));
        CHECK(accepted == 1);
        CHECK(results[0].size() == 1);
        CHECK(results[1].size() == 1);
        trackers.abandon();
        asio::error_code ec;
        mute.close(ec);
    });
}

}  // namespace trackers_test
