// FrameStream's partial writes, on a TCP connection over 127.0.0.1 whose
// remote stops reading and starts again: what serving peers rely on to let go
// of upload memory while a remote does not read.
#include <doctest/doctest.h>

#include <numeric>

#include "common/net/net.hpp"
#include "test/support/async.hpp"

namespace net_test {

using namespace seedshare;
using namespace std::chrono_literals;
using asio::ip::tcp;

namespace {

struct Pair {
    std::shared_ptr<net::FrameStream> writer;  // our side
    tcp::socket remote;                        // the peer, reading only when told
};

asio::awaitable<Pair> connect_pair(net::FrameStream::Timeouts timeouts, bool watchdog = true) {
    auto ex = co_await asio::this_coro::executor;
    tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket remote(ex);
    co_await remote.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
    tcp::socket ours = co_await acceptor.async_accept(asio::use_awaitable);
    auto stream =
        std::make_shared<net::FrameStream>(std::move(ours), limits::kMaxPeerFrameBytes, timeouts);
    if (watchdog) asio::co_spawn(ex, stream->watchdog(), asio::detached);
    co_return Pair{stream, std::move(remote)};
}

Bytes pattern(std::size_t n) {
    Bytes b(n);
    std::iota(b.begin(), b.end(), std::uint8_t{7});
    return b;
}

}  // namespace

TEST_CASE("net: write_within stops when the remote stops reading, and goes on once it reads") {
    asio::io_context io;
    test::run_task(
        io,
        [&]() -> asio::awaitable<void> {
            auto pair = co_await connect_pair({});
            const Bytes data = pattern(32u << 20);  // far more than the socket buffers hold
            const asio::const_buffer all = asio::buffer(data);
            const auto started = std::chrono::steady_clock::now();
            std::size_t sent = co_await pair.writer->write_within(std::span(&all, 1), 100ms);
            const auto waited = std::chrono::steady_clock::now() - started;
            MESSAGE("the socket took " << sent << " bytes before the remote's silence");
            CHECK(sent > 0);
            CHECK(sent < data.size());
            CHECK(waited >= 100ms);

            // The remote reads everything from now on.
            Bytes got;
            auto reader = [&]() -> asio::awaitable<void> {
                Bytes buf(1 << 20);
                while (got.size() < data.size()) {
                    const std::size_t n = co_await pair.remote.async_read_some(asio::buffer(buf),
                                                                               asio::use_awaitable);
                    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(n));
                }
            };
            bool read_all = false;
            asio::co_spawn(io, reader(), [&](std::exception_ptr e) { read_all = !e; });
            co_await pair.writer->wait_writable();
            for (int i = 0; i < 100 && sent < data.size(); ++i) {
                const asio::const_buffer rest =
                    asio::buffer(data.data() + sent, data.size() - sent);
                sent += co_await pair.writer->write_within(std::span(&rest, 1), 5000ms);
            }
            CHECK(sent == data.size());
            CHECK(pair.writer->bytes_written() == data.size());
            co_await test::eventually_async([&]() -> asio::awaitable<bool> { co_return read_all; },
                                            10s);
            CHECK(read_all);
            CHECK(got == data);
        }(),
        30s);
}

TEST_CASE("net: write_within with a header and a payload, and wait_writable's deadline") {
    asio::io_context io;
    test::run_task(
        io,
        [&]() -> asio::awaitable<void> {
            net::FrameStream::Timeouts t;
            t.write = 300ms;
            auto pair = co_await connect_pair(t);
            // Two buffers, both written whole when the remote reads as it goes.
            const Bytes head = pattern(13);
            const Bytes body = pattern(256 * 1024);
            Bytes got;
            auto reader = [&]() -> asio::awaitable<void> {
                Bytes buf(64 * 1024);
                while (got.size() < head.size() + body.size()) {
                    const std::size_t n = co_await pair.remote.async_read_some(asio::buffer(buf),
                                                                               asio::use_awaitable);
                    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(n));
                }
            };
            asio::co_spawn(io, reader(), asio::detached);
            const std::array<asio::const_buffer, 2> bufs{asio::buffer(head), asio::buffer(body)};
            const std::size_t sent = co_await pair.writer->write_within(bufs, 5000ms);
            CHECK(sent == head.size() + body.size());
            co_await test::eventually_async(
                [&]() -> asio::awaitable<bool> { co_return got.size() == sent; }, 10s);
            Bytes want = head;
            want.insert(want.end(), body.begin(), body.end());
            CHECK(got == want);

            // Now a remote that never reads: fill its buffers, then waiting
            // for room ends at the write deadline.
            const Bytes big = pattern(32u << 20);
            const asio::const_buffer all = asio::buffer(big);
            const std::size_t taken = co_await pair.writer->write_within(std::span(&all, 1), 100ms);
            CHECK(taken < big.size());
            bool timed_out = false;
            try {
                co_await pair.writer->wait_writable();
            } catch (const net::TimeoutError&) {
                timed_out = true;
            }
            CHECK(timed_out);
        }(),
        30s);
}

