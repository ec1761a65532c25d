// A sleep that others can cut short without losing a wake that comes while
// the sleeper is busy elsewhere. A bare steady_timer's cancel() reaches only
// a wait under way: a loop told "plan again" while it was polling a tracker
// would then sleep its whole interval. Here notify() before the sleep makes
// the next sleep end at once. Its time is the given clock's (a test's
// FakeClock: the sleep ends when the test moves time past it). One sleeper
// at a time; I/O thread only.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <utility>

#include "common/net/clock_timer.hpp"

namespace seedshare::net {

class Wakeup {
  public:
    explicit Wakeup(const asio::any_io_executor& ex,
                    const seedshare::Clock& clock = seedshare::Clock::real())
        : timer_(ex, clock) {}
    Wakeup(const Wakeup&) = delete;
    Wakeup& operator=(const Wakeup&) = delete;

    // Ends the sleep under way, or else the next one, at once.
    void notify() {
        pending_ = true;
        timer_.cancel();
    }

    // Sleeps for `d` unless notified (since the last sleep ended, or
    // meanwhile): true if notified.
    asio::awaitable<bool> sleep(std::chrono::steady_clock::duration d) {
        if (!pending_) co_await sleep_for(timer_, d);
        co_return std::exchange(pending_, false);
    }

  private:
    ClockTimer timer_;
    bool pending_ = false;
};

}  // namespace seedshare::net
