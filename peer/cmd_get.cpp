// peer get SEED: the terminal around a Download: progress while it runs, the
// summary at the end, signals, exit codes.
#include <unistd.h>

#include <fmt/format.h>

#include <csignal>

#include "common/net.hpp"
#include "common/numbers.hpp"
#include "peer/commands.hpp"
#include "peer/download.hpp"
#include "peer/progress.hpp"
#include "peer/run_command.hpp"
#include "peer/seed_io.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr auto kGoodbyeGrace = 5000ms;

int exit_code(Download::Outcome o) {
    switch (o) {
        case Download::Outcome::kComplete:
        case Download::Outcome::kAlreadyComplete:
            return kExitOk;
        case Download::Outcome::kInterrupted:
            return kExitInterrupted;
        case Download::Outcome::kIntegrity:
            return kExitIntegrity;
        case Download::Outcome::kTrackerUnreachable:
            return kExitTrackerUnreachable;
        case Download::Outcome::kUsage:
            return kExitUsage;
        case Download::Outcome::kFailed:
            break;
    }
    return kExitFailure;
}

// Waits for SIGINT or SIGTERM.
net::awaitable<void> wait_for_signal(asio::signal_set& signals) {
    asio::error_code ec;
    co_await signals.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

net::awaitable<int> get_main(const GetCommand& cmd, asio::io_context& io, asio::thread_pool& pool) {
    auto ex = io.get_executor();
    Logger log("peer", cmd.net.log_level);
    const bool tty = ::isatty(STDERR_FILENO) != 0;
    const bool quiet = cmd.quiet || !log.enabled(LogLevel::kInfo);
    const auto mode = quiet ? Progress::Mode::kQuiet
                      : tty ? Progress::Mode::kTerminal
                            : Progress::Mode::kLog;
    if (mode == Progress::Mode::kTerminal) log.set_clear_line(true);

    DownloadOptions options;
    options.out_dir = cmd.out_dir;
    options.trackers = cmd.net.trackers;
    options.force = cmd.force;
    std::error_code ec;
    if (!fs::exists(cmd.seed, ec) && SeedId::from_hex_string(cmd.seed)) {
        options.seed_id = SeedId::from_hex_string(cmd.seed);
    } else {
        auto s = read_seed_file(cmd.seed);
        if (!s) throw CommandFailure{kExitFailure, s.error().message};
        options.seed = std::move(*s);
    }
    if (!fs::is_directory(cmd.out_dir, ec))
        throw CommandFailure{kExitUsage,
                             fmt::format("-o {}: not a directory", cmd.out_dir.string())};

    NodeOptions node_options;
    node_options.host = cmd.net.host;
    node_options.port = cmd.net.port;
    node_options.swarm.max_connections = cmd.net.max_peers;
    node_options.max_upload_rate = cmd.net.max_upload_rate;
    node_options.max_download_rate = cmd.net.max_download_rate;
    Node node(ex, pool, node_options, log);
    node.listen();
    Trackers trackers(ex, node.user(), node.port(), log);
    Download download(node, trackers, options, log);

    asio::signal_set signals(ex, SIGINT, SIGTERM);
    bool interrupted = false;
    signals.async_wait([&](const asio::error_code& e, int) {
        if (e) return;
        interrupted = true;
        download.stop();
    });

    const auto started = std::chrono::steady_clock::now();
    bool running = true;
    asio::steady_timer tick(ex);
    auto show = [&]() -> net::awaitable<void> {
        std::optional<Progress> progress;
        while (running) {
            if (auto swarm = download.swarm()) {
                if (!progress)
                    progress.emplace(mode, stderr, swarm->seed().length, download.resumed_bytes());
                std::uint64_t received = 0;
                for (const auto& p : swarm->peer_stats())
                    received += p.downloaded;
                progress->update(swarm->verified_bytes(), received, swarm->connection_count());
            }
            if (!co_await net::sleep_for(tick, 250ms)) break;
        }
        if (progress) progress->clear();
    };
    net::spawn(ex, show(), log, "progress");
    const auto outcome = co_await download.run();
    running = false;
    tick.cancel();
    co_await net::sleep_for(tick, 0ms);  // let the progress line clear itself

    int code = exit_code(outcome);
    switch (outcome) {
        case Download::Outcome::kComplete: {
            const auto swarm = download.swarm();
            std::uint64_t fetched = 0;
            const auto peers = swarm->peer_stats();
            for (const auto& p : peers)
                fetched += p.downloaded;
            fmt::print("{}",
                       Progress::summary(download.target().string(), swarm->seed().length, fetched,
                                         std::chrono::steady_clock::now() - started, peers));
            break;
        }
        case Download::Outcome::kAlreadyComplete:
            fmt::print("{} is already complete (whole-file SHA-256 verified)\n",
                       download.target().string());
            break;
        case Download::Outcome::kInterrupted:
            if (const auto swarm = download.swarm())
                fmt::print(
                    stderr,
                    "peer: interrupted with {} of {} verified; run the same command to resume\n",
                    format_bytes(swarm->verified_bytes()), format_bytes(swarm->seed().length));
            else
                fmt::print(stderr, "peer: interrupted\n");
            break;
        case Download::Outcome::kFailed:
        case Download::Outcome::kIntegrity:
            if (download.swarm())
                fmt::print(
                    stderr,
                    "peer: download failed: {}; the verified chunks stay in {}.part and a rerun "
                    "resumes\n",
                    download.message(), download.target().string());
            else
                fmt::print(stderr, "peer: {}\n", download.message());
            break;
        case Download::Outcome::kTrackerUnreachable:
        case Download::Outcome::kUsage:
            fmt::print(stderr, "peer: {}\n", download.message());
            break;
    }
    std::fflush(stdout);

    const bool done =
        outcome == Download::Outcome::kComplete || outcome == Download::Outcome::kAlreadyComplete;
    if (done && cmd.serve && !interrupted) {
        log.info("serving {} on port {}; Ctrl-C to stop", download.target().string(), node.port());
        signals.cancel();
        asio::signal_set stop_signals(ex, SIGINT, SIGTERM);
        co_await wait_for_signal(stop_signals);
    }
    co_await node.stop(kGoodbyeGrace);
    co_await trackers.leave();
    co_return code;
}

}  // namespace

int run_get(const GetCommand& cmd) {
    return run_command(
        [&](asio::io_context& io, asio::thread_pool& pool) { return get_main(cmd, io, pool); });
}

}  // namespace seedshare
