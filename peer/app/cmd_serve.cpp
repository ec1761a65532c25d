// peer serve DIR: the process around a Sharer: listen, signals, goodbye.
#include <fmt/format.h>

#include "common/core/plural.hpp"
#include "peer/app/commands.hpp"
#include "peer/app/interrupts.hpp"
#include "peer/app/metrics.hpp"
#include "peer/app/run_command.hpp"
#include "peer/library/sharer.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

net::awaitable<int> serve_main(const ServeCommand& cmd, asio::io_context& io,
                               asio::thread_pool& pool) {
    auto ex = io.get_executor();
    Logger log("peer", cmd.net.log_level);
    NetworkOptions net = cmd.net;
    if (!cmd.no_state) net.book_dir = cmd.state_dir ? cmd.state_dir : default_state_dir();
    Node node(ex, pool, node_options(net), log);
    node.listen();
    Trackers trackers(ex, node.user(), node.port(), log);

    SharerOptions options;
    options.dir = cmd.dir;
    options.trackers = cmd.net.trackers;
    if (!cmd.no_state) options.state_dir = cmd.state_dir ? cmd.state_dir : default_state_dir();
    options.rescan = cmd.rescan;
    Sharer sharer(node, trackers, options, log);
    const auto metrics = start_metrics(cmd.net.metrics, ex, node, "serve");

    const Interrupts interrupts(
        ex, log, [&] { sharer.stop(); }, "");
    co_await sharer.run([&] {
        fmt::print("serving {} from {} on port {}\n", count_of(sharer.shared().size(), "file"),
                   cmd.dir.string(), node.port());
        std::fflush(stdout);
    });
    log.info("leaving: finishing uploads in flight");
    co_await node.stop(kGoodbyeGrace);
    co_await trackers.leave();
    // What each shared file gave, one line each, exact bytes (scripts read it:
    // scripts/bench/swarm, test/e2e/serve_stop.sh).
    for (const auto& [path, entry] : sharer.shared()) {
        const auto swarm = node.find(entry.id);
        if (!swarm) continue;
        std::uint64_t bytes = 0;
        std::size_t peers = 0;
        for (const auto& p : swarm->peer_stats()) {
            bytes += p.uploaded;
            peers += p.uploaded > 0 ? 1 : 0;
        }
        fmt::print("served {}: {} to {}\n", swarm->seed().name, count_of(bytes, "byte"),
                   count_of(peers, "peer"));
    }
    std::fflush(stdout);
    co_return kExitOk;
}

}  // namespace

int run_serve(const ServeCommand& cmd) {
    std::error_code ec;
    if (!fs::is_directory(cmd.dir, ec)) {
        fmt::print(stderr, "peer: {}: not a directory\n", cmd.dir.string());
        return kExitUsage;
    }
    return run_command(
        [&](asio::io_context& io, asio::thread_pool& pool) { return serve_main(cmd, io, pool); });
}

}  // namespace seedshare
