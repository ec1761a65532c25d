// The tracker server in-process on 127.0.0.1, driven by raw protocol clients
// in the same io_context: the whole request flow, and misbehaviour ending
// only the connection that misbehaved (the hostile clients are in
// tracker_server_hostile_test.cpp).
#include "test/tracker_server_harness.hpp"

namespace tracker_server_test {

TEST_CASE("tracker server: join, file list, seed upload, peers, listing, leave") {
    Harness h;
    test::run_task(h.io, [&]() -> awaitable<void> {
        auto a = co_await Raw::connect(h.port());
        auto b = co_await Raw::connect(h.port());
        const auto ja = co_await a.join(uid(1), 4001);
        const auto jb = co_await b.join(uid(2), 4002);
        CHECK(ja.observed == asio::ip::make_address("127.0.0.1"));
        CHECK(ja.ttl_ms == 90000);
        CHECK(ja.heartbeat_ms == 30000);
        CHECK(ja.token != jb.token);

        const Seed seed = make_seed("big.iso", 3);
        proto::FileList list;
        list.token = ja.token;
        list.replace_all = true;
        list.add = {{seed.id(), seed.name, seed.length, true}};
        auto ok = expect<proto::FileListOk>(co_await a.ask(list));
        CHECK(ok.need_seed == std::vector<SeedId>{seed.id()});
        const proto::Request put{proto::PutSeed{ja.token, format_seed(seed)}};
        expect<proto::OkReply>(co_await a.ask(put));

        list.token = jb.token;
        list.add[0].complete = false;
        ok = expect<proto::FileListOk>(co_await b.ask(list));
        CHECK(ok.need_seed.empty());

        const auto peers =
            expect<proto::Peers>(co_await b.ask(proto::GetPeers{jb.token, seed.id(), 50}));
        REQUIRE(peers.peers.size() == 1);  // never the asker
        CHECK(peers.peers[0].user == uid(1));
        CHECK(peers.peers[0].port == 4001);
        CHECK(peers.peers[0].address == asio::ip::make_address("127.0.0.1"));
        CHECK(peers.peers[0].complete);

        const auto files =
            expect<proto::Files>(co_await b.ask(proto::ListFiles{jb.token, true, {}, 10}));
        REQUIRE(files.files.size() == 1);
        CHECK(files.files[0].name == "big.iso");
        CHECK(files.files[0].holders == 2);
        CHECK(files.files[0].complete_holders == 1);
        CHECK_FALSE(files.more);

        const auto text =
            expect<proto::SeedText>(co_await b.ask(proto::GetSeed{jb.token, seed.id()}));
        CHECK(text.text == format_seed(seed));
        auto none = co_await b.ask(proto::GetSeed{jb.token, SeedId{}});
        REQUIRE(std::holds_alternative<proto::ErrorReply>(none));
        CHECK(std::get<proto::ErrorReply>(none).code == proto::ErrorCode::kUnknownSeed);
        expect<proto::OkReply>(co_await b.ask(proto::Heartbeat{jb.token}));  // still connected

        expect<proto::OkReply>(co_await a.ask(proto::Leave{ja.token}));
        CHECK(co_await a.closed());
        const auto after =
            expect<proto::Peers>(co_await b.ask(proto::GetPeers{jb.token, seed.id(), 50}));
        CHECK(after.peers.empty());
    }());
}

TEST_CASE("tracker server: a big seed is parsed off the I/O thread and served back") {
    Harness h;
    test::run_task(h.io, [&]() -> awaitable<void> {
        auto a = co_await Raw::connect(h.port());
        const auto j = co_await a.join(uid(1), 4001);
        const Seed seed = make_seed("large.bin", 5000);  // ~330 KB of text
        const std::string text = format_seed(seed);
        REQUIRE(text.size() > 256 * 1024);
        proto::FileList list;
        list.token = j.token;
        list.replace_all = true;
        list.add = {{seed.id(), seed.name, seed.length, true}};
        expect<proto::FileListOk>(co_await a.ask(list));
        const proto::Request put{proto::PutSeed{j.token, text}};
        expect<proto::OkReply>(co_await a.ask(put));
        // A corrupted big seed is refused but keeps the connection.
        std::string bad = text;
        bad[bad.size() - 2] = 'X';
        const proto::Request put_bad{proto::PutSeed{j.token, bad}};
        auto r = co_await a.ask(put_bad);
        REQUIRE(std::holds_alternative<proto::ErrorReply>(r));
        CHECK(std::get<proto::ErrorReply>(r).code == proto::ErrorCode::kSeedMismatch);
        const auto back =
            expect<proto::SeedText>(co_await a.ask(proto::GetSeed{j.token, seed.id()}));
        CHECK(back.text == text);
    }());
}

TEST_CASE("tracker server: malformed frames end only their connection") {
    Harness h;
    test::run_task(h.io, [&]() -> awaitable<void> {
        auto good = co_await Raw::connect(h.port());
        const auto j = co_await good.join(uid(1), 4001);

        struct Case {
            Bytes bytes;
            std::string_view needle;
        };
        Bytes heartbeat_short = header(1 + 5, 0x02);
        heartbeat_short.insert(heartbeat_short.end(), 5, 0);
        Bytes join_bad_magic = header(1 + 40, 0x01);
        join_bad_magic.insert(join_bad_magic.end(), 40, 0x11);
        const std::vector<Case> cases{
            {header(0xffffffff, 0x02), "over the limit"},  // length prefix far too big
            {header(0, 0x02), "frame length 0"},
            {header(1 + 100000, 0x02), "Heartbeat of 100000 bytes is over its limit of 16"},
            {header(1, 0x42), "unknown request type 0x42"},
            {header(1, 0x81), "unknown request type Joined"},
            {heartbeat_short, "Heartbeat: truncated"},
            {join_bad_magic, "magic"},
        };
        for (const auto& c : cases) {
            auto bad = co_await Raw::connect(h.port());
            co_await bad.send(c.bytes);
            const auto e = co_await bad.refused();
            CAPTURE(e.message);
            CHECK(e.code == proto::ErrorCode::kMalformed);
            CHECK(has(e.message, c.needle));
        }
        // Everyone else is still served.
        expect<proto::OkReply>(co_await good.ask(proto::Heartbeat{j.token}));
        CHECK(h.server->connections() == 1);
    }());
}

TEST_CASE("tracker server: join rules (first message, version, token, userid)") {
    Harness h;
    test::run_task(h.io, [&]() -> awaitable<void> {
        auto owner = co_await Raw::connect(h.port());
        const auto j = co_await owner.join(uid(1), 4001);
        {
            auto c = co_await Raw::connect(h.port());
            co_await c.send(proto::Heartbeat{j.token});  // even with a valid token
            CHECK((co_await c.refused()).code == proto::ErrorCode::kJoinFirst);
        }
        {
            auto c = co_await Raw::connect(h.port());
            co_await c.send(proto::Join{2, uid(3), {}, 1});
            const auto e = co_await c.refused();
            CHECK(e.code == proto::ErrorCode::kVersionMismatch);
            CHECK(has(e.message, "version 2"));
            CHECK(has(e.message, "version 1"));
        }
        {
            auto c = co_await Raw::connect(h.port());
            const auto jc = co_await c.join(uid(2), 4002);
            Token wrong = jc.token;
            wrong.bytes[0] ^= 1;
            co_await c.send(proto::Heartbeat{wrong});
            CHECK((co_await c.refused()).code == proto::ErrorCode::kBadToken);
            // Someone else's token is just as bad.
            auto d = co_await Raw::connect(h.port());
            const auto jd = co_await d.join(uid(4), 4004);
            (void)jd;
            co_await d.send(proto::GetPeers{j.token, SeedId{}, 5});
            CHECK((co_await d.refused()).code == proto::ErrorCode::kBadToken);
        }
        {
            auto c = co_await Raw::connect(h.port());
            co_await c.join(uid(5), 4005);
            co_await c.send(proto::Join{proto::kVersion, uid(5), {}, 1});
            CHECK((co_await c.refused()).code == proto::ErrorCode::kMalformed);
        }
        // Claiming a live userid without its token changes nothing.
        Token guess = j.token;
        guess.bytes[7] ^= 0x80;
        for (const Token& t : {Token{}, guess}) {
            auto thief = co_await Raw::connect(h.port());
            co_await thief.send(proto::Join{proto::kVersion, uid(1), t, 6666});
            CHECK((co_await thief.refused()).code == proto::ErrorCode::kUserIdInUse);
        }
        CHECK(h.store->token_of(uid(1)) == j.token);
        proto::FileList list;
        list.token = j.token;
        list.replace_all = true;
        list.add = {{make_seed("f", 1).id(), "f", 1024, true}};
        expect<proto::FileListOk>(co_await owner.ask(list));
        auto other = co_await Raw::connect(h.port());
        const auto jo = co_await other.join(uid(9), 4009);
        const auto p =
            expect<proto::Peers>(co_await other.ask(proto::GetPeers{jo.token, list.add[0].id, 10}));
        REQUIRE(p.peers.size() == 1);
        CHECK(p.peers[0].port == 4001);  // not the thief's 6666
        expect<proto::OkReply>(co_await owner.ask(proto::Heartbeat{j.token}));
    }());
}

TEST_CASE("tracker server: a rejoin with the token keeps it and replaces the old connection") {
    Harness h;
    test::run_task(h.io, [&]() -> awaitable<void> {
        auto first = co_await Raw::connect(h.port());
        const auto j1 = co_await first.join(uid(1), 4001);
        auto second = co_await Raw::connect(h.port());
        const auto j2 = co_await second.join(uid(1), 4001, j1.token);
        CHECK(j2.token == j1.token);
        CHECK(co_await first.closed());
        expect<proto::OkReply>(co_await second.ask(proto::Heartbeat{j2.token}));
    }());
}

TEST_CASE("tracker server: silent and slow connections time out") {
    TrackerServer::Options opt;
    opt.join_timeout = 300ms;
    opt.frame_timeout = 300ms;
    opt.ttl = 1000ms;
    opt.idle_margin = 200ms;
    Harness h(opt);
    test::run_task(h.io, [&]() -> awaitable<void> {
        auto good = co_await Raw::connect(h.port());
        const auto j = co_await good.join(uid(1), 4001);
        const auto t0 = std::chrono::steady_clock::now();
        auto silent = co_await Raw::connect(h.port());  // never joins
        CHECK(co_await silent.closed(3000ms));
        CHECK(std::chrono::steady_clock::now() - t0 >= 250ms);
        expect<proto::OkReply>(co_await good.ask(proto::Heartbeat{j.token}));

        auto slow = co_await Raw::connect(h.port());
        Bytes partial = header(1 + 16, 0x02);
        partial.insert(partial.end(), 3, 0);  // 3 of 16 payload bytes, then nothing
        co_await slow.send(partial);
        CHECK(co_await slow.closed(3000ms));
        expect<proto::OkReply>(co_await good.ask(proto::Heartbeat{j.token}));

        // A joined connection may idle for ttl + margin (1.2 s), not forever.
        auto idle = co_await Raw::connect(h.port());
        co_await idle.join(uid(2), 4002);
        const auto t1 = std::chrono::steady_clock::now();
        for (int i = 0; i < 10; ++i) {  // `good` keeps talking meanwhile
            co_await test::pause(150ms);
            expect<proto::OkReply>(co_await good.ask(proto::Heartbeat{j.token}));
        }
        CHECK(co_await idle.closed(3000ms));
        CHECK(std::chrono::steady_clock::now() - t1 >= 1100ms);
        expect<proto::OkReply>(co_await good.ask(proto::Heartbeat{j.token}));
    }());
}

TEST_CASE("tracker server: a frame begun is due within the frame timeout, not another idle one") {
    TrackerServer::Options opt;
    opt.frame_timeout = 300ms;
    opt.ttl = std::chrono::minutes(10);  // an idle joined peer may wait that long
    Harness h(opt);
    test::run_task(h.io, [&]() -> awaitable<void> {
        auto good = co_await Raw::connect(h.port());
        const auto j = co_await good.join(uid(1), 4001);
        auto stalled = co_await Raw::connect(h.port());
        co_await stalled.join(uid(2), 4002);
        const Bytes partial(2, 0);  // 2 bytes of a header, then nothing
        co_await stalled.send(partial);
        CHECK(co_await stalled.closed(5000ms));
        expect<proto::OkReply>(co_await good.ask(proto::Heartbeat{j.token}));
    }());
}

TEST_CASE("tracker server: connection and request rate limits") {
    TrackerServer::Options opt;
    opt.max_connections = 2;
    opt.requests_per_second = 50;
    opt.request_burst = 5;
    Harness h(opt);
    test::run_task(h.io, [&]() -> awaitable<void> {
        auto a = co_await Raw::connect(h.port());
        const auto j = co_await a.join(uid(1), 4001);
        auto b = co_await Raw::connect(h.port());
        co_await b.join(uid(2), 4002);
        {
            auto c = co_await Raw::connect(h.port());
            const auto e = co_await c.refused();
            CHECK(e.code == proto::ErrorCode::kLimit);
            CHECK(has(e.message, "at most 2 connections"));
        }
        // Over the rate, requests are delayed, not refused: 30 requests with
        // a burst of 4 left take at least (30 - 4) / 50 s.
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < 30; ++i)
            expect<proto::OkReply>(co_await a.ask(proto::Heartbeat{j.token}));
        CHECK(std::chrono::steady_clock::now() - t0 >= 450ms);
    }());
}

