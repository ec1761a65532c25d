// BufferPool: chunk memory under one budget, recycled, handed to waiters in
// the order they came.
#include <doctest/doctest.h>

#include <vector>

#include "peer/swarm/buffer_pool.hpp"

namespace buffer_pool_test {

using namespace seedshare;

TEST_CASE("buffer pool: the budget bounds how many buffers exist, whatever their size") {
    auto pool = BufferPool::create(10 << 20, 4 << 20);  // 2 buffers of 4 MiB
    CHECK(pool->capacity() == 2);
    CHECK(BufferPool::create(100, 4 << 20)->capacity() == 1);  // at least one
    auto a = pool->try_acquire(1);
    auto b = pool->try_acquire(4 << 20);
    REQUIRE(a);
    REQUIRE(b);
    CHECK(a->size() == 1);
    CHECK(b->span().size() == 4u << 20);
    CHECK(pool->in_use() == 2);
    CHECK_FALSE(pool->try_acquire(1));                                               // spent
    CHECK_FALSE(BufferPool::create(10 << 20, 4 << 20)->try_acquire((4 << 20) + 1));  // too big
    // The high-water mark stays when they go back.
    CHECK(pool->peak_in_use() == 2);
    a.reset();
    b.reset();
    CHECK(pool->in_use() == 0);
    CHECK(pool->peak_in_use() == 2);
}

TEST_CASE("buffer pool: a buffer goes back when it dies or is moved over, and is reused") {
    auto pool = BufferPool::create(1 << 20, 1 << 20);
    const std::uint8_t* first = nullptr;
    {
        auto a = pool->try_acquire(100);
        REQUIRE(a);
        first = a->span().data();
        BufferPool::Buffer moved = std::move(*a);
        CHECK_FALSE(*a);  // the moved-from one owns nothing
        CHECK(moved);
        CHECK(pool->in_use() == 1);
    }
    CHECK(pool->in_use() == 0);
    auto again = pool->try_acquire(200);
    REQUIRE(again);
    CHECK(again->span().data() == first);  // recycled, not allocated anew
    BufferPool::Buffer other;
    other = std::move(*again);
    other = BufferPool::Buffer{};  // assigning over a live buffer releases it
    CHECK(pool->in_use() == 0);
}

TEST_CASE("buffer pool: trim frees what is not in use, and what comes back after") {
    auto pool = BufferPool::create(4 << 20, 1 << 20);  // 4 buffers
    {
        auto a = pool->try_acquire(10);
        auto b = pool->try_acquire(10);
        REQUIRE(a);
        REQUIRE(b);
    }
    CHECK(pool->free_count() == 2);  // kept for reuse
    auto held = pool->try_acquire(10);
    REQUIRE(held);
    pool->trim();
    CHECK(pool->free_count() == 0);
    held = {};  // given back after the trim: freed, not kept
    CHECK(pool->free_count() == 0);
    CHECK(pool->in_use() == 0);
    CHECK(pool->try_acquire(10));  // still usable, just not hoarding
}

TEST_CASE("buffer pool: acquire waits for a release, and waiters are served in order") {
    asio::io_context io;
    auto pool = BufferPool::create(1 << 10, 1 << 10);  // one buffer
    auto held = pool->try_acquire(10);
    REQUIRE(held);
    std::vector<int> order;
    std::vector<BufferPool::Buffer> got;
    auto waiter = [&](int id) -> asio::awaitable<void> {
        auto b = co_await pool->acquire(10);
        order.push_back(id);
        got.push_back(std::move(b));
    };
    asio::co_spawn(io, waiter(1), asio::detached);
    asio::co_spawn(io, waiter(2), asio::detached);
    io.poll();             // every ready handler, no waiting
    CHECK(order.empty());  // nothing free yet
    held.reset();          // release: the first waiter gets it
    io.restart();
    io.poll();
    REQUIRE(order.size() == 1);
    CHECK(order[0] == 1);
    got.clear();  // the first gives it back: now the second
    io.restart();
    io.poll();
    REQUIRE(order.size() == 2);
    CHECK(order[1] == 2);
}

TEST_CASE("buffer pool: a waiter woken for nothing keeps its place in the queue") {
    asio::io_context io;
    auto pool = BufferPool::create(1 << 10, 1 << 10);  // one buffer
    auto held = pool->try_acquire(10);
    REQUIRE(held);
    std::vector<int> order;
    std::vector<BufferPool::Buffer> got;
    auto wake = std::make_shared<asio::steady_timer>(io);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            got.push_back(co_await pool->acquire(10, wake, [] { return false; }));
            order.push_back(1);
        },
        asio::detached);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            got.push_back(co_await pool->acquire(10));
            order.push_back(2);
        },
        asio::detached);
    io.poll();
    wake->cancel();  // not a give-up: it waits on, still first
    io.restart();
    io.poll();
    CHECK(order.empty());
    held.reset();
    io.restart();
    io.poll();
    REQUIRE(order.size() == 1);
    CHECK(order[0] == 1);
}

TEST_CASE("buffer pool: a waiter that gives up leaves the queue with nothing") {
    asio::io_context io;
    auto pool = BufferPool::create(1 << 10, 1 << 10);  // one buffer
    auto held = pool->try_acquire(10);
    REQUIRE(held);
    bool closed = false;  // the first waiter's connection
    auto wake = std::make_shared<asio::steady_timer>(io);
    std::optional<bool> first_got;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto b = co_await pool->acquire(10, wake, [&] { return closed; });
            first_got = static_cast<bool>(b);
        },
        asio::detached);
    bool second_got = false;
    BufferPool::Buffer second;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            second = co_await pool->acquire(10);
            second_got = true;
        },
        asio::detached);
    io.poll();
    // Its connection closes: it leaves with nothing, without a release.
    closed = true;
    wake->cancel();
    io.restart();
    io.poll();
    REQUIRE(first_got);
    CHECK_FALSE(*first_got);
    CHECK_FALSE(second_got);
    CHECK(pool->in_use() == 1);

    // The release goes to the one still waiting.
    held.reset();
    io.restart();
    io.poll();
    CHECK(second_got);
    CHECK(second);
}

TEST_CASE("buffer pool: a waiter woken for a buffer that gives up passes the wake on") {
    asio::io_context io;
    auto pool = BufferPool::create(1 << 10, 1 << 10);
    auto held = pool->try_acquire(10);
    REQUIRE(held);
    bool closed = false;
    auto wake = std::make_shared<asio::steady_timer>(io);
    std::optional<bool> first_got;
    bool second_got = false;
    BufferPool::Buffer second;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            auto b = co_await pool->acquire(10, wake, [&] { return closed; });
            first_got = static_cast<bool>(b);
        },
        asio::detached);
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            second = co_await pool->acquire(10);
            second_got = true;
        },
        asio::detached);
    io.poll();
    // The buffer comes back, waking the first, whose connection closes
    // before it runs: it takes nothing, and hands its turn to the second.
    held.reset();
    closed = true;
    io.restart();
    io.poll();
    REQUIRE(first_got);
    CHECK_FALSE(*first_got);
    CHECK(second_got);  // not left waiting for a release that already happened
}

}  // namespace buffer_pool_test
