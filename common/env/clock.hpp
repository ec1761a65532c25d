// Clock: where time comes from, injectable like the Env. Code that measures
// intervals or sets deadlines asks now(); code that stamps or shows dates
// asks system_now(). RealClock reads the OS; FakeClock moves only when a
// test moves it, so a test never sleeps.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace seedshare {

class Clock {
  public:
    using Steady = std::chrono::steady_clock;
    using System = std::chrono::system_clock;

    virtual ~Clock() = default;
    virtual Steady::time_point now() const = 0;
    virtual System::time_point system_now() const = 0;

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

    // Moves both clocks forward by `d` (never back: d < 0 is ignored).
    void advance(std::chrono::nanoseconds d) {
        if (d.count() <= 0) return;
        steady_ns_ += d.count();
        system_ns_ += d.count();
    }
    // The steady clock to `t` if that is not earlier (a steady clock never
    // goes back); the system clock moves with it.
    void set(Steady::time_point t) { advance(t - now()); }
    // The system clock alone, anywhere (it may jump back, as the wall clock does).
    void set_system(System::time_point t) {
        system_ns_ = std::chrono::nanoseconds(t.time_since_epoch()).count();
    }

  private:
    std::atomic<std::int64_t> steady_ns_;
    std::atomic<std::int64_t> system_ns_;
};

}  // namespace seedshare