TEST_CASE("tracker server: start fails on a port in use, and stop closes every connection") {
    Harness h;
    TrackerServer::Options opt;
    opt.port = h.port();
    TrackerServer clash(h.io.get_executor(), *h.store, opt, Logger("clash", LogLevel::kOff));
    try {
        clash.start();
        FAIL("start should have thrown");
    } catch (const std::runtime_error& e) {
        CHECK(has(e.what(), "cannot listen on 127.0.0.1:" + std::to_string(h.port())));
    }
    TrackerServer::Options bad;
    bad.host = "not-an-ip";
    TrackerServer wrong(h.io.get_executor(), *h.store, bad, Logger("bad", LogLevel::kOff));
    CHECK_THROWS_WITH(wrong.start(), "'not-an-ip' is not an IP address");

    test::run_task(h.io, [&]() -> awaitable<void> {
        auto a = co_await Raw::connect(h.port());
        co_await a.join(uid(1), 4001);
        h.server->stop();
        CHECK(co_await a.closed());
        CHECK_FALSE(h.store->has_pending());  // stop() committed the batch
    }());
}

TEST_CASE("tracker server: the dual-stack default listens on IPv4 too") {
    TrackerServer::Options opt;
    opt.host = "::";
    Harness h(opt);
    CHECK((has(h.server->listen_text(), "(IPv4 and IPv6)") ||
           has(h.server->listen_text(), "(IPv4 only)")));
    test::run_task(h.io, [&]() -> awaitable<void> {
        auto a = co_await Raw::connect(h.port());  // 127.0.0.1
        const auto j = co_await a.join(uid(1), 4001);
        CHECK(j.observed == asio::ip::make_address("127.0.0.1"));  // not ::ffff:127.0.0.1
    }());
}

