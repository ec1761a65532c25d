// ClockTimer: a timer whose time comes from a Clock (common/env/clock.hpp),
// so the peer's timers and heartbeats can run on a test's FakeClock and a
// test moves time instead of sleeping. On the real clock it is one
// steady_timer wait; on a manual clock it waits until the clock, moved by
// the test, reaches the expiry (each move wakes it to look).
//
// Like a steady_timer: setting the expiry, cancel() or the timer's end stop
// a wait under way (it returns false), and so does the cancellation of the
// coroutine that waits (an awaitable operator's, for instance). One waiter at a time; I/O
// thread only (the clock's watcher only posts to it).
#pragma once

#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include "common/env/clock.hpp"

namespace seedshare::net {

class ClockTimer {
  public:
    using time_point = seedshare::Clock::Steady::time_point;
    using duration = seedshare::Clock::Steady::duration;

    ClockTimer(const asio::any_io_executor& ex, const seedshare::Clock& clock)
        : clock_(&clock), state_(std::make_shared<State>(ex)) {
        if (clock.manual()) {
            // Moves come from the test's thread: wake the waiter on ours.
            watch_ = clock.watch([weak = std::weak_ptr<State>(state_), ex] {
                asio::post(ex, [weak] {
                    if (const auto s = weak.lock()) s->kick();
                });
            });
        }
    }
    // Ends a wait under way (it returns false), as a steady_timer's would.
    ~ClockTimer() {
        if (watch_ != 0) clock_->unwatch(watch_);
        cancel();
    }
    ClockTimer(const ClockTimer&) = delete;
    ClockTimer& operator=(const ClockTimer&) = delete;

    const seedshare::Clock& clock() const { return *clock_; }
    time_point expiry() const { return state_->expiry; }

    void expires_at(time_point t) {
        state_->expiry = t;
        cancel();
    }
    void expires_after(duration d) {
        // Saturating: a duration that would pass the end of time means never.
        const auto now = clock_->now();
        expires_at(d >= time_point::max() - now ? time_point::max() : now + d);
    }
    // Ends a wait under way (it returns false); a later wait is not affected.
    void cancel() {
        ++state_->epoch;
        state_->timer.cancel();
    }

    // Waits until the clock reaches the expiry: true then, false when
    // cancelled first (cancel(), a new expiry, or the coroutine's
    // cancellation).
    asio::awaitable<bool> wait() {
        const auto s = state_;  // the timer may go away while this waits
        const seedshare::Clock& clock = *clock_;
        const auto epoch = s->epoch;
        for (;;) {
            const auto now = clock.now();
            if (now >= s->expiry) co_return true;
            if (!clock.manual()) {
                s->timer.expires_after(s->expiry - now);
            } else {
                s->timer.expires_at(seedshare::Clock::Steady::time_point::max());
            }
            const auto kicks = s->kicks;
            asio::error_code ec;
            co_await s->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (s->epoch != epoch) co_return false;
            if (ec && s->kicks == kicks) co_return false;  // cancelled from outside
        }
    }

  private:
    struct State {
        explicit State(const asio::any_io_executor& ex) : timer(ex) {}
        // The clock moved: the waiter looks again.
        void kick() {
            ++kicks;
            timer.cancel();
        }
        asio::steady_timer timer;
        time_point expiry = time_point::max();
        std::uint64_t epoch = 0;  // counts cancel() and new expiries
        std::uint64_t kicks = 0;  // counts the clock's moves seen
    };

    const seedshare::Clock* clock_;
    std::shared_ptr<State> state_;
    std::uint64_t watch_ = 0;
};

// Sleeps `d` on `timer`'s clock: false if cancelled first.
inline asio::awaitable<bool> sleep_for(ClockTimer& timer, ClockTimer::duration d) {
    timer.expires_after(d);
    co_return co_await timer.wait();
}

}  // namespace seedshare::net
