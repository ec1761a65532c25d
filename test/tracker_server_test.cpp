// The tracker server in-process on 127.0.0.1, driven by raw protocol clients
// in the same io_context: the whole request flow, and every kind of
// misbehaviour ending only the connection that misbehaved.
#include <doctest/doctest.h>

#include "common/model/seed.hpp"
#include "common/net/net.hpp"
#include "common/wire/tracker_protocol.hpp"
#include "test/support/async.hpp"
#include "test/support/hostile.hpp"
#include "tracker/server/server.hpp"
#include "tracker/sqlite/store.hpp"

using namespace seedshare;
using namespace seedshare::tracker;
using namespace std::chrono_literals;
namespace proto = seedshare::tracker_proto;
using net::awaitable;

namespace {

UserId uid(std::uint8_t n) {
    UserId u;
    u.bytes[0] = n;
    u.bytes[15] = 0x5a;
    return u;
}

Seed make_seed(const std::string& name, std::uint32_t chunks) {
    Seed s;
    s.name = name;
    s.chunk_size = 1024;
    s.length = std::uint64_t{chunks} * 1024;
    s.trackers = {HostPort{"127.0.0.1", 7000}};
    s.chunk_hashes.resize(chunks);
    for (std::uint32_t i = 0; i < chunks; ++i)
        s.chunk_hashes[i].bytes[0] = static_cast<std::uint8_t>(i);
    return s;
}

struct Harness {
    explicit Harness(TrackerServer::Options opt = {},
                     Logger log = Logger("tracker", LogLevel::kOff)) {
        auto s = Store::open(":memory:", system_now_ms, opt.ttl);
        REQUIRE(s);
        store = std::move(*s);
        server = std::make_unique<TrackerServer>(io.get_executor(), *store, opt, std::move(log));
        server->start();
    }
    ~Harness() {
        server->stop();
        test::settle(io, 20ms);
    }
    std::uint16_t port() const { return server->port(); }

    asio::io_context io;
    std::unique_ptr<Store> store;
    std::unique_ptr<TrackerServer> server;
};

// A protocol client without any smarts, to say exactly what a test wants.
class Raw {
  public:
    static awaitable<Raw> connect(std::uint16_t port) {
        // Named arguments: GCC 12 has had bugs destroying temporaries of a
        // co_await expression twice.
        const HostPort where{"127.0.0.1", port};
        auto socket = co_await net::connect(where, 5s);
        auto fs =
            std::make_shared<net::FrameStream>(std::move(socket), limits::kMaxTrackerFrameBytes,
                                               net::FrameStream::Timeouts{5s, 5s, 5s});
        const auto ex = co_await asio::this_coro::executor;
        net::spawn(ex, fs->watchdog(), Logger("raw", LogLevel::kOff), "watchdog");
        co_return Raw(fs);
    }
    Raw(Raw&&) = default;
    ~Raw() {
        if (fs_) fs_->close();
    }

    awaitable<void> send(const Bytes& frame) { co_await fs_->write(frame); }
    awaitable<void> send(const proto::Request& r) { co_await fs_->write(proto::encode(r)); }
    awaitable<proto::Response> recv() {
        const auto h = co_await fs_->read_header();
        const auto payload = co_await fs_->read_payload(h);
        auto r = proto::decode_response(h.type, payload);
        REQUIRE_MESSAGE(r.ok(), (r ? "" : r.error().message));
        co_return std::move(*r);
    }
    awaitable<proto::Response> ask(const proto::Request& r) {
        co_await send(r);
        co_return co_await recv();
    }
    // Waits for an error reply and then the end of the connection.
    awaitable<proto::ErrorReply> refused() {
        auto r = co_await recv();
        REQUIRE(std::holds_alternative<proto::ErrorReply>(r));
        CHECK(co_await closed());
        co_return std::get<proto::ErrorReply>(r);
    }
    // True when the tracker closes the connection (EOF) within the timeout.
    awaitable<bool> closed(std::chrono::milliseconds within = 5000ms) {
        auto t = fs_->timeouts();
        t.idle = within;
        fs_->set_timeouts(t);
        try {
            co_await fs_->read_header();
        } catch (const asio::system_error& e) {
            co_return e.code() == asio::error::eof || e.code() == asio::error::connection_reset;
        } catch (const std::exception&) {
        }
        co_return false;
    }
    // Reads and drops whatever arrives until the tracker closes the
    // connection: true if it does within `within`.
    awaitable<bool> drained_to_close(std::chrono::milliseconds within) {
        auto t = fs_->timeouts();
        t.idle = within;
        t.frame = within;
        fs_->set_timeouts(t);
        const auto deadline = std::chrono::steady_clock::now() + within;
        try {
            for (int i = 0; i < 100000 && std::chrono::steady_clock::now() < deadline; ++i) {
                const auto h = co_await fs_->read_header();
                co_await fs_->skip(h.payload_size());
            }
        } catch (const asio::system_error& e) {
            co_return e.code() == asio::error::eof || e.code() == asio::error::connection_reset;
        } catch (const std::exception&) {
        }
        co_return false;
    }
    awaitable<proto::Joined> join(const UserId& u, std::uint16_t port, Token presented = {}) {
        auto r = co_await ask(proto::Join{proto::kVersion, u, presented, port});
        if (auto* e = std::get_if<proto::ErrorReply>(&r)) FAIL("join refused: " << e->message);
        co_return std::get<proto::Joined>(r);
    }

  private:
    explicit Raw(std::shared_ptr<net::FrameStream> fs) : fs_(std::move(fs)) {}
    std::shared_ptr<net::FrameStream> fs_;
};

template <class T>
T expect(const proto::Response& r) {
    if (const auto* e = std::get_if<proto::ErrorReply>(&r)) FAIL("error reply: " << e->message);
    REQUIRE(std::holds_alternative<T>(r));
    return std::get<T>(r);
}

Bytes header(std::uint32_t length, std::uint8_t type) {
    Bytes b;
    ByteWriter w(b);
    w.u32(length);
    w.u8(type);
    return b;
}

bool has(const std::string& s, std::string_view needle) {
    return s.find(needle) != std::string::npos;
}

}  // namespace

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
    "tracker server: hostile clients are logged and dropped alone while a good peer keeps full "
    "speed, and memory stays bounded") {
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

            // 200 requests, one at a time, as a good peer asks.
            auto round = [&]() -> awaitable<std::chrono::duration<double>> {
                const auto t0 = std::chrono::steady_clock::now();
                for (int i = 0; i < 100; ++i) {
                    const proto::Request q = proto::GetPeers{j.token, big.id(), 50};
                    expect<proto::Peers>(co_await good.ask(q));
                    const proto::Request hb = proto::Heartbeat{j.token};
                    expect<proto::OkReply>(co_await good.ask(hb));
                }
                co_return std::chrono::steady_clock::now() - t0;
            };
            co_await round();
            const auto baseline = co_await round();
            const auto bound = 3 * baseline + std::chrono::duration<double>(0.5);
            test::reset_peak_rss();
            const std::size_t rss_before = test::rss_kib();

            int left = 0;
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

            int rounds = 0;
            for (; rounds < 2 || (left > 0 && rounds < 50); ++rounds) {
                const auto took = co_await round();
                CHECK_MESSAGE(took <= bound, "200 requests under attack took "
                                                 << took.count() << " s (unattacked "
                                                 << baseline.count() << " s)");
            }
            auto done = [&] { return left == 0; };
            CHECK(co_await test::wait_for(done, 20000ms));
            MESSAGE(rounds << " rounds of 200 requests under attack; unattacked "
                           << baseline.count() << " s each");
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
