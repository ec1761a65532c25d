// Test support for the tracker server tests: a server with its store on an
// ephemeral port, and a raw protocol client that can misbehave.
#pragma once

#include <doctest/doctest.h>

#include "common/model/seed.hpp"
#include "common/net/net.hpp"
#include "common/wire/tracker_protocol.hpp"
#include "test/support/async.hpp"
#include "test/support/hostile.hpp"
#include "test/support/manifests.hpp"
#include "tracker/server/server.hpp"
#include "tracker/sqlite/store.hpp"

using namespace seedshare;
using namespace seedshare::tracker;
using namespace std::chrono_literals;
namespace proto = seedshare::tracker_proto;
using net::awaitable;

namespace tracker_harness {

inline UserId uid(std::uint8_t n) {
    UserId u;
    u.bytes[0] = n;
    u.bytes[15] = 0x5a;
    return u;
}

inline Seed make_seed(const std::string& name, std::uint32_t chunks) {
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

inline Bytes header(std::uint32_t length, std::uint8_t type) {
    Bytes b;
    ByteWriter w(b);
    w.u32(length);
    w.u8(type);
    return b;
}

inline bool has(const std::string& s, std::string_view needle) {
    return s.find(needle) != std::string::npos;
}

}  // namespace tracker_harness

using namespace tracker_harness;