TEST_CASE("net: a stream that limits what the kernel holds unsent takes less, and delivers all") {
    asio::io_context io;
    test::run_task(
        io,
        [&]() -> asio::awaitable<void> {
            // Against a remote that does not read, the socket takes what fits
            // the remote's receive buffer and our send buffer: with the limit,
            // our part is at most the limit.
            const Bytes big = pattern(32u << 20);
            const asio::const_buffer all = asio::buffer(big);
            auto plain = co_await connect_pair({});
            const std::size_t plain_took =
                co_await plain.writer->write_within(std::span(&all, 1), 100ms);
            auto limited = co_await connect_pair({});
            REQUIRE(limited.writer->limit_unsent(16u << 10));
            CHECK(limited.writer->unsent_limit() == std::size_t{16u << 10});
            const std::size_t limited_took =
                co_await limited.writer->write_within(std::span(&all, 1), 100ms);
            MESSAGE("a remote that does not read: the socket took "
                    << plain_took << " bytes, " << limited_took << " with the limit");
            CHECK(limited_took < plain_took);

            // A remote that reads gets every byte, in order.
            auto pair = co_await connect_pair({});
            REQUIRE(pair.writer->limit_unsent(16u << 10));
            const Bytes data = pattern(4u << 20);
            Bytes got;
            auto reader = [&]() -> asio::awaitable<void> {
                Bytes buf(64 * 1024);
                while (got.size() < data.size()) {
                    const std::size_t n = co_await pair.remote.async_read_some(asio::buffer(buf),
                                                                               asio::use_awaitable);
                    got.insert(got.end(), buf.begin(), buf.begin() + static_cast<long>(n));
                }
            };
            asio::co_spawn(io, reader(), asio::detached);
            std::size_t sent = 0;
            for (int i = 0; i < 100 && sent < data.size(); ++i) {
                const asio::const_buffer rest =
                    asio::buffer(data.data() + sent, data.size() - sent);
                sent += co_await pair.writer->write_within(std::span(&rest, 1), 5000ms);
            }
            CHECK(sent == data.size());
            co_await test::eventually_async(
                [&]() -> asio::awaitable<bool> { co_return got.size() == data.size(); }, 10s);
            CHECK(got == data);
        }(),
        30s);
}

TEST_CASE("net: a bad first frame is typed NotSeedshare (with a guess), a later one is not") {
    asio::io_context io;
    test::run_task(io, [&]() -> asio::awaitable<void> {
        {
            auto pair = co_await connect_pair({});
            const std::string http = "HTTP/1.1 400 Bad Request\r\n\r\n";
            co_await asio::async_write(pair.remote, asio::buffer(http), asio::use_awaitable);
            try {
                co_await pair.writer->read_header();
                FAIL("an HTTP answer passed as a frame");
            } catch (const net::NotSeedshare& e) {
                CHECK(e.looks_like == ForeignProtocol::kHttp);
            }
            pair.writer->close();
        }
        {
            auto pair = co_await connect_pair({});
            // A good frame (type 1, no payload), then the same HTTP bytes.
            const std::string bytes = std::string("\x00\x00\x00\x01\x01", 5) + "HTTP/1.1 400";
            co_await asio::async_write(pair.remote, asio::buffer(bytes), asio::use_awaitable);
            const auto first = co_await pair.writer->read_header();
            CHECK(first.type == 1);
            bool typed = false;
            bool protocol = false;
            try {
                co_await pair.writer->read_header();
            } catch (const net::NotSeedshare&) {
                typed = true;
            } catch (const net::ProtocolError&) {
                protocol = true;
            }
            CHECK_FALSE(typed);
            CHECK(protocol);
            pair.writer->close();
        }
    }());
}

