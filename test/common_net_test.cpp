// The asio pieces of common/net both programs share: the waiter queue, the
// timer on an injected clock, the wakeup, join_all, the dual-stack listener and write_then_close
// (on 127.0.0.1).
#include <doctest/doctest.h>

#include <asio/experimental/awaitable_operators.hpp>

#include <optional>
#include <stdexcept>

#include "common/env/clock.hpp"
#include "common/net/clock_timer.hpp"
#include "common/net/join_all.hpp"
#include "common/net/listener.hpp"
#include "common/net/net.hpp"
#include "common/net/waiter_queue.hpp"
#include "common/net/wakeup.hpp"
#include "test/support/async.hpp"

namespace common_net_test {

using namespace seedshare;
using namespace std::chrono_literals;
using asio::ip::tcp;

TEST_CASE("waiter queue: granted in order, with what each needs, the rest time out") {
    asio::io_context io;
    net::WaiterQueue<int> q;
    std::vector<int> granted;
    int timed_out = 0;
    auto waiter = [&](int need, std::chrono::milliseconds timeout) -> asio::awaitable<void> {
        const bool ok = co_await q.wait(timeout, need);
        if (ok)
            granted.push_back(need);
        else
            ++timed_out;
    };
    test::run_task(io, [&]() -> asio::awaitable<void> {
        auto a = waiter(1, 10s);
        auto b = waiter(2, 10s);
        auto c = waiter(3, 50ms);
        auto ex = co_await asio::this_coro::executor;
        asio::co_spawn(ex, std::move(a), asio::detached);
        asio::co_spawn(ex, std::move(b), asio::detached);
        asio::co_spawn(ex, std::move(c), asio::detached);
        co_await test::pause(10ms);
        CHECK(q.size() == 3);
        CHECK(q.front() == 1);
        CHECK(q.grant_front());
        CHECK(q.front() == 2);
        CHECK(q.grant_front());
        co_await test::pause(200ms);  // the third times out and leaves
        CHECK(q.empty());
        CHECK_FALSE(q.grant_front());
    }());
    CHECK(granted == std::vector<int>{1, 2});
    CHECK(timed_out == 1);
}

TEST_CASE("waiter queue: wake_all wakes without granting, a destroyed waiter leaves") {
    net::WaiterQueue<> q;
    int woken = 0;
    {
        asio::io_context io;
        test::run_task(io, [&]() -> asio::awaitable<void> {
            auto w = [&]() -> asio::awaitable<void> {
                const bool ok = co_await q.wait(10s);
                if (!ok) ++woken;
            };
            auto ex = co_await asio::this_coro::executor;
            asio::co_spawn(ex, w(), asio::detached);
            asio::co_spawn(ex, w(), asio::detached);
            co_await test::pause(10ms);
            CHECK(q.size() == 2);
            q.wake_all();
            co_await test::pause(10ms);
        }());
        CHECK(woken == 2);
        CHECK(q.empty());
        // One more that never resumes: destroyed with its io_context.
        asio::co_spawn(io, q.wait(10s), asio::detached);
        test::settle(io, 10ms);
        CHECK(q.size() == 1);
    }
    CHECK(q.empty());
}

// The sleeps here are an hour: had one not ended at the notify, the task
// would outlast run_task's limit and the case fail.
TEST_CASE("wakeup: a notify while the sleeper is busy elsewhere ends its next sleep at once") {
    asio::io_context io;
    net::Wakeup wake(io.get_executor());
    test::run_task(io, [&]() -> asio::awaitable<void> {
        wake.notify();  // nobody sleeps yet: kept
        CHECK(co_await wake.sleep(1h));
        CHECK_FALSE(co_await wake.sleep(1ms));  // spent by the sleep it ended
        wake.notify();
        wake.notify();  // two before a sleep end one sleep
        CHECK(co_await wake.sleep(1h));
        CHECK_FALSE(co_await wake.sleep(1ms));
    }());
}

TEST_CASE("wakeup: a notify ends the sleep under way") {
    asio::io_context io;
    net::Wakeup wake(io.get_executor());
    std::optional<bool> woken;
    test::run_task(io, [&]() -> asio::awaitable<void> {
        auto sleeper = [&]() -> asio::awaitable<void> { woken = co_await wake.sleep(1h); };
        asio::co_spawn(co_await asio::this_coro::executor, sleeper(), asio::detached);
        co_await test::pause(20ms);
        CHECK_FALSE(woken.has_value());  // still asleep
        wake.notify();
        for (int i = 0; i < 100 && !woken; ++i)
            co_await test::pause(10ms);
        REQUIRE(woken.has_value());
        CHECK(*woken);
        CHECK_FALSE(co_await wake.sleep(1ms));  // nothing left over
    }());
}

namespace {

// Lets every handler ready on `io` run (a moved FakeClock's wake is posted).
asio::awaitable<void> settle() {
    for (int i = 0; i < 8; ++i)
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
}

}  // namespace

// A wait on a FakeClock of an hour ends when the test moves the clock an
// hour, with no time passing: had it waited for the OS's hour, the task
// would outlast run_task's limit.
TEST_CASE("clock timer: on a fake clock a wait ends when time is moved past it, not before") {
    FakeClock clock;  // outlives the io_context and what it holds
    asio::io_context io;
    net::ClockTimer timer(io.get_executor(), clock);
    std::optional<bool> ended;
    test::run_task(io, [&]() -> asio::awaitable<void> {
        auto waiter = [&]() -> asio::awaitable<void> {
            ended = co_await net::sleep_for(timer, 1h);
        };
        asio::co_spawn(co_await asio::this_coro::executor, waiter(), asio::detached);
        co_await settle();
        CHECK_FALSE(ended.has_value());
        clock.advance(59min);
        co_await settle();
        CHECK_FALSE(ended.has_value());  // moved, not far enough
        clock.advance(1min);
        co_await settle();
        REQUIRE(ended.has_value());
        CHECK(*ended);
        CHECK(co_await net::sleep_for(timer, 0s));  // due at once
    }());
}

TEST_CASE("clock timer: cancel, a new expiry and the timer's end stop a wait under way") {
    FakeClock clock;  // outlives the io_context and what it holds
    asio::io_context io;
    auto timer = std::make_unique<net::ClockTimer>(io.get_executor(), clock);
    asio::steady_timer other(io);
    test::run_task(io, [&]() -> asio::awaitable<void> {
        const auto ex = co_await asio::this_coro::executor;
        for (int how = 0; how < 3; ++how) {
            std::optional<bool> ended;
            auto waiter = [&]() -> asio::awaitable<void> {
                ended = co_await net::sleep_for(*timer, 1h);
            };
            asio::co_spawn(ex, waiter(), asio::detached);
            co_await settle();
            REQUIRE_FALSE(ended.has_value());  // still waiting
            if (how == 0) timer->cancel();
            if (how == 1) timer->expires_after(2h);
            if (how == 2) timer.reset();
            co_await settle();
            REQUIRE(ended.has_value());
            CHECK_FALSE(*ended);
        }
        // Its end left nothing watching the clock.
        CHECK(clock.watchers() == 0);

        // Cancelled as one side of an awaitable operator: the other side won.
        using namespace asio::experimental::awaitable_operators;
        net::ClockTimer t(ex, clock);
        t.expires_after(1h);
        other.expires_after(1ms);
        const auto first = co_await (t.wait() || other.async_wait(asio::use_awaitable));
        CHECK(first.index() == 1);
        // The next wait is not affected: it waits, and ends when time is up.
        std::optional<bool> ended;
        t.expires_after(1h);
        auto waiter = [&]() -> asio::awaitable<void> { ended = co_await t.wait(); };
        asio::co_spawn(ex, waiter(), asio::detached);
        co_await settle();
        REQUIRE_FALSE(ended.has_value());
        clock.advance(1h);
        co_await settle();
        REQUIRE(ended.has_value());
        CHECK(*ended);
    }());
}

TEST_CASE("clock timer: on the real clock it waits as a steady_timer does") {
    asio::io_context io;
    net::ClockTimer timer(io.get_executor(), Clock::real());
    test::run_task(io, [&]() -> asio::awaitable<void> {
        const auto start = std::chrono::steady_clock::now();
        CHECK(co_await net::sleep_for(timer, 20ms));
        CHECK(std::chrono::steady_clock::now() - start >= 20ms);
    }());
}

TEST_CASE("wakeup: on a fake clock its sleep ends when time is moved past it") {
    FakeClock clock;  // outlives the io_context and what it holds
    asio::io_context io;
    net::Wakeup wake(io.get_executor(), clock);
    std::optional<bool> woken;
    test::run_task(io, [&]() -> asio::awaitable<void> {
        auto sleeper = [&]() -> asio::awaitable<void> { woken = co_await wake.sleep(1h); };
        asio::co_spawn(co_await asio::this_coro::executor, sleeper(), asio::detached);
        co_await settle();
        CHECK_FALSE(woken.has_value());
        clock.advance(1h);
        co_await settle();
        REQUIRE(woken.has_value());
        CHECK_FALSE(*woken);  // the time was up: not notified
    }());
}

TEST_CASE("join_all: waits for every task, side by side, and reports what each threw") {
    asio::io_context io;
    std::vector<std::exception_ptr> errors;
    int finished = 0;
    const auto start = std::chrono::steady_clock::now();
    test::run_task(io, [&]() -> asio::awaitable<void> {
        auto sleeper = [&](std::chrono::milliseconds d, bool fail) -> asio::awaitable<void> {
            co_await test::pause(d);
            ++finished;
            if (fail) throw std::runtime_error("failed");
        };
        std::vector<asio::awaitable<void>> tasks;
        tasks.push_back(sleeper(100ms, false));
        tasks.push_back(sleeper(100ms, true));
        tasks.push_back(sleeper(100ms, false));
        errors = co_await net::join_all(std::move(tasks));
        CHECK(finished == 3);
        // Nothing to wait for: returns at once.
        std::vector<asio::awaitable<void>> nothing;
        const auto none = co_await net::join_all(std::move(nothing));
        CHECK(none.empty());
    }());
    // Side by side: about 100 ms, not 300 (generous bound for a busy machine).
    CHECK(std::chrono::steady_clock::now() - start < 290ms);
    REQUIRE(errors.size() == 3);
    CHECK_FALSE(errors[0]);
    CHECK(errors[1]);
    CHECK_FALSE(errors[2]);
}

TEST_CASE("listener: an address as asked, dual stack on ::, typed error when taken") {
    asio::io_context io;
    tcp::acceptor a(io);
    const auto l = net::listen(a, asio::ip::make_address("127.0.0.1"), 0);
    CHECK(l.stack == net::Stack::kAsAsked);
    CHECK(l.local.port() != 0);
    CHECK(net::listen_text(l) == "127.0.0.1:" + std::to_string(l.local.port()));

    tcp::acceptor taken(io);
    try {
        net::listen(taken, asio::ip::make_address("127.0.0.1"), l.local.port());
        FAIL("the port in use was bound twice");
    } catch (const net::ListenError& e) {
        CHECK(e.wanted == l.local);
        CHECK(e.code() == asio::error::address_in_use);
    }
    CHECK_FALSE(taken.is_open());

    tcp::acceptor any(io);
    const auto d = net::listen(any, asio::ip::address_v6::any(), 0);
    if (d.stack == net::Stack::kDual) {
        CHECK(net::listen_text(d) == "[::]:" + std::to_string(d.local.port()) + " (IPv4 and IPv6)");
    } else {
        REQUIRE(d.stack == net::Stack::kIPv4Fallback);  // a host without IPv6
        CHECK(d.ipv6_error);
        CHECK(net::listen_text(d) == "0.0.0.0:" + std::to_string(d.local.port()) + " (IPv4 only)");
    }
    // Either way IPv4 clients get in.
    tcp::socket client(io);
    client.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), d.local.port()));
    CHECK(client.is_open());
}

