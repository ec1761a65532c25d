// In-process swarms for integration tests: a tracker and several peers on
// 127.0.0.1 (ephemeral ports) in one io_context, run under a time limit.
#pragma once

#include <doctest/doctest.h>
#include <asio.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/core/log.hpp"
#include "common/net/net.hpp"
#include "peer/discovery/trackers.hpp"
#include "peer/library/seed_maker.hpp"
#include "peer/node/node.hpp"
#include "peer/storage/storage.hpp"
#include "peer/swarm/swarm.hpp"
#include "peer/transfer/download.hpp"
#include "peer/transfer/file_transfer.hpp"
#include "tracker/server/server.hpp"
#include "tracker/sqlite/store.hpp"

namespace seedshare::test {

// Runs `main` on `io` until it finishes; fails the test if it takes longer
// than `limit` (the io_context is then stopped, so the test ends either way).
inline void run_within(asio::io_context& io, std::chrono::milliseconds limit,
                       std::function<net::awaitable<void>()> main) {
    bool finished = false;
    std::exception_ptr error;
    asio::co_spawn(io, main(), [&](std::exception_ptr e) {
        finished = true;
        error = e;
        io.stop();
    });
    io.run_for(limit);
    if (error) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            FAIL("the test coroutine threw: " << e.what());
        }
    }
    CHECK_MESSAGE(finished, "the test did not finish within its time limit");
    io.restart();
}

// Waits until `condition` holds, checking every 10 ms, for at most `limit`.
inline net::awaitable<bool> eventually(std::function<bool()> condition,
                                       std::chrono::milliseconds limit) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) co_return false;
        t.expires_after(std::chrono::milliseconds(10));
        co_await t.async_wait(asio::use_awaitable);
    }
    co_return true;
}

struct TestTracker {
    std::unique_ptr<tracker::Store> store;
    std::unique_ptr<tracker::TrackerServer> server;
    HostPort address;

    TestTracker(asio::io_context& io, std::chrono::milliseconds ttl = std::chrono::seconds(30)) {
        auto s = tracker::Store::open(":memory:", tracker::system_now_ms, ttl);
        REQUIRE(s);
        store = std::move(*s);
        tracker::TrackerServer::Options o;
        o.host = "127.0.0.1";
        o.ttl = ttl;
        server = std::make_unique<tracker::TrackerServer>(io.get_executor(), *store, o,
                                                          Logger("tracker", LogLevel::kWarn));
        server->start();
        address = HostPort{"127.0.0.1", server->port()};
    }
};

inline NodeOptions node_options(SwarmOptions swarm) {
    NodeOptions o;
    o.swarm = swarm;
    return o;
}

// A peer process: a listening Node and its tracker clients.
struct TestPeer {
    std::unique_ptr<Node> node;
    std::unique_ptr<Trackers> trackers;
    Logger log;
    std::vector<std::unique_ptr<FileTransfer>> shared;  // what share() started

    TestPeer(asio::io_context& io, asio::thread_pool& pool, const std::string& name,
             SwarmOptions swarm = {})
        : TestPeer(io, pool, Logger(name, LogLevel::kWarn), swarm) {}

    // With a logger of the test's choosing (e.g. into a file it searches).
    TestPeer(asio::io_context& io, asio::thread_pool& pool, Logger logger, SwarmOptions swarm)
        : TestPeer(io, pool, std::move(logger), node_options(swarm)) {}

    // With the process's options (rate limits, budgets); the host is
    // 127.0.0.1 unless they name another loopback address.
    TestPeer(asio::io_context& io, asio::thread_pool& pool, Logger logger, NodeOptions o)
        : log(std::move(logger)) {
        if (o.host.empty()) o.host = "127.0.0.1";
        node = std::make_unique<Node>(io.get_executor(), pool, o, log);
        node->listen();
        trackers = std::make_unique<Trackers>(io.get_executor(), node->user(), node->port(), log);
    }

    // Shares a complete file held by `storage`, registered at `tracker`.
    net::awaitable<std::shared_ptr<Swarm>> share(const Seed& seed, std::shared_ptr<Storage> storage,
                                                 const HostPort& tracker) {
        const std::vector<HostPort> where{tracker};
        const auto failures = co_await trackers->connect(where);
        REQUIRE(failures.empty());
        auto transfer = FileTransfer::share(*node, *trackers, where, seed, std::move(storage), log);
        transfer->start();
        auto swarm = transfer->swarm();
        shared.push_back(std::move(transfer));
        co_return swarm;
    }

    // As if the process were killed: connections drop, no goodbye anywhere.
    void kill() {
        node->abort();
        trackers->abandon();
    }

    net::awaitable<void> stop() {
        co_await node->stop(std::chrono::milliseconds(500));
        co_await trackers->leave();
    }
};

// A `get` of `seed` into `out` by a peer of its own, running in the
// background once started: a test can meanwhile do what it wants, then wait.
struct BackgroundGet {
    TestPeer peer;
    std::unique_ptr<Download> download;
    std::optional<Download::Outcome> outcome;

    BackgroundGet(asio::io_context& io, asio::thread_pool& pool, const Seed& seed,
                  const std::filesystem::path& out, SwarmOptions options = {})
        : peer(io, pool, "getter", options) {
        DownloadOptions o;
        o.seed = seed;
        o.out_dir = out;
        download = std::make_unique<Download>(*peer.node, *peer.trackers, o, peer.log);
    }
    // A getter process with `node` options, and a download as `d` says.
    BackgroundGet(asio::io_context& io, asio::thread_pool& pool, NodeOptions node,
                  const DownloadOptions& d)
        : peer(io, pool, Logger("getter", LogLevel::kWarn), std::move(node)),
          download(std::make_unique<Download>(*peer.node, *peer.trackers, d, peer.log)) {}
    void start(asio::io_context& io) {
        net::spawn(io.get_executor(), run(), Logger("test"), "download");
    }
    // A member, not a capturing lambda: the coroutine outlives start().
    net::awaitable<void> run() { outcome = co_await download->run(); }
    // Whether it ended within `limit`.
    net::awaitable<bool> ended_within(std::chrono::milliseconds limit) {
        co_return co_await eventually([this] { return outcome.has_value(); }, limit);
    }
    // Stops it if it has not ended, and gives it `grace` to wind down.
    net::awaitable<void> stop(std::chrono::milliseconds grace) {
        if (!outcome) {
            download->stop();
            co_await eventually([this] { return outcome.has_value(); }, grace);
        }
        co_await peer.stop();
    }
};

}  // namespace seedshare::test