TEST_CASE("net: a stream waiting for a frame holds no read buffer, and takes one when bytes come") {
    asio::io_context io;
    test::run_task(io, [&]() -> asio::awaitable<void> {
        auto pair = co_await connect_pair({});
        auto stream = pair.writer;
        CHECK(stream->read_buffer_bytes() == 0);
        std::vector<std::pair<std::uint8_t, Bytes>> frames;
        bool failed = false;
        auto reader = [&]() -> asio::awaitable<void> {
            try {
                for (;;) {
                    const auto h = co_await stream->read_header();
                    frames.emplace_back(h.type, co_await stream->read_payload(h));
                }
            } catch (const std::exception&) {
                failed = true;
            }
        };
        asio::co_spawn(io, reader(), asio::detached);
        // The reader waits for its first frame, holding nothing.
        co_await test::eventually_async(
            [&]() -> asio::awaitable<bool> { co_return stream->read_buffer_bytes() == 0; }, 10s);
        CHECK(frames.empty());
        CHECK(stream->read_buffer_bytes() == 0);

        // Two frames at once (type 2 "abc", type 3 no payload): both read.
        const std::string two = std::string(
                                    "\x00\x00\x00\x04\x02"
                                    "abc",
                                    8) +
                                std::string("\x00\x00\x00\x01\x03", 5);
        co_await asio::async_write(pair.remote, asio::buffer(two), asio::use_awaitable);
        co_await test::eventually_async(
            [&]() -> asio::awaitable<bool> { co_return frames.size() == 2; }, 10s);
        REQUIRE(frames.size() == 2);
        CHECK(frames[0].first == 2);
        CHECK(frames[0].second == Bytes{'a', 'b', 'c'});
        CHECK(frames[1].first == 3);
        CHECK(frames[1].second.empty());
        // Waiting again for the next: the buffer is let go.
        co_await test::eventually_async(
            [&]() -> asio::awaitable<bool> { co_return stream->read_buffer_bytes() == 0; }, 10s);
        CHECK(stream->read_buffer_bytes() == 0);
        CHECK(stream->bytes_read() == two.size());

        // A frame split across two writes is put together.
        co_await asio::async_write(pair.remote, asio::buffer(std::string("\x00\x00", 2)),
                                   asio::use_awaitable);
        co_await test::eventually_async(
            [&]() -> asio::awaitable<bool> { co_return stream->bytes_read() == two.size() + 2; },
            10s);
        CHECK(stream->read_buffer_bytes() > 0);  // a partial header held
        co_await asio::async_write(pair.remote, asio::buffer(std::string("\x00\x02\x04z", 4)),
                                   asio::use_awaitable);
        co_await test::eventually_async(
            [&]() -> asio::awaitable<bool> { co_return frames.size() == 3; }, 10s);
        REQUIRE(frames.size() == 3);
        CHECK(frames[2].first == 4);
        CHECK(frames[2].second == Bytes{'z'});
        CHECK_FALSE(failed);
        stream->close();
    }());
}

