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

namespace seedshare {

class RateLimiter {
  public:
    using Clock = std::chrono::steady_clock;

    // bytes_per_second 0: unlimited. The bucket holds at most `burst` bytes
    // (default: a tenth of a second at the rate, at least 256 KiB) and starts
    // empty, so the limit holds from the first byte.
    explicit RateLimiter(std::uint64_t bytes_per_second, std::uint64_t burst = 0)
        : rate_(static_cast<double>(bytes_per_second)),
          burst_(static_cast<double>(
              burst != 0 ? burst : std::max<std::uint64_t>(bytes_per_second / 10, 256u << 10))),
          tokens_(0),
          last_(Clock::now()) {}

    bool limited() const { return rate_ > 0; }
    std::uint64_t rate() const { return static_cast<std::uint64_t>(rate_); }

    // Waits until `bytes` may pass.
    asio::awaitable<void> acquire(std::size_t bytes) {
        if (rate_ <= 0) co_return;
        refill();
        tokens_ -= static_cast<double>(bytes);
        if (tokens_ >= 0) co_return;
        const auto wait = std::chrono::duration<double>(-tokens_ / rate_);
        asio::steady_timer timer(co_await asio::this_coro::executor,
                                 std::chrono::duration_cast<Clock::duration>(wait));
        asio::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }

  private:
    void refill() {
        const auto now = Clock::now();
        tokens_ =
            std::min(burst_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
        last_ = now;
    }

    double rate_;
    double burst_;
    double tokens_;
    Clock::time_point last_;
};

}  // namespace seedshare
