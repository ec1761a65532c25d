// Hostile clients of the tracker server: each is logged and dropped alone
// while a good peer keeps being answered, and memory stays bounded.
#include "test/tracker_server_harness.hpp"

namespace tracker_server_hostile_test {

namespace {

// One hostile client of the tracker: what it does on a new connection, and
// which words the tracker must log for it.
struct TrackerAttack {
    std::string name;
    std::function<awaitable<void>(Raw&)> script;
    std::string reason;
};

// The local address the tracker sees for `raw`'s connection is not exposed by
// Raw; attacks are told apart by their reasons instead, each unique.
std::vector<TrackerAttack> tracker_attacks(const SeedId& big_id) {
    std::vector<TrackerAttack> a;
    a.push_back({"a 4 GiB length prefix",
                 [](Raw& r) -> awaitable<void> {
                     const Bytes b = header(0xffffffffu, 0x02);
                     co_await r.send(b);
                     const auto e = co_await r.refused();
                     CHECK(e.code == proto::ErrorCode::kMalformed);
                 },
                 "frame of 4294967295 bytes is over the limit"});
    a.push_back({"a truncated frame, then silence",
                 [](Raw& r) -> awaitable<void> {
                     Bytes b = header(1 + 40, 0x01);
                     b.insert(b.end(), 9, 0x53);
                     co_await r.send(b);
                     CHECK(co_await r.closed(3000ms));
                 },
                 "timed out waiting to read (no Join)"});
    a.push_back({"an unknown message type",
                 [](Raw& r) -> awaitable<void> {
                     const Bytes b = header(1, 0x42);
                     co_await r.send(b);
                     CHECK((co_await r.refused()).code == proto::ErrorCode::kMalformed);
                 },
                 "unknown request type 0x42"});
    a.push_back({"data that was never asked for (a response type)",
                 [](Raw& r) -> awaitable<void> {
                     const Bytes b = header(1, 0x84);
                     co_await r.send(b);
                     CHECK((co_await r.refused()).code == proto::ErrorCode::kMalformed);
                 },
                 "unknown request type Peers"});
    a.push_back({"a request before Join",
                 [](Raw& r) -> awaitable<void> {
                     const proto::Request q = proto::GetPeers{Token{}, SeedId{}, 5};
                     co_await r.send(q);
                     CHECK((co_await r.refused()).code == proto::ErrorCode::kJoinFirst);
                 },
                 "JoinFirst"});
    a.push_back({"a Join of protocol version 2",
                 [](Raw& r) -> awaitable<void> {
                     const proto::Request q = proto::Join{2, uid(77), Token{}, 1};
                     co_await r.send(q);
                     CHECK((co_await r.refused()).code == proto::ErrorCode::kVersionMismatch);
                 },
                 "the peer speaks tracker protocol version 2"});
    a.push_back({"numwant past its range",
                 [](Raw& r) -> awaitable<void> {
                     const auto j = co_await r.join(uid(78), 0);
                     const proto::Request q = proto::GetPeers{j.token, SeedId{}, 5000};
                     co_await r.send(q);
                     CHECK((co_await r.refused()).code == proto::ErrorCode::kMalformed);
                 },
                 "numwant"});
    a.push_back({"a listing page past its range",
                 [](Raw& r) -> awaitable<void> {
                     const auto j = co_await r.join(uid(79), 0);
                     const proto::Request q = proto::ListFiles{j.token, true, SeedId{}, 60000};
                     co_await r.send(q);
                     CHECK((co_await r.refused()).code == proto::ErrorCode::kMalformed);
                 },
                 "limit"});
    a.push_back({"someone else's userid without its token",
                 [](Raw& r) -> awaitable<void> {
                     const proto::Request q = proto::Join{proto::kVersion, uid(1), Token{}, 6666};
                     co_await r.send(q);
                     CHECK((co_await r.refused()).code == proto::ErrorCode::kUserIdInUse);
                 },
                 "UserIdInUse"});
    a.push_back(
        {"a thousand requests without reading the answers",
         [big_id](Raw& r) -> awaitable<void> {
             const auto j = co_await r.join(uid(80), 0);
             // Each answer is a ~330 KB seed text: they cannot all wait in
             // socket buffers, so the tracker's write blocks and times out.
             Bytes many;
             for (int i = 0; i < 1000; ++i) {
                 const Bytes f = proto::encode(proto::Request{proto::GetSeed{j.token, big_id}});
                 many.insert(many.end(), f.begin(), f.end());
             }
             co_await r.send(many);
             // Read nothing for longer than the write timeout, then
             // drain: the tracker must have closed the connection.
             co_await test::pause(1500ms);
             CHECK(co_await r.drained_to_close(10000ms));
         },
         "timed out waiting to write"});
    return a;
}

// Runs one attack on a new connection and checks the tracker logged it.
awaitable<void> run_tracker_attack(TrackerAttack attack, std::uint16_t port,
                                   const test::LogCapture& log) {
    auto r = co_await Raw::connect(port);
    co_await attack.script(r);
    const std::string reason = attack.reason;
    auto logged = [&] { return log.has_line({"closing", reason}); };
    const bool found = co_await test::wait_for(logged, 3000ms);
    CHECK_MESSAGE(found, attack.name << ": no log line with 'closing' and '" << reason << "'");
}

// Hundreds of connections that never join: each is closed in time.
awaitable<void> idle_tracker_connections(std::uint16_t port, int count) {
    std::vector<Raw> conns;
    for (int i = 0; i < count; ++i)
        conns.push_back(co_await Raw::connect(port));
    int closed = 0;
    for (auto& c : conns)
        closed += (co_await c.closed(3000ms)) ? 1 : 0;
    CHECK(closed == count);
}

}  // namespace

TEST_CASE(
    "tracker server: hostile clients are logged and dropped alone while a good peer keeps being "
    "answered, and memory stays bounded") {
    test::raise_descriptor_limit();
    test::TempDir dir;
    test::LogCapture log(dir / "tracker.log");
    TrackerServer::Options opt;
    opt.join_timeout = 500ms;
    opt.frame_timeout = 500ms;
    opt.write_timeout = 1000ms;
    // The good peer is not paced by the rate limit (tested on its own above).
    opt.requests_per_second = 1e6;
    opt.request_burst = 1e6;
    Harness h(opt, log.logger("tracker"));
    test::run_task(
        h.io,
        [&]() -> awaitable<void> {
            // The owner of userid 1 holds a big seed.
            auto good = co_await Raw::connect(h.port());
            const auto j = co_await good.join(uid(1), 4001);
            const Seed big = make_seed("large.bin", 5000);
            const std::string big_text = format_seed(big);
            proto::FileList list;
            list.token = j.token;
            list.replace_all = true;
            list.add = {{big.id(), big.name, big.length, true}};
            expect<proto::FileListOk>(co_await good.ask(list));
            const proto::Request put{proto::PutSeed{j.token, big_text}};
            expect<proto::OkReply>(co_await good.ask(put));

            // 200 requests, one at a time, as a good peer asks. Answers that
            // came while attacks were still running are counted.
            int left = 0;
            int answered_under_attack = 0;
            auto round = [&]() -> awaitable<std::chrono::duration<double>> {
                const auto t0 = std::chrono::steady_clock::now();
                for (int i = 0; i < 100; ++i) {
                    const proto::Request q = proto::GetPeers{j.token, big.id(), 50};
                    expect<proto::Peers>(co_await good.ask(q));
                    const proto::Request hb = proto::Heartbeat{j.token};
                    expect<proto::OkReply>(co_await good.ask(hb));
                    if (left > 0) answered_under_attack += 2;
                }
                co_return std::chrono::steady_clock::now() - t0;
            };
            co_await round();
            const auto baseline = co_await round();
            test::reset_peak_rss();
            const std::size_t rss_before = test::rss_kib();

            auto count_down = [&](std::exception_ptr e) {
                --left;
                if (e) FAIL_CHECK("an attack threw");
            };
            for (auto& attack : tracker_attacks(big.id())) {
                ++left;
                asio::co_spawn(h.io, run_tracker_attack(attack, h.port(), log), count_down);
            }
            ++left;
            asio::co_spawn(h.io, idle_tracker_connections(h.port(), 300), count_down);

            // Every request of the good peer is answered, and answered while
            // the attacks run, not only after them. How fast is the
            // benchmarks' business (no wall-clock bound here); the times are
            // reported.
            int rounds = 0;
            std::chrono::duration<double> slowest{};
            for (; rounds < 2 || (left > 0 && rounds < 50); ++rounds)
                slowest = std::max(slowest, co_await round());
            CHECK(answered_under_attack > 0);
            auto done = [&] { return left == 0; };
            CHECK(co_await test::wait_for(done, 20000ms));
            MESSAGE(rounds << " rounds of 200 requests under attack, " << answered_under_attack
                           << " answered while it ran; slowest round " << slowest.count()
                           << " s, unattacked " << baseline.count() << " s");
            auto idle_logged = [&] { return log.count("(no Join)") >= 300; };
            CHECK(co_await test::wait_for(idle_logged, 3000ms));

            // Only the good connection is left, its entry unchanged.
            auto only_good = [&] { return h.server->connections() == 1; };
            CHECK(co_await test::wait_for(only_good, 5000ms));
            CHECK(h.store->token_of(uid(1)) == j.token);
            const proto::Request q = proto::GetPeers{j.token, big.id(), 50};
            CHECK(expect<proto::Peers>(co_await good.ask(q)).peers.empty());  // never the asker
            const std::size_t peak = test::peak_rss_kib();
            MESSAGE("RSS " << rss_before / 1024 << " MiB before the attacks, at most "
                           << peak / 1024 << " MiB during them");
            CHECK(peak <= rss_before + (test::kAddressSanitizer ? 512u << 10 : 64u << 10));
        }(),
        60s);
}

}  // namespace tracker_server_hostile_test
