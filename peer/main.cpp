// peer: make seeds, share a directory, download a file. Parses and checks the
// command line; every bad value is one line on stderr and exit code 2.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <exception>

#include "common/limits.hpp"
#include "common/numbers.hpp"
#include "peer/commands.hpp"

namespace {

using namespace seedshare;

struct UsageError {
    std::string message;
};

std::vector<HostPort> parse_trackers(const std::vector<std::string>& texts) {
    std::vector<HostPort> out;
    for (const auto& t : texts) {
        auto hp = parse_host_port(t);
        if (!hp) throw UsageError{fmt::format("--tracker {}", hp.error().message)};
        if (std::find(out.begin(), out.end(), *hp) == out.end()) out.push_back(*hp);
    }
    if (out.size() > limits::kMaxTrackersPerSeed)
        throw UsageError{fmt::format("at most {} --tracker options", limits::kMaxTrackersPerSeed)};
    return out;
}

std::uint64_t parse_chunk_size(const std::string& text) {
    const auto v = parse_size(text);
    if (!v || *v == 0 || *v > limits::kMaxChunkSize)
        throw UsageError{fmt::format(
            "--chunk-size '{}': expected a size from 1 to 16M (e.g. 1M, 262144)", text)};
    return *v;
}

std::uint16_t parse_port(const std::string& text) {
    const auto v = parse_u64(text);
    if (!v || *v > 65535)
        throw UsageError{fmt::format("--port '{}': expected a number from 0 to 65535", text)};
    return static_cast<std::uint16_t>(*v);
}

LogLevel parse_level(const std::string& text) {
    const auto l = parse_log_level(text);
    if (!l)
        throw UsageError{
            fmt::format("--log-level '{}': expected debug, info, warn, error or off", text)};
    return *l;
}

bool has_subcommand(CLI::App& app, std::string_view name) {
    for (const auto* sub : app.get_subcommands({}))
        if (sub->get_name() == name) return true;
    return false;
}

std::string subcommand_names(CLI::App& app) {
    std::string names;
    for (const auto* sub : app.get_subcommands({})) {
        if (!names.empty()) names += ", ";
        names += sub->get_name();
    }
    return names;
}

// The options every networked command takes, as text until checked.
struct NetworkText {
    std::vector<std::string> trackers;
    std::string port = "0";
    std::string host;
    std::string log_level = "info";
    std::size_t max_peers = 50;
    std::string max_upload_rate;
    std::string max_download_rate;

    void add_to(CLI::App* cmd, const char* tracker_help) {
        cmd->add_option("--tracker", trackers, tracker_help);
        cmd->add_option("--port", port, "Port to accept peers on (default: any free port)");
        cmd->add_option("--host", host, "Address to accept peers on (default: all)");
        cmd->add_option("--log-level", log_level, "debug, info, warn, error or off (default info)");
        cmd->add_option("--max-peers", max_peers, "Connections per file (default 50)")
            ->check(CLI::Range(std::size_t{1}, limits::kMaxPeerConnections));
        cmd->add_option(
            "--max-upload-rate", max_upload_rate,
            "Upload limit for the process, bytes/s, K/M/G suffixes (e.g. 20M; default none)");
        cmd->add_option("--max-download-rate", max_download_rate,
                        "Download limit for the process, bytes/s, K/M/G suffixes (default none)");
    }
    static std::uint64_t rate(const char* option, const std::string& text) {
        if (text.empty()) return 0;
        const auto v = parse_size(text);
        if (!v || *v == 0)
            throw UsageError{
                fmt::format("{} '{}': expected bytes per second, e.g. 20M or 512K", option, text)};
        return *v;
    }
    NetworkOptions check() const {
        NetworkOptions o;
        o.trackers = parse_trackers(trackers);
        o.port = parse_port(port);
        o.host = host;
        o.log_level = parse_level(log_level);
        o.max_peers = max_peers;
        o.max_upload_rate = rate("--max-upload-rate", max_upload_rate);
        o.max_download_rate = rate("--max-download-rate", max_download_rate);
        return o;
    }
};

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "seedshare peer: make seeds, share files, download them from several peers at once"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Show help for every subcommand");