TEST_CASE(
    "tracker server: follows, channel peers, and manifests refused with the connection kept") {
    Harness h;
    test::run_task(h.io, [&]() -> awaitable<void> {
        auto a = co_await Raw::connect(h.port());
        auto b = co_await Raw::connect(h.port());
        const auto ja = co_await a.join(uid(1), 4001);
        const auto jb = co_await b.join(uid(2), 0);
        ChannelId channel;
        channel.bytes[0] = 0xc4;
        proto::FollowChannels follow;
        follow.token = ja.token;
        follow.replace_all = true;
        follow.add = {{channel, 0}};
        expect<proto::OkReply>(co_await a.ask(follow));

        // b (port 0) follows too, and is never handed out; a is, with its version.
        follow.token = jb.token;
        expect<proto::OkReply>(co_await b.ask(follow));
        const auto peers = expect<proto::ChannelPeers>(
            co_await b.ask(proto::GetChannelPeers{jb.token, channel, 50}));
        CHECK(peers.channel == channel);
        REQUIRE(peers.peers.size() == 1);
        CHECK(peers.peers[0].user == uid(1));
        CHECK(peers.peers[0].port == 4001);
        CHECK(peers.peers[0].version == 0);
        CHECK(expect<proto::ChannelPeers>(
                  co_await a.ask(proto::GetChannelPeers{ja.token, channel, 50}))
                  .peers.empty());

        // Text that is no manifest, small or big (checked off the I/O thread):
        // refused, nothing kept, the connection goes on.
        for (const std::size_t size : {std::size_t{12}, std::size_t{300} << 10}) {
            const proto::Request put{proto::PutManifest{ja.token, std::string(size, 'x')}};
            auto r = co_await a.ask(put);
            REQUIRE(std::holds_alternative<proto::ErrorReply>(r));
            CHECK(std::get<proto::ErrorReply>(r).code == proto::ErrorCode::kManifestRefused);
        }
        auto none = co_await a.ask(proto::GetManifest{ja.token, channel});
        REQUIRE(std::holds_alternative<proto::ErrorReply>(none));
        CHECK(std::get<proto::ErrorReply>(none).code == proto::ErrorCode::kUnknownChannel);
        const auto listed =
            expect<proto::Channels>(co_await a.ask(proto::ListChannels{ja.token, true, {}, 10}));
        CHECK(listed.channels.empty());
        CHECK_FALSE(listed.more);
        expect<proto::OkReply>(co_await a.ask(proto::Heartbeat{ja.token}));

        // A PutManifest announcing more than the largest manifest is refused
        // from its header, before a byte of it is read; only that connection ends.
        auto big = co_await Raw::connect(h.port());
        const auto jbig = co_await big.join(uid(3), 4003);
        (void)jbig;
        const Bytes over =
            header(static_cast<std::uint32_t>(1 + 16 + 4 + limits::kMaxManifestBytes + 1), 0x09);
        co_await big.send(over);
        const auto e = co_await big.refused();
        CHECK(e.code == proto::ErrorCode::kMalformed);
        CHECK(has(e.message, "PutManifest of"));
        CHECK(has(e.message, "is over its limit"));
        expect<proto::OkReply>(co_await a.ask(proto::Heartbeat{ja.token}));
        expect<proto::OkReply>(co_await b.ask(proto::Heartbeat{jb.token}));
        CHECK(h.server->connections() == 2);
    }());
}

