// Clock: where time comes from, injectable like the Env. Code that measures
// intervals or sets deadlines asks now(); code that stamps or shows dates
// asks system_now(). RealClock reads the OS; FakeClock moves only when a
// test moves it, so a test never sleeps.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

namespace seedshare {

class Clock {
  public:
    using Steady = std::chrono::steady_clock;
    using System = std::chrono::system_clock;

    virtual ~Clock() = default;
    virtual Steady::time_point now() const = 0;
    virtual System::time_point system_now() const = 0;

    // Whether time moves only when told (a test's FakeClock). Timers on such
    // a clock (net::ClockTimer) cannot wait for the OS to tell them time has
    // passed: they watch the clock, which calls each watcher after every
    // move, from the thread that moved it (a watcher may be called once
    // more just after it unwatched). A real clock has no watchers. A clock
    // that timers watch must outlive them: in tests, declare it before the
    // io_context (coroutines it holds may hold timers), and move it while
    // the io_context lives.
    using Watcher = std::function<void()>;
    virtual bool manual() const { return false; }
    virtual std::uint64_t watch(Watcher) const { return 0; }
    virtual void unwatch(std::uint64_t) const {}

    // The OS clocks (stateless, shared).
    static Clock& real();
};

class RealClock final : public Clock {
  public:
    Steady::time_point now() const override { return Steady::now(); }
    System::time_point system_now() const override { return System::now(); }
};

// Starts at steady time zero (plus an hour, so subtracting from now() stays
// after the epoch) and at `system_start`; moves on advance() and set*().
// Thread-safe.
class FakeClock final : public Clock {
  public:
    explicit FakeClock(
        System::time_point system_start = System::time_point(std::chrono::seconds(1'700'000'000)))
        : steady_ns_(std::chrono::nanoseconds(std::chrono::hours(1)).count()),
          system_ns_(std::chrono::nanoseconds(system_start.time_since_epoch()).count()) {}

    Steady::time_point now() const override {
        return Steady::time_point(std::chrono::duration_cast<Steady::duration>(
            std::chrono::nanoseconds(steady_ns_.load())));
    }
    System::time_point system_now() const override {
        return System::time_point(std::chrono::duration_cast<System::duration>(
            std::chrono::nanoseconds(system_ns_.load())));
    }

    bool manual() const override { return true; }
    std::uint64_t watch(Watcher w) const override {
        const std::lock_guard lock(mutex_);
        watchers_.emplace(++last_watch_, std::move(w));
        return last_watch_;
    }
    void unwatch(std::uint64_t id) const override {
        const std::lock_guard lock(mutex_);
        watchers_.erase(id);
    }
    // How many watch it now (tests check that timers unwatch).
    std::size_t watchers() const {
        const std::lock_guard lock(mutex_);
        return watchers_.size();
    }

    // Moves both clocks forward by `d` (never back: d < 0 is ignored), then
    // tells the watchers.
    void advance(std::chrono::nanoseconds d) {
        if (d.count() <= 0) return;
        steady_ns_ += d.count();
        system_ns_ += d.count();
        moved();
    }
    // The steady clock to `t` if that is not earlier (a steady clock never
    // goes back); the system clock moves with it.
    void set(Steady::time_point t) { advance(t - now()); }
    // The system clock alone, anywhere (it may jump back, as the wall clock does).
    void set_system(System::time_point t) {
        system_ns_ = std::chrono::nanoseconds(t.time_since_epoch()).count();
        moved();
    }

  private:
    // Calls the watchers outside the lock (a watcher may unwatch).
    void moved() const {
        std::map<std::uint64_t, Watcher> now;
        {
            const std::lock_guard lock(mutex_);
            now = watchers_;
        }
        for (const auto& [id, w] : now)
            w();
    }

    mutable std::mutex mutex_;
    mutable std::map<std::uint64_t, Watcher> watchers_;
    mutable std::uint64_t last_watch_ = 0;
    std::atomic<std::int64_t> steady_ns_;
    std::atomic<std::int64_t> system_ns_;
};

}  // namespace seedshare
