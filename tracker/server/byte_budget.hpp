// Bytes of large payloads in flight, shared by all of a tracker's sessions
// (TrackerServer::Options::large_frame_budget). Used on the server's I/O
// thread only.
#pragma once

#include <cstddef>
#include <optional>
#include <utility>

#include "common/net/net.hpp"
#include "common/net/waiter_queue.hpp"

namespace seedshare::tracker {

// Bytes of large payloads in flight, shared by all sessions: bounds memory
// when many connections send big frames at once. FIFO, so a big request is
// not starved by small ones.
class ByteBudget {
  public:
    explicit ByteBudget(std::size_t total) : free_(total) {}

    class Lease {
      public:
        Lease(ByteBudget* b, std::size_t n) : b_(b), n_(n) {}
        Lease(Lease&& o) noexcept : b_(std::exchange(o.b_, nullptr)), n_(o.n_) {}
        Lease& operator=(Lease&& o) noexcept {
            if (this != &o) {
                if (b_ != nullptr) b_->release(n_);
                b_ = std::exchange(o.b_, nullptr);
                n_ = o.n_;
            }
            return *this;
        }
        ~Lease() {
            if (b_ != nullptr) b_->release(n_);
        }

      private:
        ByteBudget* b_;
        std::size_t n_;
    };

    // Waits up to `timeout` for n bytes (n must be <= the total).
    net::awaitable<std::optional<Lease>> acquire(std::size_t n, net::Clock::duration timeout) {
        if (waiters_.empty() && n <= free_) {
            free_ -= n;
            co_return Lease(this, n);
        }
        const bool granted = co_await waiters_.wait(timeout, n);
        if (!granted) co_return std::nullopt;
        co_return Lease(this, n);
    }

    // Wakes every waiter without granting it (shutdown).
    void cancel_all() { waiters_.wake_all(); }

  private:
    void release(std::size_t n) {
        free_ += n;
        while (!waiters_.empty() && waiters_.front() <= free_) {
            free_ -= waiters_.front();
            waiters_.grant_front();
        }
    }

    std::size_t free_;
    net::WaiterQueue<std::size_t> waiters_;  // each waiting for this many bytes
};

}  // namespace seedshare::tracker
