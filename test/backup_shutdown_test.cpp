// The backup peer's shutdown is ordered: stop() cancels what awaits a tracker
// and run() returns only once every coroutine of the Backup has ended, so
// none outlives the Backup, its Node or its Trackers. Shown against a
// tracker that hangs (a relay that stops answering, its connections left
// open, as a SIGSTOPped tracker would) while a fetch awaits its seed text.
// Run under ASan (build-asan) it also shows that nothing is touched after
// the Backup and its peer are destroyed.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <array>
#include <filesystem>

#include "peer/backup/backup.hpp"
#include "test/support/cluster.hpp"
#include "test/support/seeded_files.hpp"
#include "test/support/temp_dir.hpp"

namespace backup_shutdown_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using asio::ip::tcp;

namespace {

// A TCP relay to a tracker. Once frozen it reads and drops everything both
// ways: the tracker seems alive (connected) but never answers again.
struct FreezingRelay {
    tcp::acceptor acceptor;
    HostPort target;
    HostPort address;
    bool frozen = false;
    std::vector<std::shared_ptr<tcp::socket>> sockets;

    FreezingRelay(asio::io_context& io, HostPort to)
        : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
          target(std::move(to)),
          address{"127.0.0.1", acceptor.local_endpoint().port()} {}

    void close() {
        asio::error_code ec;
        acceptor.close(ec);
        for (auto& s : sockets)
            s->close(ec);
    }
};

// Until either side closes (close() ends it).
net::awaitable<void> pump(FreezingRelay* r, std::shared_ptr<tcp::socket> from,
                          std::shared_ptr<tcp::socket> to) {
    std::array<char, 4096> buf{};
    for (;;) {
        asio::error_code ec;
        const std::size_t n = co_await from->async_read_some(
            asio::buffer(buf), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        if (r->frozen) continue;
        co_await asio::async_write(*to, asio::buffer(buf.data(), n),
                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
    }
    asio::error_code ec;
    from->close(ec);
    to->close(ec);
}

// Until the acceptor closes.
net::awaitable<void> relay(FreezingRelay* r) {
    auto ex = co_await asio::this_coro::executor;
    for (;;) {
        asio::error_code ec;
        auto down = std::make_shared<tcp::socket>(ex);
        co_await r->acceptor.async_accept(*down, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        auto up = std::make_shared<tcp::socket>(ex);
        const tcp::endpoint to(asio::ip::make_address(r->target.host), r->target.port);
        co_await up->async_connect(to, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) continue;
        r->sockets.push_back(down);
        r->sockets.push_back(up);
        asio::co_spawn(ex, pump(r, down, up), asio::detached);
        asio::co_spawn(ex, pump(r, up, down), asio::detached);
    }
}

}  // namespace

TEST_CASE("backup: stopping while a fetch awaits a tracker that hangs ends every coroutine") {
    TempDir src, bdir;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    FreezingRelay via(io, tracker.address);
    asio::co_spawn(io, relay(&via), asio::detached);
    const Seed seed = make_seeded_file(src, "a.bin", 300'000, tracker.address, 7);

    run_within(io, 100s, [&]() -> net::awaitable<void> {
        TestPeer sharer(io, pool, "sharer", quick_swarm());
        co_await sharer.share(seed, open_shared(src / "a.bin"), tracker.address);

        auto peer = std::make_unique<TestPeer>(io, pool, "backup", quick_swarm());
        // Tracker requests that would wait 120 s: only cancellation can end
        // the frozen fetch within the 30 s the test waits below.
        TrackersOptions patient;
        patient.request_timeout = 120s;
        peer->trackers = std::make_unique<Trackers>(io.get_executor(), peer->node->user(),
                                                    peer->node->port(), peer->log, patient);
        BackupOptions o;
        o.dir = bdir.path();
        o.trackers = {via.address};  // the backup reaches the tracker through the relay
        o.poll = 100ms;
        std::unique_ptr<Backup> backup;
        // The first poll that starts a fetch freezes the tracker: the fetch's
        // ask for the seed text goes unanswered.
        o.after_poll = [&] {
            if (backup && backup->fetching() > 0) via.frozen = true;
        };
        backup = std::make_unique<Backup>(*peer->node, *peer->trackers, o, peer->log);
        bool ended = false;
        std::size_t tasks_at_end = 99, fetching_at_end = 99;
        auto run = [](Backup* b, bool* ended, std::size_t* tasks,
                      std::size_t* fetching) -> net::awaitable<void> {
            co_await b->run();
            *tasks = b->tasks();
            *fetching = b->fetching();
            *ended = true;
        };
        asio::co_spawn(io, run(backup.get(), &ended, &tasks_at_end, &fetching_at_end),
                       asio::detached);

        const std::function<bool()> frozen = [&] { return via.frozen; };
        REQUIRE(co_await eventually(frozen, 30s));
        asio::steady_timer t(io, 300ms);
        co_await t.async_wait(asio::use_awaitable);
        // Still under way: one fetch waiting for the seed text, nothing held.
        CHECK_FALSE(ended);
        CHECK(backup->fetching() == 1);
        CHECK(backup->held() == 0);
        CHECK(backup->tasks() >= 2);  // the follow loop and the fetch

        backup->stop();
        const std::function<bool()> done = [&] { return ended; };
        CHECK(co_await eventually(done, 30s));
        // run() returned only once every coroutine of the Backup had ended.
        CHECK(tasks_at_end == 0);
        CHECK(fetching_at_end == 0);
        CHECK(backup->tasks() == 0);

        // Then the peer goes (no goodbye: the tracker hangs) and everything
        // is destroyed; the io_context goes on running what is left.
        peer->kill();
        backup.reset();
        peer.reset();
        via.close();
        t.expires_after(500ms);
        co_await t.async_wait(asio::use_awaitable);
        co_await sharer.stop();
    });
}

}  // namespace backup_shutdown_test
