// peer get SEED...: the terminal around one Download per SEED (--parallel at
// once): progress while they run, a summary as each ends, signals, exit codes.
#include <unistd.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>

#include "common/core/limits.hpp"
#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"
#include "common/net/join_all.hpp"
#include "common/net/net.hpp"
#include "peer/app/commands.hpp"
#include "peer/app/interrupts.hpp"
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

// The file is there, verified (fetched now or found complete).
bool ended_well(Download::Outcome o) {
    return o == Download::Outcome::kComplete || o == Download::Outcome::kAlreadyComplete;
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

std::string json_summary(const std::string& arg, const Download& download,
                         Download::Outcome outcome, std::chrono::duration<double> elapsed) {
    nlohmann::json j;
    j["seed"] = arg;
    j["outcome"] = outcome_name(outcome);
    j["exit_code"] = exit_code(outcome);
    j["seconds"] = elapsed.count();
    j["error"] = download.message().empty() || ended_well(outcome)
                     ? nlohmann::json(nullptr)
                     : nlohmann::json(download.message());
    if (const Seed* seed = download.seed()) {
        j["file"] = download.target().string();
        j["name"] = seed->name;
        j["id"] = seed->id().hex();
        j["size"] = seed->length;
        j["sha256"] = seed->file_hash.hex();
    }
    j["verified"] = ended_well(outcome);
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

// One SEED of the command: its download and how it ended.
struct Job {
    std::string arg;  // SEED as given
    std::unique_ptr<Download> download;
    std::optional<Download::Outcome> outcome;
    std::chrono::duration<double> elapsed{};
    std::uint64_t fetched = 0;  // bytes from peers, once it ended
    bool began = false;         // run() was called before any stop
};

// Every SEED read and checked before any byte moves: a usage error names the
// argument. The same seed twice, or two seeds of one name (they would write
// the same file), are usage errors too.
std::vector<DownloadOptions> read_seed_arguments(const GetCommand& cmd,
                                                 const DownloadOptions& base) {
    std::vector<DownloadOptions> out;
    std::map<SeedId, std::string> ids;         // -> the SEED that gave it
    std::map<std::string, std::string> names;  // file name -> the SEED that names it
    bool stdin_read = false;
    for (const auto& text : cmd.seeds) {
        if (text == "-") {
            if (stdin_read)
                throw CommandFailure{kExitUsage, "- (the seed on standard input) given twice"};
            stdin_read = true;
        }
        DownloadOptions o = base;
        read_seed_argument(text, o);
        const SeedId id = o.seed ? o.seed->id() : *o.seed_id;
        if (const auto [it, fresh] = ids.emplace(id, text); !fresh)
            throw CommandFailure{kExitUsage,
                                 it->second == text
                                     ? fmt::format("{} is given twice", text)
                                     : fmt::format("{} and {} are the same seed ({}): given twice",
                                                   it->second, text, id.hex())};
        if (o.seed) {
            const auto [it, fresh] = names.emplace(o.seed->name, text);
            if (!fresh)
                throw CommandFailure{
                    kExitUsage,
                    fmt::format("{} and {} both name the file {}: they cannot share one -o "
                                "directory",
                                it->second, text, o.seed->name)};
        }
        out.push_back(std::move(o));
    }
    return out;
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

    DownloadOptions base;
    base.out_dir = cmd.out_dir;
    for (const auto& hp : cmd.peers) {
        // An IP address as is; a name resolved now (every address it has).
        asio::error_code ec;
        const auto ip = asio::ip::make_address(hp.host, ec);
        if (!ec) {
            base.peers.push_back(PeerAddress{net::normalize(ip), hp.port});
            continue;
        }
        asio::ip::tcp::resolver resolver(ex);
        const auto found = resolver.resolve(hp.host, std::to_string(hp.port), ec);
        if (ec) {
            log.warn("--peer {}: {}", hp.str(), ec.message());
            continue;
        }
        for (const auto& e : found)
            base.peers.push_back(
                PeerAddress{net::normalize(e.endpoint().address()), e.endpoint().port()});
    }
    base.trackers = cmd.net.trackers;
    base.force = cmd.force;
    base.announce_complete = cmd.serve;
    std::vector<DownloadOptions> each;
    try {
        each = read_seed_arguments(cmd, base);
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
    const bool several = each.size() > 1;
    // Names taken by the seeds known so far (seeds by id are known only as
    // they begin): a second seed naming the same file is refused.
    std::map<std::string, std::string> names;  // file name -> SEED
    std::vector<Job> jobs;
    jobs.reserve(each.size());
    for (std::size_t i = 0; i < each.size(); ++i) {
        Job job;
        job.arg = cmd.seeds[i];
        if (several)
            each[i].claim = [&names,
                             arg = job.arg](const Seed& seed) -> std::optional<std::string> {
                const auto [it, fresh] = names.emplace(seed.name, arg);
                if (fresh || it->second == arg) return std::nullopt;
                return fmt::format("the file {} is {}'s too; not fetched", seed.name, it->second);
            };
        job.download = std::make_unique<Download>(node, trackers, std::move(each[i]), log);
        jobs.push_back(std::move(job));
    }
    const auto metrics =
        start_metrics(cmd.net.metrics, ex, node, cmd.serve ? "get --serve" : "get");

    bool stopping = false;  // a signal or the time limit: no file begins any more
    // --serve, once complete: waits here until a signal. The same signals
    // serve both phases: one arriving as the downloads end is not lost.
    asio::steady_timer serving(ex);
    // The first signal stops the downloads cleanly (those not begun do not
    // begin); a second one ends the process at once: every NAME.part is kept
    // and a rerun resumes.
    const Interrupts interrupts(
        ex, log,
        [&] {
            stopping = true;
            for (auto& job : jobs)
                job.download->stop();
            serving.cancel();
        },
        "a rerun resumes");
    asio::steady_timer deadline(ex);
    if (cmd.timeout.count() > 0) {
        deadline.expires_after(cmd.timeout);
        deadline.async_wait([&](const asio::error_code& e) {
            if (e) return;
            stopping = true;
            for (auto& job : jobs)  // those that ended keep serving (--serve)
                if (!job.outcome) job.download->time_out();
        });
    }

    const auto started = std::chrono::steady_clock::now();
    bool running = true;
    std::optional<Progress> progress;
    asio::steady_timer tick(ex);
    auto fetched_by = [](const Swarm& swarm) {
        std::uint64_t n = 0;
        for (const auto& p : swarm.peer_stats())
            n += p.downloaded;
        return n;
    };
    // One live line for the whole command: the files whose seeds are known.
    auto show = [&]() -> net::awaitable<void> {
        while (running) {
            std::uint64_t total = 0, already = 0, verified = 0, received = 0;
            std::size_t peers = 0;
            bool begun = false;
            // Every file whose seed is known counts in the total, until it
            // fails; what was received stays counted (the rate needs a sum
            // that never goes down).
            for (const auto& job : jobs) {
                const Seed* seed = job.download->seed();
                if (job.outcome) {
                    received += job.fetched;
                    if (!ended_well(*job.outcome)) continue;
                    total += seed->length;
                    verified += seed->length;
                    already += job.download->resumed_bytes();
                    continue;
                }
                if (seed) total += seed->length;
                const auto swarm = job.download->swarm();
                if (!swarm) continue;
                begun = true;
                already += job.download->resumed_bytes();
                verified += swarm->verified_bytes();
                received += fetched_by(*swarm);
                peers += swarm->connection_count();
            }
            if (begun) {
                if (!progress) progress.emplace(mode, stderr, total, already);
                progress->set_totals(total, already);
                progress->update(verified, received, peers);
            }
            if (!co_await net::sleep_for(tick, 250ms)) break;
        }
        if (progress) progress->clear();
    };
    net::spawn(ex, show(), log, "progress");

    // What one file's end says: at once, as each ends (several files), or
    // after the live line is gone (one).
    auto report = [&](const Job& job) {
        if (progress) progress->clear();
        const Download& download = *job.download;
        const auto outcome = *job.outcome;
        // stdout: the summary, or with --json the object; stderr: problems.
        if (cmd.json) fmt::print("{}", json_summary(job.arg, download, outcome, job.elapsed));
        // With several files, a problem names the SEED it is about; files
        // a stop kept from beginning are counted at the end, not listed.
        const std::string about = several ? job.arg + ": " : std::string();
        if (several && !job.began) {
            std::fflush(stdout);
            return;
        }
        switch (outcome) {
            case Download::Outcome::kComplete: {
                const auto swarm = download.swarm();
                if (!cmd.json)
                    fmt::print("{}",
                               Progress::summary(download.target().string(), swarm->seed().length,
                                                 job.fetched, job.elapsed, swarm->peer_stats()));
                break;
            }
            case Download::Outcome::kAlreadyComplete:
                if (!cmd.json)
                    fmt::print("{} is already complete (whole-file SHA-256 verified)\n",
                               download.target().string());
                break;
            case Download::Outcome::kInterrupted:
                if (const auto swarm = download.swarm(); swarm && swarm->verified_bytes() > 0)
                    fmt::print(stderr,
                               "peer: {}interrupted with {} of {} verified; run the same command "
                               "to resume\n",
                               about, format_bytes(swarm->verified_bytes()),
                               format_bytes(swarm->seed().length));
                else if (!several)
                    fmt::print(stderr, "peer: interrupted\n");
                break;
            case Download::Outcome::kTimedOut:
            case Download::Outcome::kFailed:
            case Download::Outcome::kIntegrity:
                if (const auto swarm = download.swarm();
                    swarm && swarm->verified_bytes() > 0 && !download.finish_failed())
                    fmt::print(
                        stderr,
                        "peer: {}{}: {} of {} verified; they stay in {}.part and a rerun resumes\n",
                        about, download.message(), format_bytes(swarm->verified_bytes()),
                        format_bytes(swarm->seed().length), download.target().string());
                else
                    fmt::print(stderr, "peer: {}{}\n", about, download.message());
                break;
            case Download::Outcome::kTrackerUnreachable:
            case Download::Outcome::kUsage:
                fmt::print(stderr, "peer: {}{}\n", about, download.message());
                break;
        }
        std::fflush(stdout);
    };

    // --parallel workers take the next file until none is left. A stopped
    // download returns at once, so after a signal the rest end without
    // beginning.
    std::size_t next = 0;
    auto worker = [&]() -> net::awaitable<void> {
        while (next < jobs.size()) {
            Job& job = jobs[next++];
            const auto began = std::chrono::steady_clock::now();
            job.began = !stopping;  // a stopped download's run() returns at once
            job.outcome = co_await job.download->run();
            job.elapsed = std::chrono::steady_clock::now() - began;
            if (const auto swarm = job.download->swarm()) job.fetched = fetched_by(*swarm);
            if (several) report(job);
        }
    };
    std::vector<net::awaitable<void>> workers;
    for (std::size_t i = 0; i < std::min<std::size_t>(cmd.parallel, jobs.size()); ++i)
        workers.push_back(worker());
    co_await net::join_all(std::move(workers));
    running = false;
    tick.cancel();
    deadline.cancel();
    co_await net::sleep_for(tick, 0ms);  // let the progress line clear itself
    if (!several) {
        jobs.front().elapsed = std::chrono::steady_clock::now() - started;
        report(jobs.front());
    }

    // The exit code: the first file's (in the order given) that did not end well.
    int code = kExitOk;
    std::size_t done = 0;
    std::size_t not_begun = 0;
    for (const auto& job : jobs) {
        const auto outcome = *job.outcome;
        if (ended_well(outcome))
            ++done;
        else if (code == kExitOk)
            code = exit_code(outcome);
        if (!job.began) ++not_begun;
    }
    if (several && !cmd.json) {
        const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
        const std::string line = fmt::format(
            "{} of {} verified in {:.2f} s{}\n", done, count_of(jobs.size(), "file"), took.count(),
            not_begun > 0 ? fmt::format(" ({} not begun)", not_begun) : "");
        if (done == jobs.size())
            fmt::print("got {}", line);
        else
            fmt::print(stderr, "peer: {}", line);
        std::fflush(stdout);
    }

    if (done > 0 && cmd.serve && !interrupts.interrupted()) {
        log.info("serving {} on port {}; Ctrl-C to stop",
                 several ? count_of(done, "file") : jobs.front().download->target().string(),
                 node.port());
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
