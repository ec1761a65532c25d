// A token bucket for peer-exchange messages on one connection: `burst` at
// once, then one per `every`. Used for the PeerLists a remote sends us (more
// are ignored), and for our answers to its GetPeers (more are not answered).
// Pure: the time is given.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>

namespace seedshare {

class PexGate {
  public:
    using Clock = std::chrono::steady_clock;

    PexGate(std::size_t burst, Clock::duration every) : burst_(burst), every_(every) {}

    // One message may pass now (and is counted).
    bool allow(Clock::time_point now) {
        if (!started_) {
            started_ = true;
            tokens_ = burst_;
            last_ = now;
        }
        if (now > last_ && every_.count() > 0) {
            const auto earned = static_cast<std::size_t>((now - last_) / every_);
            if (earned > 0) {
                tokens_ = std::min(burst_, tokens_ + earned);
                last_ += earned * every_;
            }
        }
        if (tokens_ == 0) return false;
        --tokens_;
        return true;
    }

  private:
    std::size_t burst_;
    Clock::duration every_;
    std::size_t tokens_ = 0;
    Clock::time_point last_{};
    bool started_ = false;
};

}  // namespace seedshare