TEST_CASE("tracker server: forged, older and conflicting manifests are refused and logged") {
    test::TempDir dir;
    test::LogCapture log(dir / "tracker.log");
    Harness h({}, log.logger("tracker"));
    const ChannelKey key = test::channel_key(1);
    const ChannelId channel = test::channel_of(key);
    test::run_task(h.io, [&]() -> awaitable<void> {
        auto a = co_await Raw::connect(h.port());
        const auto j = co_await a.join(uid(1), 4001);
        const auto head = [&]() -> awaitable<std::string> {
            const proto::Request q = proto::GetManifest{j.token, channel};
            co_return expect<proto::ManifestText>(co_await a.ask(q)).text;
        };
        const auto put = [&](std::string text) -> awaitable<proto::Response> {
            const proto::Request q = proto::PutManifest{j.token, std::move(text)};
            co_return co_await a.ask(q);
        };
        const auto refused = [&](const proto::Response& r) {
            REQUIRE(std::holds_alternative<proto::ErrorReply>(r));
            return std::get<proto::ErrorReply>(r);
        };
        proto::FollowChannels follow;
        follow.token = j.token;
        follow.add = {{channel, 0}};
        expect<proto::OkReply>(co_await a.ask(follow));

        expect<proto::OkReply>(co_await put(test::signed_manifest(key, 2)));
        // A big one (over 64 KiB) is checked off the I/O thread.
        const std::string v3 = test::signed_manifest(key, 3, "site", 1500);
        REQUIRE(v3.size() > 64 * 1024);
        expect<proto::OkReply>(co_await put(v3));
        CHECK(co_await head() == v3);

        // Forged: a signature that is not the key's, or a body changed after signing.
        std::string forged = test::signed_manifest(key, 4);
        const auto sig = forged.rfind("signature ") + 10;
        forged[sig] = forged[sig] == '0' ? '1' : '0';
        auto e = refused(co_await put(forged));
        CHECK(e.code == proto::ErrorCode::kManifestRefused);
        std::string edited = test::signed_manifest(key, 4);
        edited.replace(edited.find("name site"), 9, "name evil");
        CHECK(refused(co_await put(edited)).code == proto::ErrorCode::kManifestRefused);
        // Signed by another key for this channel's id: refused too.
        Manifest other = test::make_manifest(test::channel_key(2), 4);
        other.channel = channel;
        CHECK(refused(co_await put(format_manifest(other))).code ==
              proto::ErrorCode::kManifestRefused);
        // Older.
        e = refused(co_await put(test::signed_manifest(key, 2)));
        CHECK(e.code == proto::ErrorCode::kManifestStale);
        CHECK(has(e.message, "version 2"));
        CHECK(has(e.message, "tracker's 3"));
        CHECK(co_await head() == v3);

        // Two bodies of version 5: the lower body hash wins, in either order.
        const Manifest x = test::make_manifest(key, 5, "site", 1, 1);
        const Manifest y = test::make_manifest(key, 5, "site", 1, 2);
        const bool x_wins = conflict_winner(version_of(x), version_of(y)) == version_of(x);
        const Manifest& winner = x_wins ? x : y;
        const Manifest& loser = x_wins ? y : x;
        expect<proto::OkReply>(co_await put(format_manifest(winner)));
        e = refused(co_await put(format_manifest(loser)));
        CHECK(e.code == proto::ErrorCode::kManifestConflict);
        CHECK(co_await head() == format_manifest(winner));

        // Each refusal kept the connection and changed nothing; each is logged
        // with the peer's address.
        expect<proto::OkReply>(co_await a.ask(proto::Heartbeat{j.token}));
        CHECK(h.store->token_of(uid(1)) == j.token);
        CHECK(log.count("manifest refused") == 5);
        CHECK(log.has_line({"manifest refused", "127.0.0.1:", "older than the tracker's 3"}));
        CHECK(log.has_line({"manifest refused", "127.0.0.1:", "tie-break"}));

        // A peer that does not follow the channel cannot set its head.
        auto b = co_await Raw::connect(h.port());
        const auto jb = co_await b.join(uid(2), 4002);
        const proto::Request q = proto::PutManifest{jb.token, test::signed_manifest(key, 9)};
        CHECK(refused(co_await b.ask(q)).code == proto::ErrorCode::kManifestRefused);
        CHECK(co_await head() == format_manifest(winner));

        const auto listed =
            expect<proto::Channels>(co_await b.ask(proto::ListChannels{jb.token, true, {}, 10}));
        REQUIRE(listed.channels.size() == 1);
        CHECK(listed.channels[0] == proto::ChannelInfo{channel, "site", 5, 1, 1000, 1});
    }());
}

}  // namespace tracker_server_test
