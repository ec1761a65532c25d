// A byte rate, as an exponential average of samples taken about every
// kSample. Pure: the time is an argument.
#pragma once

#include <chrono>
#include <cstdint>

namespace seedshare {

class RateMeter {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;
    static constexpr std::chrono::milliseconds kSample{250};

    explicit RateMeter(TimePoint now) : since_(now) {}

    // `bytes` moved at `now`.
    void add(std::uint64_t bytes, TimePoint now) {
        bytes_ += bytes;
        const double span = std::chrono::duration<double>(now - since_).count();
        if (span < std::chrono::duration<double>(kSample).count()) return;
        const double sample = static_cast<double>(bytes_) / span;
        rate_ = rate_ == 0 ? sample : 0.6 * rate_ + 0.4 * sample;
        bytes_ = 0;
        since_ = now;
    }
    // Bytes are about to move after a pause: the pause is not slowness.
    void resume(TimePoint now) {
        if (bytes_ == 0) since_ = now;
    }
    // Bytes per second; 0 until the first sample.
    double rate() const { return rate_; }

  private:
    TimePoint since_;
    std::uint64_t bytes_ = 0;  // since since_
    double rate_ = 0;
};

}  // namespace seedshare
