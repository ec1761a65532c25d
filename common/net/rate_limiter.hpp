// A per-process byte rate limit (token bucket) shared by every connection of
// the process. acquire() takes the bytes at once and, when that leaves the
// bucket in debt, waits until the debt is paid at the configured rate: each
// caller waits for everyone who took bytes before it, so connections share
// the rate in turn. Used on the I/O thread only.
#pragma once

#include <asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

#include "common/core/token_bucket.hpp"

namespace seedshare {

class RateLimiter {
  public:
    using Clock = TokenBucket::Clock;

    // bytes_per_second 0: unlimited. The bucket holds at most `burst` bytes
    // (default: a tenth of a second at the rate, at least 256 KiB) and starts
    // empty, so the limit holds from the first byte.
    explicit RateLimiter(std::uint64_t bytes_per_second, std::uint64_t burst = 0) {
        if (bytes_per_second == 0) return;
        bucket_.emplace(
            static_cast<double>(bytes_per_second),
            static_cast<double>(
                burst != 0 ? burst : std::max<std::uint64_t>(bytes_per_second / 10, 256u << 10)),
            0.0);
    }

    bool limited() const { return bucket_.has_value(); }
    std::uint64_t rate() const { return bucket_ ? static_cast<std::uint64_t>(bucket_->rate()) : 0; }

    // Waits until `bytes` may pass, on `timer` (the caller's): cancelling it
    // ends the wait early, as a connection that closes does, so nothing waits
    // on a closed connection's behalf, and the part of the debt not yet paid
    // goes back to the bucket (those bytes never pass), so the others do not
    // wait for it either. A cancel before the wait starts is not seen: the
    // caller checks first.
    asio::awaitable<void> acquire(std::size_t bytes, asio::steady_timer& timer) {
        if (!bucket_) co_return;
        const auto wait = bucket_->take(static_cast<double>(bytes));
        if (wait == Clock::duration::zero()) co_return;
        const auto until = Clock::now() + wait;
        timer.expires_at(until);
        asio::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (const auto left = until - Clock::now(); ec && left > Clock::duration::zero())
            bucket_->refund(
                std::min(static_cast<double>(bytes),
                         bucket_->rate() * std::chrono::duration<double>(left).count()));
    }

    // The same, for a caller that never gives up waiting.
    asio::awaitable<void> acquire(std::size_t bytes) {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        co_await acquire(bytes, timer);
    }

  private:
    std::optional<TokenBucket> bucket_;  // none: unlimited
};

}  // namespace seedshare
