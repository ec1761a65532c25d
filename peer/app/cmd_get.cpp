// peer get SEED: the terminal around a Download: progress while it runs, the
// summary at the end, signals, exit codes.
#include <unistd.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>

#include "common/core/limits.hpp"
#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"
#include "common/net/net.hpp"
#include "peer/app/commands.hpp"
#include "peer/app/metrics.hpp"
#include "peer/app/progress.hpp"
#include "peer/app/run_command.hpp"
#include "peer/library/library.hpp"
#include "peer/storage/seed_io.hpp"
#include "peer/transfer/download.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

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
        case Download::Outcome::kTimedOut:
            break;
    }
    return kExitFailure;
}

const char* outcome_name(Download::Outcome o) {
    switch (o) {
        case Download::Outcome::kComplete:
            return "complete";
        case Download::Outcome::kAlreadyComplete:
            return "already_complete";
        case Download::Outcome::kInterrupted:
            return "interrupted";
        case Download::Outcome::kIntegrity:
            return "integrity_failure";
        case Download::Outcome::kTrackerUnreachable:
            return "tracker_unreachable";
        case Download::Outcome::kUsage:
            return "usage";
        case Download::Outcome::kTimedOut:
            return "timed_out";
        case Download::Outcome::kFailed:
            break;
    }
    return "failed";
}

// SEED as the user gave it: "-" (the seed on standard input), a seed file, or
// a seed id (64 hex digits, either case). Anything else is a usage error
// that names both readings.
void read_seed_argument(const std::string& text, DownloadOptions& options) {
    if (text == "-") {
        std::string input;
        char buffer[4096];
        std::size_t n = 0;
        while ((n = std::fread(buffer, 1, sizeof buffer, stdin)) > 0) {
            input.append(buffer, n);
            if (input.size() > limits::kMaxSeedBytes)
                throw CommandFailure{kExitFailure,
                                     fmt::format("standard input: more than a seed file may hold "
                                                 "({})",
                                                 format_bytes(limits::kMaxSeedBytes))};
        }
        auto s = parse_seed(input);
        if (!s) throw CommandFailure{kExitFailure, "standard input: " + s.error().message};
        options.seed = std::move(*s);
        return;
    }
    std::error_code ec;
    if (fs::exists(text, ec)) {
        auto s = read_seed_file(text);
        if (!s) throw CommandFailure{kExitFailure, s.error().message};
        options.seed = std::move(*s);
        return;
    }
    std::string lower = text;
    for (auto& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto id = SeedId::from_hex_string(lower)) {
        options.seed_id = id;
        return;
    }
    std::string why;
    if (lower.size() != 64) {
        why = fmt::format("{}, not 64", count_of(text.size(), "character"));
    } else {
        const auto bad = std::find_if_not(lower.begin(), lower.end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        });
        why = fmt::format("'{}' is not a hex digit", bad == lower.end() ? '?' : *bad);
    }
    throw CommandFailure{
        kExitUsage,
        fmt::format("{}: not a seed file (no such file), and not a seed id ({})", text, why)};
}

std::string json_summary(const Download& download, Download::Outcome outcome,
                         std::chrono::duration<double> elapsed) {
    nlohmann::json j;
    j["outcome"] = outcome_name(outcome);
    j["exit_code"] = exit_code(outcome);
    j["seconds"] = elapsed.count();
    j["error"] = download.message().empty() || outcome == Download::Outcome::kComplete ||
                         outcome == Download::Outcome::kAlreadyComplete
                     ? nlohmann::json(nullptr)
                     : nlohmann::json(download.message());
    if (const Seed* seed = download.seed()) {
        j["file"] = download.target().string();
        j["name"] = seed->name;
        j["id"] = seed->id().hex();
        j["size"] = seed->length;
        j["sha256"] = seed->file_hash.hex();
    }
    j["verified"] =
        outcome == Download::Outcome::kComplete || outcome == Download::Outcome::kAlreadyComplete;
    j["resumed_bytes"] = download.resumed_bytes();
    std::uint64_t fetched = 0;
    auto peers = nlohmann::json::array();
    if (const auto swarm = download.swarm()) {
        for (const auto& p : swarm->peer_stats()) {
            fetched += p.downloaded;
            if (p.downloaded > 0 || p.uploaded > 0)
                peers.push_back(
                    {{"address", p.name}, {"downloaded", p.downloaded}, {"uploaded", p.uploaded}});
        }
    }
    j["fetched_bytes"] = fetched;
    j["peers"] = std::move(peers);
    return j.dump() + "\n";
}

