// A token bucket: tokens come back at `rate` per second up to `burst`; a
// taker may go into debt and is told how long until the debt is paid. Pure
// arithmetic on the time it is given (no timers), so the callers decide how
// to wait: the tracker paces a connection's requests with it, RateLimiter
// (common/net/rate_limiter.hpp) a process's bytes.
#pragma once

#include <algorithm>
#include <chrono>

namespace seedshare {

class TokenBucket {
  public:
    using Clock = std::chrono::steady_clock;

    // rate > 0 tokens per second; at most `burst` tokens held; `initial` at
    // the start (burst: a full bucket; 0: the limit holds from the first take).
    TokenBucket(double rate, double burst, double initial, Clock::time_point now = Clock::now())
        : rate_(rate), burst_(burst), tokens_(initial), last_(now) {}

    // Takes n tokens, going into debt if there are not enough, and returns
    // how long until the debt is paid (zero if there is none).
    Clock::duration take(double n, Clock::time_point now = Clock::now()) {
        tokens_ =
            std::min(burst_, tokens_ + rate_ * std::chrono::duration<double>(now - last_).count());
        last_ = now;
        tokens_ -= n;
        if (tokens_ >= 0) return Clock::duration::zero();
        return std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(-tokens_ / rate_));
    }

    // Gives back n tokens taken and not used (at most up to `burst`).
    void refund(double n) { tokens_ = std::min(burst_, tokens_ + n); }

    double rate() const { return rate_; }
    double burst() const { return burst_; }

  private:
    double rate_;
    double burst_;
    double tokens_;
    Clock::time_point last_;
};

}  // namespace seedshare
