// A downloading swarm dials for sources, not for a count (DialPlan): a
// getter whose first peers hold nothing goes on to dial one that does.
#include <doctest/doctest.h>

#include "peer/swarm/swarm_options.hpp"
#include "peer/transfer/download.hpp"
#include "test/support/cluster.hpp"
#include "test/support/discovery_support.hpp"
#include "test/support/temp_dir.hpp"

namespace dial_plan_swarm_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace seedshare::test::discovery;
using namespace std::chrono_literals;

TEST_CASE(
    "discovery: a getter of a small file whose first peers have nothing goes on to dial the "
    "holder") {
    // A 16-chunk file: the getter wants 8 sources (dial_target). It knows
    // 8 getters that hold nothing and get nothing (no tracker; the one peer
    // they know is dead, so they wait), and the one holder, whose address
    // (127.0.0.2) sorts after theirs, so it is dialled last. The 8 count as
    // sources only for their grace (DialPlan: a getter just starting); then
    // the getter must dial on and reach the holder. (With a fixed cap of 8
    // connections it never did.) The getter dials with the default
    // timeouts, longer than the grace: a dial that hung would count.
    TempDir src, out;
    std::vector<std::unique_ptr<TempDir>> stuck_out;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);
    const Seed seed = make_seeded_file(src, "data.bin", 1 << 20, dead);  // 64 KiB chunks
    REQUIRE(seed.chunk_count() == 16);
    REQUIRE(dial_target(SwarmOptions{}.max_connections, seed.chunk_count()) == 8);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Server holder(io, pool, 0, "127.0.0.2");
        holder.share(seed, src / "data.bin");
        std::vector<std::unique_ptr<Get>> stuck;
        std::vector<PeerAddress> known;
        for (int i = 0; i < 8; ++i) {
            stuck_out.push_back(std::make_unique<TempDir>());
            stuck.push_back(std::make_unique<Get>(
                io, pool, seed, stuck_out.back()->path(), std::vector<HostPort>{dead},
                std::vector<PeerAddress>{
                    PeerAddress{asio::ip::make_address("127.0.0.1"), dead.port}}));
            stuck.back()->start(io);
            known.push_back(at(stuck.back()->peer));
        }
        known.push_back(at(holder.peer, "127.0.0.2"));
        SwarmOptions o = fast_swarm();
        o.connect_timeout = SwarmOptions{}.connect_timeout;
        o.handshake_timeout = SwarmOptions{}.handshake_timeout;
        REQUIRE(o.connect_timeout > o.source_grace);
        Get g(io, pool, seed, out.path(), {dead}, known, o);
        g.start(io);
        // The 8 first: they are connected while the holder is not yet.
        CHECK(co_await eventually(
            [&] { return g.download->swarm() && g.download->swarm()->connection_count() >= 8; },
            10s));
        CHECK(co_await g.ended_within(40s));
        CHECK(g.outcome == Download::Outcome::kComplete);
        CHECK(read_file(out / "data.bin") == read_file(src / "data.bin"));
        bool from_holder = false;
        for (const auto& p : g.download->swarm()->peer_stats())
            from_holder =
                from_holder || (p.name == at(holder.peer, "127.0.0.2").str() && p.downloaded > 0);
        CHECK(from_holder);
        co_await g.peer.stop();
        // The 8 may never have finished (the holder is not theirs to dial):
        // each download ends before its Get goes, or its run() would write
        // into a Get freed at the end of this block.
        for (auto& s : stuck) {
            s->download->stop();
            CHECK(co_await s->ended_within(10s));
            co_await s->peer.stop();
        }
        co_await holder.peer.stop();
    });
}

}  // namespace dial_plan_swarm_test