TEST_CASE(
    "net: frames read after wait_for_bytes, and without a watchdog the owner's "
    "expire_overdue closes an overdue stream and its wait ends in TimeoutError") {
    asio::io_context io;
    test::run_task(io, [&]() -> asio::awaitable<void> {
        net::FrameStream::Timeouts t;
        t.idle = std::chrono::hours(1);
        auto pair = co_await connect_pair(t, /*watchdog=*/false);
        auto stream = pair.writer;

        // Bytes come: the wait ends without error and the frame is read.
        std::vector<std::pair<std::uint8_t, Bytes>> frames;
        std::string failure;
        bool done = false;
        auto reader = [&]() -> asio::awaitable<void> {
            try {
                for (;;) {
                    if (!stream->buffered()) {
                        const std::size_t n = co_await stream->wait_for_bytes();
                        stream->end_wait(n);
                    }
                    const auto h = co_await stream->read_header();
                    frames.emplace_back(h.type, co_await stream->read_payload(h));
                }
            } catch (const net::TimeoutError& e) {
                failure = e.what();
            } catch (const std::exception& e) {
                failure = std::string("not a timeout: ") + e.what();
            }
            done = true;
        };
        auto frames_read = [&](std::size_t n) -> asio::awaitable<bool> {
            co_return co_await test::eventually_async(
                [&]() -> asio::awaitable<bool> { co_return frames.size() >= n; }, 10s);
        };
        asio::co_spawn(io, reader(), asio::detached);
        // A frame smaller than the wait's 64 bytes; then, in one write, one
        // of 200 payload bytes (more than the wait reads) and one after it;
        // then a header in two pieces.
        const std::string small("\x00\x00\x00\x01\x05", 5);
        co_await asio::async_write(pair.remote, asio::buffer(small), asio::use_awaitable);
        CHECK(co_await frames_read(1));
        const Bytes big = pattern(200);
        std::string two("\x00\x00\x00\xc9\x06", 5);
        two.append(big.begin(), big.end());
        two.append("\x00\x00\x00\x03\x07xy", 7);
        co_await asio::async_write(pair.remote, asio::buffer(two), asio::use_awaitable);
        CHECK(co_await frames_read(3));
        co_await asio::async_write(pair.remote, asio::buffer(std::string("\x00\x00", 2)),
                                   asio::use_awaitable);
        CHECK(co_await test::eventually_async(
            [&]() -> asio::awaitable<bool> { co_return stream->bytes_read() == 5 + 212 + 2; },
            10s));
        co_await asio::async_write(pair.remote, asio::buffer(std::string("\x00\x02\x08z", 4)),
                                   asio::use_awaitable);
        CHECK(co_await frames_read(4));
        INFO("failure: ", failure);
        REQUIRE(frames.size() == 4);
        CHECK(frames[0] == std::pair<std::uint8_t, Bytes>{5, {}});
        CHECK(frames[1] == std::pair<std::uint8_t, Bytes>{6, big});
        CHECK(frames[2] == std::pair<std::uint8_t, Bytes>{7, {'x', 'y'}});
        CHECK(frames[3] == std::pair<std::uint8_t, Bytes>{8, {'z'}});
        // Waiting again, for an hour, holding no read buffer: not overdue
        // now, overdue in two.
        CHECK(co_await test::eventually_async(
            [&]() -> asio::awaitable<bool> { co_return stream->read_buffer_bytes() == 0; }, 10s));
        const auto now = net::Clock::now();
        CHECK_FALSE(stream->expire_overdue(now));
        CHECK(stream->is_open());
        CHECK_FALSE(done);
        CHECK(stream->expire_overdue(now + std::chrono::hours(2)));
        CHECK_FALSE(stream->is_open());
        CHECK_FALSE(stream->expire_overdue(now + std::chrono::hours(3)));  // once
        co_await test::eventually_async([&]() -> asio::awaitable<bool> { co_return done; }, 10s);
        CHECK(done);
        CHECK(failure == "timed out waiting to read");
    }());
}

TEST_CASE("net: once part of a header has come, the rest is due within the frame timeout") {
    asio::io_context io;
    test::run_task(io, [&]() -> asio::awaitable<void> {
        net::FrameStream::Timeouts t;
        t.idle = std::chrono::hours(1);
        t.frame = std::chrono::minutes(1);
        auto pair = co_await connect_pair(t, /*watchdog=*/false);
        auto stream = pair.writer;
        std::string failure;
        bool done = false;
        auto reader = [&]() -> asio::awaitable<void> {
            try {
                (void)co_await stream->read_header();
                failure = "a header read";
            } catch (const net::TimeoutError& e) {
                failure = e.what();
            } catch (const std::exception& e) {
                failure = std::string("not a timeout: ") + e.what();
            }
            done = true;
        };
        asio::co_spawn(io, reader(), asio::detached);
        const std::string two_bytes("\x00\x00", 2);
        co_await asio::async_write(pair.remote, asio::buffer(two_bytes), asio::use_awaitable);
        CHECK(co_await test::eventually_async(
            [&]() -> asio::awaitable<bool> { co_return stream->bytes_read() == 2; }, 10s));
        // Due a minute from those bytes, not an hour.
        const auto now = net::Clock::now();
        CHECK_FALSE(stream->expire_overdue(now));
        CHECK(stream->expire_overdue(now + std::chrono::minutes(2)));
        CHECK(co_await test::eventually_async([&]() -> asio::awaitable<bool> { co_return done; },
                                              10s));
        CHECK(failure == "timed out waiting to read");
    }());
}

}  // namespace net_test
