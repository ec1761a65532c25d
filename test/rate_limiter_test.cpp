// The per-process rate limit holds from the first byte, and over time.
#include <doctest/doctest.h>

#include "common/net/rate_limiter.hpp"

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
