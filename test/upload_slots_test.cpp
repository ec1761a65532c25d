// UploadSlots: how many blocks a process sends at once; the rest wait their
// turn in the order they asked, and a place or a slot goes back however its
// holder ends.
#include <doctest/doctest.h>

#include <asio.hpp>

#include <chrono>
#include <string>
#include <vector>

#include "common/core/limits.hpp"
#include "peer/swarm/upload_slots.hpp"

namespace upload_slots_test {

using namespace seedshare;
using namespace std::chrono_literals;

namespace {

// Runs `io` until `done()` holds, at most `limit` of real time (a busy
// machine may take long; the loop never waits for a deadline to pass).
template <class Done>
bool run_until(asio::io_context& io, Done done, std::chrono::milliseconds limit = 10s) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (!done() && std::chrono::steady_clock::now() < end) {
        io.restart();
        io.run_for(10ms);
    }
    return done();
}

}  // namespace

TEST_CASE("upload slots: two blocks at once by default, at least one") {
    // The default is a measured choice (docs/BENCHMARKS.md, "Two blocks at a
    // time"): change it with a new measurement, and this with it.
    static_assert(limits::kDefaultUploadSlots == 2);
    CHECK(UploadSlots::create(limits::kDefaultUploadSlots)->capacity() == 2);
    CHECK(UploadSlots::create(0)->capacity() == 1);
}

TEST_CASE("upload slots: tickets beyond the slots wait, and are granted oldest first") {
    asio::io_context io;
    asio::steady_timer wa(io), wb(io), wc(io), wd(io);
    auto slots = UploadSlots::create(2);
    auto a = slots->request(wa);
    auto b = slots->request(wb);
    auto c = slots->request(wc);
    auto d = slots->request(wd);
    CHECK(a.granted());
    CHECK(b.granted());
    CHECK_FALSE(c.granted());
    CHECK_FALSE(d.granted());
    CHECK(slots->in_use() == 2);
    CHECK(slots->waiting() == 2);

    // A slot taken and given back passes to the oldest waiter, whose timer
    // is cancelled (its writer wakes).
    bool c_woken = false;
    wc.expires_after(1h);
    wc.async_wait(
        [&](const asio::error_code& ec) { c_woken = ec == asio::error::operation_aborted; });
    {
        UploadSlots::Slot held = a.take();
        CHECK(held);
        CHECK_FALSE(a);  // spent
    }
    CHECK(run_until(io, [&] { return c_woken; }));
    CHECK(c.granted());
    CHECK_FALSE(d.granted());
    CHECK(slots->in_use() == 2);

    // A waiter that gives up leaves the queue; one granted and dropped
    // without taking its slot gives it back.
    d.reset();
    CHECK(slots->waiting() == 0);
    b.reset();
    c.reset();
    CHECK(slots->in_use() == 0);

    // With nobody waiting, a slot given back is free for the next one.
    auto e = slots->request(wa);
    CHECK(e.granted());
    CHECK(slots->in_use() == 1);
}

TEST_CASE("upload slots: a coroutine waits its turn, and gives up its place when it is abandoned") {
    asio::io_context io;
    auto slots = UploadSlots::create(1);
    std::vector<std::string> order;
    bool abandon_second = false;
    UploadSlots::Slot first;
    auto take = [&](std::string name, bool* abandon) -> asio::awaitable<void> {
        auto slot = co_await slots->acquire([abandon] { return abandon && *abandon; }, 10ms);
        if (!slot) {
            order.push_back(name + " gave up");
            co_return;
        }
        order.push_back(name);
        if (name == "first") first = std::move(slot);  // held until the test lets go
    };
    asio::co_spawn(io, take("first", nullptr), asio::detached);
    asio::co_spawn(io, take("second", &abandon_second), asio::detached);
    asio::co_spawn(io, take("third", nullptr), asio::detached);
    // The first has the slot; the others wait for it (through several of
    // their rechecks: nothing else changes).
    REQUIRE(run_until(io, [&] { return slots->waiting() == 2; }));
    io.restart();
    io.run_for(50ms);
    CHECK(order == std::vector<std::string>{"first"});
    CHECK(slots->waiting() == 2);

    abandon_second = true;  // seen at its next recheck
    CHECK(run_until(io, [&] { return order.size() == 2; }));
    CHECK(order == std::vector<std::string>{"first", "second gave up"});
    CHECK(slots->waiting() == 1);

    first.reset();  // the third, next in line, gets the slot
    CHECK(run_until(io, [&] { return order.size() == 3; }));
    CHECK(order == std::vector<std::string>{"first", "second gave up", "third"});
    CHECK(slots->in_use() == 0);  // the third's slot died with its coroutine
    CHECK(slots->waiting() == 0);
}

}  // namespace upload_slots_test
