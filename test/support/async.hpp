// Runs a coroutine on an io_context with a time limit, for in-process tests
// of servers and clients sharing one io_context (one thread).
#pragma once

#include <asio.hpp>

#include <chrono>
#include <exception>
#include <stdexcept>

namespace seedshare::test {

// Runs io until `task` finishes, then returns (other coroutines stay
// suspended on io). Rethrows the task's exception; throws if it has not
// finished within `limit`.
inline void run_task(asio::io_context& io, asio::awaitable<void> task,
                     std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    bool done = false;
    std::exception_ptr error;
    asio::co_spawn(io, std::move(task), [&](std::exception_ptr e) {
        done = true;
        error = e;
    });
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done && std::chrono::steady_clock::now() < deadline) {
        if (io.stopped()) io.restart();
        io.run_one_until(deadline);
    }
    if (!done) throw std::runtime_error("test task did not finish within its time limit");
    if (error) std::rethrow_exception(error);
}

// Lets queued handlers run for `d` (e.g. so sessions notice a closed socket).
inline void settle(asio::io_context& io, std::chrono::milliseconds d) {
    if (io.stopped()) io.restart();
    io.run_for(d);
}

// Waits (on the io_context's timers, not by blocking) until the awaitable
// pred() yields true, up to `limit`; returns whether it did. (cluster.hpp's
// eventually() takes a plain predicate.)
template <class Pred>
asio::awaitable<bool> eventually_async(
    Pred pred, std::chrono::milliseconds limit,
    std::chrono::milliseconds step = std::chrono::milliseconds(20)) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (true) {
        if (co_await pred()) co_return true;
        if (std::chrono::steady_clock::now() >= deadline) co_return false;
        timer.expires_after(step);
        co_await timer.async_wait(asio::use_awaitable);
    }
}

// Sleeps on the io_context's clock.
inline asio::awaitable<void> pause(std::chrono::milliseconds d) {
    asio::steady_timer timer(co_await asio::this_coro::executor, d);
    co_await timer.async_wait(asio::use_awaitable);
}

}  // namespace seedshare::test