net::awaitable<int> get_main(const GetCommand& cmd, asio::io_context& io, asio::thread_pool& pool) {
    auto ex = io.get_executor();
    // --quiet: nothing on stderr but errors, whatever the log level says.
    const LogLevel level =
        cmd.quiet ? std::max(cmd.net.log_level, LogLevel::kError) : cmd.net.log_level;
    Logger log("peer", level);
    const bool tty = ::isatty(STDERR_FILENO) != 0;
    // The progress display follows --quiet only: --log-level changes log lines.
    const auto mode = cmd.quiet ? Progress::Mode::kQuiet
                      : tty     ? Progress::Mode::kTerminal
                                : Progress::Mode::kLog;
    if (mode == Progress::Mode::kTerminal) log.set_clear_line(true);

    DownloadOptions options;
    options.out_dir = cmd.out_dir;
    for (const auto& hp : cmd.peers) {
        // An IP address as is; a name resolved now (every address it has).
        asio::error_code ec;
        const auto ip = asio::ip::make_address(hp.host, ec);
        if (!ec) {
            options.peers.push_back(PeerAddress{net::normalize(ip), hp.port});
            continue;
        }
        asio::ip::tcp::resolver resolver(ex);
        const auto found = resolver.resolve(hp.host, std::to_string(hp.port), ec);
        if (ec) {
            log.warn("--peer {}: {}", hp.str(), ec.message());
            continue;
        }
        for (const auto& e : found)
            options.peers.push_back(
                PeerAddress{net::normalize(e.endpoint().address()), e.endpoint().port()});
    }
    options.trackers = cmd.net.trackers;
    options.force = cmd.force;
    options.announce_complete = cmd.serve;
    try {
        read_seed_argument(cmd.seed, options);
        std::error_code ec;
        if (fs::exists(cmd.out_dir, ec) && !fs::is_directory(cmd.out_dir, ec))
            throw CommandFailure{kExitUsage,
                                 fmt::format("-o {}: not a directory", cmd.out_dir.string())};
    } catch (const CommandFailure& f) {
        // --json: one object for every outcome, these too.
        if (cmd.json) {
            nlohmann::json j;
            j["outcome"] = f.code == kExitUsage ? "usage" : "failed";
            j["exit_code"] = f.code;
            j["error"] = f.message;
            j["verified"] = false;
            fmt::print("{}\n", j.dump());
            std::fflush(stdout);
        }
        throw;
    }

    NetworkOptions net = cmd.net;
    if (!cmd.no_state) net.book_dir = cmd.state_dir ? cmd.state_dir : default_state_dir();
    Node node(ex, pool, node_options(net), log);
    node.listen();
    Trackers trackers(ex, node.user(), node.port(), log);
    Download download(node, trackers, options, log);
    const auto metrics =
        start_metrics(cmd.net.metrics, ex, node, cmd.serve ? "get --serve" : "get");

    asio::signal_set signals(ex, SIGINT, SIGTERM);
    bool interrupted = false;
    // --serve, once complete: waits here until a signal. The same signal set
    // serves both phases: one arriving as the download ends is not lost.
    asio::steady_timer serving(ex);
    // The first signal stops the download cleanly; a second one (the stop
    // waits on something slow) ends the process at once: NAME.part is kept
    // and a rerun resumes.
    std::function<void(const asio::error_code&, int)> on_signal = [&](const asio::error_code& e,
                                                                      int) {
        if (e) return;
        if (interrupted) {
            fmt::print(stderr, "peer: interrupted again: exiting now; a rerun resumes\n");
            std::_Exit(kExitInterrupted);
        }
        interrupted = true;
        download.stop();
        serving.cancel();
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);
    asio::steady_timer deadline(ex);
    if (cmd.timeout.count() > 0) {
        deadline.expires_after(cmd.timeout);
        deadline.async_wait([&](const asio::error_code& e) {
            if (!e) download.time_out();
        });
    }

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
    deadline.cancel();
    co_await net::sleep_for(tick, 0ms);  // let the progress line clear itself
    const auto elapsed = std::chrono::steady_clock::now() - started;

    int code = exit_code(outcome);
    if (cmd.json) fmt::print("{}", json_summary(download, outcome, elapsed));
    switch (outcome) {
        case Download::Outcome::kComplete: {
            const auto swarm = download.swarm();
            std::uint64_t fetched = 0;
            const auto peers = swarm->peer_stats();
            for (const auto& p : peers)
                fetched += p.downloaded;
            if (!cmd.json)
                fmt::print("{}", Progress::summary(download.target().string(), swarm->seed().length,
                                                   fetched, elapsed, peers));
            break;
        }
        case Download::Outcome::kAlreadyComplete:
            if (!cmd.json)
                fmt::print("{} is already complete (whole-file SHA-256 verified)\n",
                           download.target().string());
            break;
        case Download::Outcome::kInterrupted:
            if (const auto swarm = download.swarm(); swarm && swarm->verified_bytes() > 0)
                fmt::print(
                    stderr,
                    "peer: interrupted with {} of {} verified; run the same command to resume\n",
                    format_bytes(swarm->verified_bytes()), format_bytes(swarm->seed().length));
            else
                fmt::print(stderr, "peer: interrupted\n");
            break;
        case Download::Outcome::kTimedOut:
        case Download::Outcome::kFailed:
        case Download::Outcome::kIntegrity:
            if (const auto swarm = download.swarm();
                swarm && swarm->verified_bytes() > 0 && !download.finish_failed())
                fmt::print(
                    stderr,
                    "peer: {}: {} of {} verified; they stay in {}.part and a rerun resumes\n",
                    download.message(), format_bytes(swarm->verified_bytes()),
                    format_bytes(swarm->seed().length), download.target().string());
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
        serving.expires_at(asio::steady_timer::time_point::max());
        asio::error_code ec;
        co_await serving.async_wait(asio::redirect_error(asio::use_awaitable, ec));
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