    MakeSeedCommand make_seed;
    std::string out_text;
    std::vector<std::string> seed_trackers;
    std::string chunk_size_text;
    auto* ms =
        app.add_subcommand("make-seed", "Write FILE.seed: name, length, chunk hashes, trackers");
    ms->add_option("FILE", make_seed.file, "The file to seed")->required();
    ms->add_option("-o,--out", out_text, "Where to write the seed (default FILE.seed)");
    ms->add_option("--tracker", seed_trackers,
                   "Tracker HOST:PORT, repeatable (default 127.0.0.1:7000)");
    ms->add_option(
        "--chunk-size", chunk_size_text,
        "Chunk size in bytes, K/M suffixes allowed (default: about 1024 chunks, 256K..16M)");

    ServeCommand serve;
    NetworkText serve_net;
    std::string state_text;
    double rescan_seconds = 2;
    auto* sv = app.add_subcommand("serve", "Share every file under DIR with whoever asks");
    sv->add_option("DIR", serve.dir, "The directory to share")->required();
    serve_net.add_to(sv, "Tracker HOST:PORT to announce to, repeatable (default: each seed's own)");
    sv->add_option("--state", state_text,
                   "Where to remember seeds between runs (default ~/.local/state/seedshare)");
    sv->add_flag("--no-state", serve.no_state, "Remember nothing between runs");
    sv->add_option("--rescan", rescan_seconds,
                   "Seconds between checks of DIR for changes (default 2)")
        ->check(CLI::Range(0.05, 3600.0));

    GetCommand get;
    NetworkText get_net;
    std::string get_out = ".";
    auto* gt = app.add_subcommand("get", "Download a file from its swarm, verified");
    gt->add_option("SEED", get.seed, "A seed file, or a seed id to fetch from the tracker")
        ->required();
    gt->add_option("-o,--out", get_out, "Directory to write the file into (default: current)");
    get_net.add_to(gt, "Tracker HOST:PORT, repeatable (default: the seed's own)");
    gt->add_flag("--serve", get.serve, "Keep serving the file once complete");
    gt->add_flag("--force", get.force, "Replace an existing different file of that name");
    gt->add_flag("-q,--quiet", get.quiet, "No progress output");
    gt->add_flag("--json", get.json, "Print the summary as one JSON object on stdout");
    double get_timeout = 0;
    gt->add_option("--timeout", get_timeout,
                   "Give up when not done after this many seconds (default: never)")
        ->check(CLI::Range(0.0, 1e7));

    ListCommand list;
    std::vector<std::string> list_trackers;
    auto* ls = app.add_subcommand("list", "List the files a tracker knows");
    ls->add_option("--tracker", list_trackers,
                   "Tracker HOST:PORT, repeatable (default 127.0.0.1:7000)");
    ls->add_flag("--json", list.json, "Print one JSON object on stdout instead of the table");
    ls->add_option("--filter", list.filter, "Only files whose name contains this text");

    try {
        if (argc >= 2 && argv[1][0] != '-' && !has_subcommand(app, argv[1]))
            throw UsageError{fmt::format("unknown command '{}' (expected one of: {})", argv[1],
                                         subcommand_names(app))};
        app.parse(argc, argv);
        if (ms->parsed()) {
            make_seed.trackers = parse_trackers(seed_trackers);
            if (make_seed.trackers.empty()) make_seed.trackers.push_back(kDefaultTracker);
            if (!chunk_size_text.empty()) make_seed.chunk_size = parse_chunk_size(chunk_size_text);
            if (!out_text.empty()) make_seed.out = out_text;
            return run_make_seed(make_seed);
        }
        if (sv->parsed()) {
            serve.net = serve_net.check();
            if (!state_text.empty()) serve.state_dir = state_text;
            serve.rescan = std::chrono::milliseconds(static_cast<long>(rescan_seconds * 1000));
            return run_serve(serve);
        }
        if (gt->parsed()) {
            get.net = get_net.check();
            get.out_dir = get_out;
            get.timeout = std::chrono::milliseconds(static_cast<long>(get_timeout * 1000));
            return run_get(get);
        }
        if (ls->parsed()) {
            list.trackers = parse_trackers(list_trackers);
            if (list.trackers.empty()) list.trackers.push_back(kDefaultTracker);
            return run_list(list);
        }
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        fmt::print(stderr, "peer: {}{}\n", e.what(),
                   argc < 2 ? fmt::format(" (one of: {}; see --help)", subcommand_names(app)) : "");
        return kExitUsage;
    } catch (const UsageError& e) {
        fmt::print(stderr, "peer: {}\n", e.message);
        return kExitUsage;
    } catch (const std::exception& e) {
        fmt::print(stderr, "peer: {}\n", e.what());
        return kExitFailure;
    }
    return kExitUsage;
}
