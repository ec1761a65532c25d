// When a process re-reads its address book's file (other processes sharing
// the state directory save there): at most once per `every`, however many
// swarms ask. Each downloading swarm with no peer asks the book, so without
// the gate a process starting thousands of file swarms read and merged the
// whole file once per swarm (issue 18: O(swarms) work per swarm). What one
// read merged serves every ask until the next. Pure: the time is given.
#pragma once

#include <chrono>
#include <cstdint>

namespace seedshare {

class RefreshGate {
  public:
    using Clock = std::chrono::steady_clock;

    explicit RefreshGate(Clock::duration every) : every_(every) {}

    // Whether to read now (and it is counted as read).
    bool due(Clock::time_point now) {
        if (read_ && now - last_ < every_) return false;
        read_ = true;
        last_ = now;
        ++reads_;
        return true;
    }
    // How many reads it allowed (tests, metrics).
    std::uint64_t reads() const { return reads_; }

  private:
    Clock::duration every_;
    Clock::time_point last_{};
    bool read_ = false;
    std::uint64_t reads_ = 0;
};

}  // namespace seedshare
