// TrackerClient when there is no tracker to talk to: nobody listening,
// something else answering, an older tracker; each failure typed and named.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <array>
#include <string>
#include <vector>

#include "common/net/net.hpp"
#include "peer/discovery/tracker_client.hpp"
#include "test/support/async.hpp"
#include "test/support/tracker_client_support.hpp"

namespace tracker_client_errors_test {

using namespace seedshare;
using namespace std::chrono_literals;
namespace proto = seedshare::tracker_proto;
using net::awaitable;
using test::client_options;
using test::kQuiet;

TEST_CASE("tracker client: connect failures name the tracker and the reason") {
    asio::io_context io;
    // A port nobody listens on.
    asio::ip::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
    const auto closed_port = probe.local_endpoint().port();
    probe.close();
    auto nobody_options = client_options(closed_port, 1);
    nobody_options.connect_timeout = 300ms;
    TrackerClient nobody(io.get_executor(), nobody_options, kQuiet);
    test::run_task(io, [&]() -> awaitable<void> {
        std::string what;
        try {
            co_await nobody.connect();
        } catch (const std::exception& e) {
            what = e.what();
        }
        CAPTURE(what);
        CHECK(what.find("tracker 127.0.0.1:" + std::to_string(closed_port)) != std::string::npos);
        CHECK(what.find("refused") != std::string::npos);
        CHECK_FALSE(nobody.joined());
        // Queries without a connection fail at once; they do not wait.
        bool threw = false;
        try {
            co_await nobody.get_peers(SeedId{}, 5);
        } catch (const std::exception& e) {
            threw = std::string(e.what()).find("not connected") != std::string::npos;
        }
        CHECK(threw);
    }());

    // A tracker speaking another protocol version.
    asio::ip::tcp::acceptor fake(io, {asio::ip::make_address("127.0.0.1"), 0});
    TrackerClient old(io.get_executor(), client_options(fake.local_endpoint().port(), 1), kQuiet);
    test::run_task(io, [&]() -> awaitable<void> {
        asio::co_spawn(
            io,
            [&]() -> awaitable<void> {
                auto socket = co_await fake.async_accept(asio::use_awaitable);
                net::FrameStream fs(std::move(socket), limits::kMaxTrackerFrameBytes, {});
                const auto h = co_await fs.read_header();
                const auto payload = co_await fs.read_payload(h);
                auto j = proto::decode_request(h.type, payload);
                REQUIRE(j);
                CHECK(std::get<proto::Join>(*j).version == proto::kVersion);
                proto::ErrorReply e;
                e.code = proto::ErrorCode::kVersionMismatch;
                e.message =
                    "protocol version mismatch: the peer speaks tracker protocol version 1, this "
                    "tracker speaks version 2";
                const Bytes frame = proto::encode(proto::Response{e});
                co_await fs.write(frame);
                fs.close();
            },
            asio::detached);
        std::string what;
        try {
            co_await old.connect();
        } catch (const std::exception& e) {
            what = e.what();
        }
        CHECK(what.find("tracker 127.0.0.1:") != std::string::npos);
        CHECK(what.find("version 1") != std::string::npos);
        CHECK(what.find("version 2") != std::string::npos);
        CHECK(what.find("VersionMismatch") != std::string::npos);
    }());
}

TEST_CASE("tracker client: a tracker that predates the roles flag is joined without it") {
    asio::io_context io;
    // An older tracker: it knows Join flags 0x01 and 0x02 only, so it refuses
    // a Join with 0x04 as Malformed and closes, and takes one without it.
    asio::ip::tcp::acceptor fake(io, {asio::ip::make_address("127.0.0.1"), 0});
    TrackerClient c(io.get_executor(), client_options(fake.local_endpoint().port(), 1), kQuiet);
    std::vector<proto::Join> joins;
    test::run_task(io, [&]() -> awaitable<void> {
        asio::co_spawn(
            io,
            [&]() -> awaitable<void> {
                for (int i = 0; i < 2; ++i) {
                    auto socket = co_await fake.async_accept(asio::use_awaitable);
                    net::FrameStream fs(std::move(socket), limits::kMaxTrackerFrameBytes, {});
                    const auto h = co_await fs.read_header();
                    const auto payload = co_await fs.read_payload(h);
                    auto j = proto::decode_request(h.type, payload);
                    REQUIRE(j);
                    const auto join = std::get<proto::Join>(*j);
                    joins.push_back(join);
                    if (join.reads_roles) {
                        proto::ErrorReply e;
                        e.code = proto::ErrorCode::kMalformed;
                        e.message = "Join: flags 0x05: expected a nonzero combination of 0x03";
                        const Bytes frame = proto::encode(proto::Response{e});
                        co_await fs.write(frame);
                        fs.close();
                        continue;
                    }
                    proto::Joined ok;
                    ok.token.bytes[0] = 7;
                    ok.heartbeat_ms = 30000;
                    ok.ttl_ms = 90000;
                    ok.observed = asio::ip::make_address("127.0.0.1");
                    const Bytes frame = proto::encode(proto::Response{ok});
                    co_await fs.write(frame);
                    // Held open until the test ends.
                    asio::steady_timer hold(io, 2s);
                    asio::error_code ec;
                    co_await hold.async_wait(asio::redirect_error(asio::use_awaitable, ec));
                }
            },
            asio::detached);
        co_await c.connect();
        CHECK(c.joined());
        c.stop();
    }());
    REQUIRE(joins.size() == 2);
    CHECK(joins[0].reads_roles);
    CHECK(joins[0].wants_cluster);
    CHECK_FALSE(joins[1].reads_roles);
    CHECK(joins[1].wants_cluster);
}

namespace {

// A loopback server that answers every connection with `reply` and closes it:
// something other than a tracker at the tracker's address.
awaitable<void> answer_with(net::tcp::acceptor& acceptor, std::string reply) {
    for (;;) {
        auto socket = co_await acceptor.async_accept(asio::use_awaitable);
        std::array<char, 512> request{};
        co_await socket.async_read_some(asio::buffer(request), asio::use_awaitable);
        co_await asio::async_write(socket, asio::buffer(reply), asio::use_awaitable);
        socket.close();
    }
}

}  // namespace

TEST_CASE("tracker client: a server that is not a tracker is named as such (typed)") {
    struct Case {
        std::string reply;
        std::string reason;
    };
    const Case cases[] = {
        {"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "it answered like HTTP"},
        {"SSH-2.0-OpenSSH_9.2\r\n", "it answered like SSH"},
        // A well-formed frame of a type no tracker answers with.
        {std::string("\x00\x00\x00\x01\xee", 5), "its answer is no tracker message"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.reason);
        asio::io_context io;
        net::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
        const auto port = acceptor.local_endpoint().port();
        asio::co_spawn(io, answer_with(acceptor, c.reply), asio::detached);
        TrackerClient client(io.get_executor(), client_options(port, 0), kQuiet);
        test::run_task(io, [&]() -> awaitable<void> {
            try {
                co_await client.connect();
                FAIL("connect() succeeded");
            } catch (const TrackerError& e) {
                CHECK(e.kind == TrackerError::Kind::kNotATracker);
                CHECK(e.reason.starts_with(c.reason));
                CHECK(describe(e).starts_with(
                    fmt::format("127.0.0.1:{} is not a seedshare tracker ({}", port, c.reason)));
            }
            acceptor.close();
        }());
    }
}

TEST_CASE("tracker client: nobody listening is typed as unreachable") {
    asio::io_context io;
    std::uint16_t port = 0;
    {
        net::tcp::acceptor probe(io, {asio::ip::make_address("127.0.0.1"), 0});
        port = probe.local_endpoint().port();
    }
    TrackerClient client(io.get_executor(), client_options(port, 0), kQuiet);
    test::run_task(io, [&]() -> awaitable<void> {
        try {
            co_await client.connect();
            FAIL("connect() succeeded");
        } catch (const TrackerError& e) {
            CHECK(e.kind == TrackerError::Kind::kUnreachable);
            CHECK(describe(e).starts_with(fmt::format("cannot reach tracker 127.0.0.1:{}", port)));
        }
    }());
}

}  // namespace tracker_client_errors_test
