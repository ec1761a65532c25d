// A tracker server on the etcd registry, through its wire protocol: while its
// etcd is down it answers a Join with a typed error (Internal) in bounded
// time, not a hang, keeps answering reads from its local table, and serves
// joins again by itself once etcd is back.
#include <doctest/doctest.h>

#include "test/support/etcd.hpp"
#include "test/tracker_server_harness.hpp"
#include "tracker/etcd/registry.hpp"

namespace etcd_server_test {

using seedshare::tracker::etcd::EtcdClient;
using seedshare::tracker::etcd::EtcdRegistry;

namespace {

awaitable<bool> joined_again(std::uint16_t port) {
    auto c = co_await Raw::connect(port);
    const auto r = co_await c.ask(proto::Join{proto::kVersion, uid(3), Token{}, 4003});
    co_return std::holds_alternative<proto::Joined>(r);
}

}  // namespace

TEST_CASE("etcd tracker: etcd down, Join gets a typed error, back it serves again") {
    test::skip_without_etcd();
    test::EtcdSpec spec{"solo", test::free_port(), test::free_port()};
    auto member = std::make_unique<test::EtcdMember>(spec, std::vector<test::EtcdSpec>{spec});
    EtcdClient client(
        {{spec.client_url()}, std::chrono::milliseconds(500), 2, std::chrono::milliseconds(100)});
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
        try {
            client.get("x");
            up = true;
        } catch (const tracker::etcd::EtcdError&) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    REQUIRE(up);
    EtcdRegistry::Options ro;
    ro.cluster = "down";
    EtcdRegistry registry(client, ro, system_now_ms, std::chrono::seconds(30));
    asio::io_context io;
    TrackerServer::Options opt;
    opt.ttl = std::chrono::seconds(30);
    opt.registry_threads = 4;
    TrackerServer server(io.get_executor(), registry, opt, Logger("tracker", LogLevel::kOff));
    server.start();
    SeedId id;
    id.bytes[0] = 0x42;

    test::run_task(
        io,
        [&]() -> awaitable<void> {
            auto holder = co_await Raw::connect(server.port());
            const auto j1 = co_await holder.join(uid(1), 4001);
            proto::FileList list;
            list.token = j1.token;
            list.replace_all = true;
            list.add.push_back(proto::FileEntry{id, "a", 1000, true});
            expect<proto::FileListOk>(co_await holder.ask(list));

            REQUIRE(member->running());
            member->stop();
            // A new peer's Join: refused with Internal, well within the
            // client's deadlines (the test's time limit bounds it).
            auto late = co_await Raw::connect(server.port());
            const auto r = co_await late.ask(proto::Join{proto::kVersion, uid(2), Token{}, 4002});
            REQUIRE(std::holds_alternative<proto::ErrorReply>(r));
            CHECK(std::get<proto::ErrorReply>(r).code == proto::ErrorCode::kInternal);
            // The joined peer is still answered: heartbeats and GetPeers from memory.
            expect<proto::OkReply>(co_await holder.ask(proto::Heartbeat{j1.token}));

            member->restart();
            const bool back = co_await test::eventually_async(
                [&]() -> awaitable<bool> { co_return co_await joined_again(server.port()); },
                std::chrono::seconds(20), std::chrono::milliseconds(200));
            CHECK(back);
            // The holder joined before the outage is listed to the newcomer.
            auto c = co_await Raw::connect(server.port());
            const auto j4 = co_await c.join(uid(4), 4004);
            proto::GetPeers q;
            q.token = j4.token;
            q.id = id;
            q.numwant = 10;
            const auto peers = expect<proto::Peers>(co_await c.ask(q));
            REQUIRE(peers.peers.size() == 1);
            CHECK(peers.peers[0].user == uid(1));
        }(),
        std::chrono::seconds(60));
    server.stop();
    test::settle(io, std::chrono::milliseconds(50));
}

}  // namespace etcd_server_test
