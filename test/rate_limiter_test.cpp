// The per-process rate limit holds from the first byte, and over time.
#include <doctest/doctest.h>

#include "common/net/rate_limiter.hpp"

namespace rate_limiter_test {

using namespace seedshare;
using namespace std::chrono_literals;

namespace {

// Runs `bytes` through a limiter of `rate` in `pieces` acquires; returns the
// time it took.
std::chrono::duration<double> pass(std::uint64_t rate, std::size_t bytes, int pieces) {
    asio::io_context io;
    RateLimiter limiter(rate);
    const auto start = std::chrono::steady_clock::now();
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            for (int i = 0; i < pieces; ++i)
                co_await limiter.acquire(bytes / static_cast<std::size_t>(pieces));
        },
        asio::detached);
    io.run();
    return std::chrono::steady_clock::now() - start;
}

}  // namespace

TEST_CASE("rate limiter: the first bytes wait too (no free burst at the start)") {
    // 64 KiB at 128 KiB/s: half a second, even though it is the first acquire
    // and smaller than the bucket.
    CHECK(pass(128 << 10, 64 << 10, 1) >= 450ms);
}

TEST_CASE("rate limiter: many small acquires add up to the rate") {
    CHECK(pass(256 << 10, 128 << 10, 32) >= 450ms);
}

TEST_CASE("rate limiter: zero is unlimited") {
    RateLimiter none(0);
    CHECK_FALSE(none.limited());
    CHECK(pass(0, 64 << 20, 4) < 1000s);  // returns at all: no wait was due
}

TEST_CASE("rate limiter: cancelling the caller's timer ends its wait at once") {
    // 1 MiB at 64 KiB/s is a 16 s debt; a closing connection cancels its
    // timer and must not wait that long (nor keep its connection alive).
    asio::io_context io;
    RateLimiter limiter(64 << 10);
    asio::steady_timer timer(io);
    bool passed = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            co_await limiter.acquire(1 << 20, timer);
            passed = true;
        },
        asio::detached);
    io.poll();
    CHECK_FALSE(passed);  // waiting on the debt
    timer.cancel();
    io.restart();
    io.poll();  // ready handlers only: no time passes for the debt
    CHECK(passed);
}

}  // namespace rate_limiter_test