TEST_CASE("write_then_close: the remote reads the frame, then end of stream") {
    asio::io_context io;
    const Bytes frame{1, 2, 3, 4, 5};
    for (const bool bare : {true, false}) {
        CAPTURE(bare);
        test::run_task(io, [&]() -> asio::awaitable<void> {
            auto ex = co_await asio::this_coro::executor;
            tcp::acceptor acceptor(ex, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
            tcp::socket remote(ex);
            co_await remote.async_connect(acceptor.local_endpoint(), asio::use_awaitable);
            tcp::socket ours = co_await acceptor.async_accept(asio::use_awaitable);
            if (bare) {
                co_await net::write_then_close(std::move(ours), frame);
            } else {
                auto stream = std::make_shared<net::FrameStream>(
                    std::move(ours), limits::kMaxPeerFrameBytes, net::FrameStream::Timeouts{});
                const bool written = co_await net::write_then_close(*stream, frame, 2s);
                CHECK(written);
                CHECK_FALSE(stream->is_open());
            }
            Bytes got(frame.size());
            co_await asio::async_read(remote, asio::buffer(got), asio::use_awaitable);
            CHECK(got == frame);
            std::uint8_t more = 0;
            asio::error_code ec;
            co_await remote.async_read_some(asio::buffer(&more, 1),
                                            asio::redirect_error(asio::use_awaitable, ec));
            CHECK(ec == asio::error::eof);
        }());
    }
}

}  // namespace common_net_test
