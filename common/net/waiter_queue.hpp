// A FIFO of coroutines waiting their turn for something the owner hands out
// (bytes of a budget, a lock), each with a deadline. The owner grants the
// oldest waiter when the thing is free again; a waiter that is not granted in
// time, or is woken by wake_all() (shutdown), gets false. Each waiter may
// carry a `Need` (e.g. how many bytes it wants) that the owner reads at the
// front before granting. A waiter leaves the queue however its coroutine ends
// (even destroyed unresumed), so the queue never points at a dead one. Used
// on the I/O thread only.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <list>
#include <variant>

namespace seedshare::net {

template <class Need = std::monostate>
class WaiterQueue {
  public:
    using Clock = std::chrono::steady_clock;

    WaiterQueue() = default;
    WaiterQueue(const WaiterQueue&) = delete;
    WaiterQueue& operator=(const WaiterQueue&) = delete;

    // Joins the end of the queue and waits up to `timeout` to be granted.
    // True: granted (whatever was handed over is the caller's now).
    asio::awaitable<bool> wait(Clock::duration timeout, Need need = {}) {
        asio::steady_timer timer(co_await asio::this_coro::executor, timeout);
        Waiter w{std::move(need), &timer, false};
        struct Queued {
            std::list<Waiter*>& q;
            typename std::list<Waiter*>::iterator it;
            Waiter& w;
            ~Queued() {
                if (!w.granted) q.erase(it);
            }
        } queued{waiters_, waiters_.insert(waiters_.end(), &w), w};
        asio::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        co_return w.granted;
    }

    bool empty() const { return waiters_.empty(); }
    std::size_t size() const { return waiters_.size(); }
    // What the oldest waiter needs. The queue must not be empty.
    const Need& front() const { return waiters_.front()->need; }

    // Grants the oldest waiter and wakes it; false if nobody waits.
    bool grant_front() {
        if (waiters_.empty()) return false;
        Waiter* w = waiters_.front();
        waiters_.pop_front();
        w->granted = true;
        w->timer->cancel();
        return true;
    }

    // Wakes every waiter without granting it (shutdown).
    void wake_all() {
        for (auto* w : waiters_)
            w->timer->cancel();
    }

  private:
    struct Waiter {
        Need need;
        asio::steady_timer* timer;
        bool granted;
    };
    std::list<Waiter*> waiters_;
};

}  // namespace seedshare::net
