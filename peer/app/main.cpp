// peer: make seeds, share a directory, download a file. Parses and checks the
// command line; every bad value is one line on stderr and exit code 2.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <exception>
#include <limits>

#include "common/core/cli_values.hpp"
#include "common/core/limits.hpp"
#include "common/core/version.hpp"
#include "peer/app/commands.hpp"

namespace {

using namespace seedshare;

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

std::chrono::milliseconds to_ms(double seconds) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
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

// The largest rate a user can ask for (1 TiB/s): far above any link, and far
// from overflowing the limiter's arithmetic.
constexpr std::uint64_t kMaxRate = std::uint64_t{1} << 40;

// --tracker takes one value each time it is given: CLI11 would read
// "--tracker a b" as two trackers, and "[::1]" as a list (losing the brackets
// that make it an IPv6 address).
CLI::Option* one_tracker_each(CLI::Option* o) {
    return o->type_name("HOST:PORT")->allow_extra_args(false);
}

// The options every networked command takes, as text until checked.
struct NetworkText {
    std::vector<std::string> trackers;
    std::string port = "0";
    std::string host;
    std::string log_level = "info";
    std::string max_peers = "50";
    std::string max_upload_rate;
    std::string max_download_rate;
    std::string min_peers = "8";
    std::string metrics;

    void add_to(CLI::App* cmd, const char* tracker_help) {
        one_tracker_each(cmd->add_option("--tracker", trackers, tracker_help));
        cmd->add_option("--port", port, "Port to accept peers on (default: any free port)")
            ->type_name("PORT");
        cmd->add_option("--host", host, "IP address to accept peers on (default: all)")
            ->type_name("ADDR");
        cmd->add_option("--log-level", log_level, "debug, info, warn, error or off (default info)")
            ->type_name("LEVEL");
        cmd->add_option("--max-peers", max_peers,
                        fmt::format("Connections per file, 1 to {} (default 50)",
                                    limits::kMaxPeerConnections))
            ->type_name("N");
        cmd->add_option("--max-upload-rate", max_upload_rate,
                        "Upload limit for the process in bytes/s, e.g. 20M (default: none)")
            ->type_name("RATE");
        cmd->add_option("--max-download-rate", max_download_rate,
                        "Download limit for the process in bytes/s, e.g. 512K (default: none)")
            ->type_name("RATE");
        cmd->add_option(
               "--min-peers", min_peers,
               "Below this many connections ask peers, then trackers, for more (default 8)")
            ->type_name("N");
        cmd->add_option("--metrics", metrics,
                        "Serve /metrics (Prometheus) and /healthz on this address, e.g. "
                        "127.0.0.1:9100 (default: none)")
            ->type_name("HOST:PORT");
    }
    static std::uint64_t rate(const char* option, const std::string& text) {
        if (text.empty()) return 0;
        return checked(size_option(option, text, 1, kMaxRate, "bytes per second"));
    }
    NetworkOptions check() const {
        NetworkOptions o;
        o.trackers = parse_trackers(trackers);
        o.port = checked(port_option("--port", port));
        if (!host.empty()) o.host = checked(ip_option("--host", host));
        o.log_level = checked(log_level_option("--log-level", log_level));
        o.max_peers = static_cast<std::size_t>(
            checked(whole_option("--max-peers", max_peers, 1, limits::kMaxPeerConnections)));
        o.max_upload_rate = rate("--max-upload-rate", max_upload_rate);
        o.max_download_rate = rate("--max-download-rate", max_download_rate);
        o.min_peers = static_cast<std::size_t>(
            checked(whole_option("--min-peers", min_peers, 1, limits::kMaxPeerConnections)));
        if (!metrics.empty()) o.metrics = checked(http::parse_address("--metrics", metrics));
        return o;
    }
};

// Help footers: an example, then the exit codes (as README.md says).
constexpr std::string_view kExitCodes =
    "Exit codes:\n"
    "  0    done\n"
    "  1    failed (I/O error, unreadable file, download could not finish)\n"
    "  2    bad command line (the one-line message names the problem)\n"
    "  3    no tracker could be reached at start (get: and no peer known)\n"
    "  4    the assembled file does not match the seed's whole-file hash\n"
    "  5    status --verify: the directory differs from the version (each difference listed)\n"
    "  130  interrupted (SIGINT/SIGTERM) before the work was done, or a second signal\n"
    "       during the ordered stop; a rerun resumes";

constexpr std::string_view kUnits =
    "Sizes and rates:\n"
    "  SIZE and RATE are bytes (per second), with an optional suffix in any case: K, KB or\n"
    "  KiB = 1024; M, MB or MiB = 1024^2; G, GB or GiB = 1024^3. With a suffix a decimal is\n"
    "  allowed (1.5M) and rounded down to whole bytes.";

std::string footer(std::string_view examples, bool units = false) {
    return fmt::format("Examples:\n{}\n\n{}{}{}\n", examples, units ? kUnits : "",
                       units ? "\n\n" : "", kExitCodes);
}

// What to say about an argument CLI11 could not place. `command` takes a
// path as its positional argument, so "-name" may be a file the user meant.
std::string unknown_argument(const std::string& arg, const CLI::App& command, bool takes_path) {
    const std::string where = command.get_parent() == nullptr
                                  ? std::string("peer --help")
                                  : fmt::format("peer {} --help", command.get_name());
    if (arg.size() < 2 || arg[0] != '-')
        return fmt::format("unexpected argument '{}' (see {})", arg, where);
    if (takes_path && arg[1] != '-')
        return fmt::format(
            "unknown option '{}'; if it is a file name, write ./{} or put -- before it", arg, arg);
    const auto eq = arg.find('=');
    return fmt::format("unknown option '{}' (see {})", arg.substr(0, eq), where);
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "seedshare peer: make seeds, share files, download them from several peers at once",
        "peer"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Show help for every subcommand");
    app.set_version_flag("--version", fmt::format("peer (seedshare) {}", kVersion),
                         "Print the version and exit");
    app.get_formatter()->column_width(30);
    app.get_formatter()->label("REQUIRED", "(required)");
    app.footer(
        footer("  peer make-seed big.iso --tracker tracker.example.org:7000\n"
               "  peer serve ~/share\n"
               "  peer get big.iso.seed -o ~/Downloads\n"
               "  peer list --tracker tracker.example.org:7000\n"
               "\n"
               "Run peer COMMAND --help for the options of a command."));

    MakeSeedCommand make_seed;
    std::string out_text;
    std::vector<std::string> seed_trackers;
    std::string chunk_size_text;
    auto* ms =
        app.add_subcommand("make-seed", "Write FILE.seed: name, length, chunk hashes, trackers");
    ms->add_option("FILE", make_seed.file, "The file to seed (a regular file)")
        ->required()
        ->type_name("");
    ms->add_option("-o,--out", out_text,
                   "Where to write the seed (default FILE.seed; - for stdout)")
        ->type_name("FILE");
    one_tracker_each(
        ms->add_option("--tracker", seed_trackers,
                       "Tracker to list in the seed, repeatable (default 127.0.0.1:7000)"));
    ms->add_option("--chunk-size", chunk_size_text,
                   "Bytes per chunk, 1 to 16M (default: about 1024 chunks, 256K..16M)")
        ->type_name("SIZE");
    ms->footer(
        footer("  peer make-seed big.iso --tracker tracker.example.org:7000\n"
               "  peer make-seed -o - ./-odd-name.txt > odd.seed",
               true));

    ServeCommand serve;
    NetworkText serve_net;
    std::string state_text;
    std::string rescan_text = "2";
    auto* sv = app.add_subcommand("serve", "Share every file under DIR with whoever asks");
    sv->add_option("DIR", serve.dir, "The directory to share")->required()->type_name("");
    serve_net.add_to(sv, "Tracker to announce to, repeatable (default: each seed's own)");
    sv->add_option("--state", state_text,
                   "Where to remember seeds between runs (default ~/.local/state/seedshare)")
        ->type_name("DIR");
    sv->add_flag("--no-state", serve.no_state, "Remember nothing between runs");
    sv->add_option("--rescan", rescan_text,
                   "Seconds between checks of DIR for changes, 0.05 to 3600 (default 2)")
        ->type_name("SECONDS");
    sv->footer(footer(
        "  peer serve ~/share --tracker tracker.example.org:7000 --max-upload-rate 20M", true));

    GetCommand get;
    NetworkText get_net;
    std::string get_out = ".";
    auto* gt = app.add_subcommand("get", "Download files from their swarms, verified");
    gt->add_option("SEED", get.seeds,
                   "A seed file, - (the seed on stdin), or a seed id (64 hex digits) to fetch "
                   "from the tracker; several for several files")
        ->required()
        ->type_name("");
    std::string get_parallel_text = "4";
    gt->add_option("--parallel", get_parallel_text,
                   "With several SEEDs: files fetched at once (default 4)")
        ->type_name("N");
    gt->add_option("-o,--out", get_out,
                   "Directory to write the file into, created if missing (default: current)")
        ->type_name("DIR");
    get_net.add_to(gt, "Tracker to ask, repeatable (default: the seed's own)");
    std::vector<std::string> get_peers;
    one_tracker_each(gt->add_option("--peer", get_peers,
                                    "A peer to start from, repeatable (works with every "
                                    "tracker down)"));
    std::string get_state_text;
    gt->add_option("--state", get_state_text,
                   "Where the address book is kept (default ~/.local/state/seedshare)")
        ->type_name("DIR");
    gt->add_flag("--no-state", get.no_state, "Remember no peers between runs");
    gt->add_flag("--serve", get.serve, "Keep serving the file once complete");
    gt->add_flag("--force", get.force,
                 "Replace an existing different file of that name, and take over a NAME.part "
                 "that seedshare did not make for this seed");
    gt->add_flag("-q,--quiet", get.quiet, "Nothing on stderr but errors (no progress line)");
    gt->add_flag("--json", get.json,
                 "Print the summary as one JSON object on stdout (one line per SEED)");
    std::string timeout_text = "0";
    gt->add_option("--timeout", timeout_text,
                   "Give up when not done after this many seconds (default 0: never)")
        ->type_name("SECONDS");
    gt->footer(
        footer("  peer get big.iso.seed -o ~/Downloads --max-download-rate 5M\n"
               "  peer get *.seed -o ~/Downloads --parallel 8",
               true));

    ListCommand list;
    std::vector<std::string> list_trackers;
    auto* ls = app.add_subcommand("list", "List the files (or the channels) a tracker knows");
    one_tracker_each(ls->add_option("--tracker", list_trackers,
                                    "Tracker to ask, repeatable (default 127.0.0.1:7000)"));
    ls->add_flag("--json", list.json, "Print one JSON object on stdout instead of the table");
    ls->add_option("--filter", list.filter, "Only files (or channels) whose name contains NAME")
        ->type_name("NAME");
    ls->add_flag("--channels", list.channels,
                 "List the channels instead: name, version, files, size, subscribers, id");
    ls->footer(
        footer("  peer list --tracker tracker.example.org:7000 --filter .iso\n"
               "  peer list --channels --tracker tracker.example.org:7000"));

    KeygenCommand keygen;
    auto* kg = app.add_subcommand("keygen", "Make a new channel key; print the channel id");
    kg->add_option("-o,--out", keygen.out,
                   "Where to write the key (mode 0600; never over an existing file)")
        ->required()
        ->type_name("FILE");
    kg->footer(footer("  peer keygen -o ~/.config/seedshare/site.key"));

    HandoverCommand handover;
    auto* ho = app.add_subcommand(
        "handover", "Hand publishing of the channel published from DIR over to another key");
    ho->add_option("DIR", handover.dir, "The publisher's directory (its last version)")
        ->required()
        ->type_name("");
    ho->add_option("--key", handover.key, "The key that publishes the channel now")
        ->required()
        ->type_name("FILE");
    ho->add_option("--to", handover.to, "The new key's public key (what peer keygen prints)")
        ->required()
        ->type_name("KEY");
    ho->add_option("-o,--out", handover.out,
                   "Where to write the hand-over record (never over an existing file)")
        ->required()
        ->type_name("FILE");
    ho->footer(
        footer("  peer keygen -o new.key     # on the new machine; prints its public key\n"
               "  peer handover ~/site --key site.key --to PUBKEY -o site.handover\n"
               "  peer publish ~/site --key new.key --handover site.handover   # new machine"));

    PublishCommand publish;
    NetworkText publish_net;
    std::string publish_state_text;
    std::string publish_rescan_text = "2";
    auto* pb = app.add_subcommand(
        "publish", "Publish DIR as a channel: a signed version whenever its content changes");
    pb->add_option("DIR", publish.dir, "The directory to publish")->required()->type_name("");
    pb->add_option("--key", publish.key, "The channel's key (peer keygen)")
        ->required()
        ->type_name("FILE");
    pb->add_option("--handover", publish.handover,
                   "A hand-over record naming this key (peer handover): publish the channel it "
                   "names")
        ->type_name("FILE");
    pb->add_option("--name", publish.name, "The channel's name, for people (default: DIR's name)")
        ->type_name("NAME");
    publish_net.add_to(pb, "Tracker to announce to, repeatable (default 127.0.0.1:7000)");
    pb->add_option("--state", publish_state_text,
                   "Where to remember seeds between runs (default ~/.local/state/seedshare)")
        ->type_name("DIR");
    pb->add_flag("--no-state", publish.no_state, "Remember no seeds between runs");
    pb->add_option("--rescan", publish_rescan_text,
                   "Seconds between checks of DIR for changes, 0.05 to 3600 (default 2)")
        ->type_name("SECONDS");
    pb->footer(
        footer("  peer keygen -o site.key\n"
               "  peer publish ~/site --key site.key --tracker tracker.example.org:7000",
               true));

    SubscribeCommand subscribe;
    NetworkText subscribe_net;
    std::string subscribe_rescan_text = "2";
    auto* sb = app.add_subcommand(
        "subscribe", "Bring DIR to a channel's latest version, then follow every new one");
    sb->add_option("CHANNEL", subscribe.channel, "The channel id (64 hex digits)")
        ->required()
        ->type_name("");
    sb->add_option("DIR", subscribe.dir, "The directory to keep current (created if missing)")
        ->required()
        ->type_name("");
    subscribe_net.add_to(sb, "Tracker to ask, repeatable (default 127.0.0.1:7000)");
    sb->add_flag("--once", subscribe.once, "Exit once DIR holds the latest version known");
    std::string subscribe_state_text;
    sb->add_option("--state", subscribe_state_text,
                   "Where the address book is kept (default ~/.local/state/seedshare)")
        ->type_name("DIR");
    sb->add_flag("--no-state", subscribe.no_state, "Remember no peers between runs");
    sb->add_option("--rescan", subscribe_rescan_text,
                   "Seconds between checks of DIR for local edits, 0.05 to 3600 (default 2)")
        ->type_name("SECONDS");
    sb->footer(
        footer("  peer subscribe 87ee5a75...34ac ~/site --tracker tracker.example.org:7000", true));

    BackupCommand backup;
    NetworkText backup_net;
    std::string backup_state_text;
    std::string backup_max_size;
    std::string backup_poll_text = "3";
    auto* bk = app.add_subcommand(
        "backup", "Keep a copy of every file the trackers list in DIR, and serve it");
    bk->add_option("DIR", backup.dir, "Where the copies live (created if missing)")
        ->required()
        ->type_name("");
    backup_net.add_to(bk, "Tracker to follow, repeatable (default 127.0.0.1:7000)");
    bk->add_option("--max-size", backup_max_size,
                   "Bytes to hold in all, files and channels, e.g. 500G; a file or channel "
                   "version that would not fit is skipped and named (default: no limit but the "
                   "disk)")
        ->type_name("SIZE");
    bk->add_option("--poll", backup_poll_text,
                   "Seconds between asking the trackers what they list, 0.05 to 3600 (default 3)")
        ->type_name("SECONDS");
    bk->add_option("--channel", backup.channels,
                   "Follow only this channel (64 hex digits), repeatable (default: every "
                   "channel the trackers list)")
        ->type_name("ID");
    bk->add_flag("--no-channels", backup.no_channels, "Follow no channel, only files");
    std::string backup_keep = "1";
    bk->add_option("--keep-versions", backup_keep,
                   "Versions of each channel to keep and serve: the latest and the N-1 before it "
                   "(1 to 1000, default 1)")
        ->type_name("N");
    bk->add_option("--state", backup_state_text,
                   "Where the address book is kept (default ~/.local/state/seedshare)")
        ->type_name("DIR");
    bk->add_flag("--no-state", backup.no_state, "Remember no peers between runs");
    bk->footer(footer(
        "  peer backup /srv/backup --tracker tracker.example.org:7000 --max-size 500G", true));

    StatusCommand status;
    std::vector<std::string> status_trackers;
    auto* st = app.add_subcommand("status", "Where a channel directory stands");
    st->add_option("DIR", status.dir, "A directory that was published or subscribed to")
        ->required()
        ->type_name("");
    one_tracker_each(st->add_option("--tracker", status_trackers,
                                    "Tracker to ask for the latest version, repeatable"));
    st->add_flag("--verify", status.verify,
                 "Re-hash every file against the latest signed version held here and list every "
                 "difference (missing, edited, extra); exit 0 when none, 5 when any, 1 on error");
    st->footer(
        footer("  peer status ~/site --tracker tracker.example.org:7000\n"
               "  peer status ~/site --verify"));

    // The command line was refused: name the first argument nobody took, if
    // any (so "peer --bogus" is an unknown option, not a missing command).
    const auto refused = [&](const std::string& cli11_message) -> std::string {
        for (auto* cmd : {ms, sv, gt, ls, kg, pb, sb, bk, st}) {
            if (!cmd->parsed()) continue;
            const auto extra = cmd->remaining();
            if (!extra.empty())
                return unknown_argument(extra.front(), *cmd, cmd != ls && cmd != kg);
        }
        const auto extra = app.remaining();
        if (!extra.empty()) return unknown_argument(extra.front(), app, false);
        return fmt::format(
            "{}{}", cli11_message,
            argc < 2 ? fmt::format(" (one of: {}; see --help)", subcommand_names(app)) : "");
    };

    try {
        if (argc >= 2 && argv[1][0] != '-' && !has_subcommand(app, argv[1]))
            throw UsageError{fmt::format("unknown command '{}' (expected one of: {})", argv[1],
                                         subcommand_names(app))};
        app.parse(argc, argv);
        if (ms->parsed()) {
            make_seed.trackers = parse_trackers(seed_trackers);
            if (make_seed.trackers.empty()) make_seed.trackers.push_back(kDefaultTracker);
            if (!chunk_size_text.empty())
                make_seed.chunk_size =
                    checked(size_option("--chunk-size", chunk_size_text, 1, limits::kMaxChunkSize));
            if (!out_text.empty()) make_seed.out = out_text;
            return run_make_seed(make_seed);
        }
        if (sv->parsed()) {
            serve.net = serve_net.check();
            if (!state_text.empty()) serve.state_dir = state_text;
            serve.rescan = to_ms(checked(seconds_option("--rescan", rescan_text, 0.05, 3600)));
            return run_serve(serve);
        }
        if (gt->parsed()) {
            get.net = get_net.check();
            get.out_dir = get_out;
            get.timeout = to_ms(checked(seconds_option("--timeout", timeout_text, 0, 1e7)));
            get.parallel = static_cast<unsigned>(
                checked(whole_option("--parallel", get_parallel_text, 1, limits::kMaxGetParallel)));
            for (const auto& t : get_peers) {
                auto hp = parse_host_port(t);
                if (!hp) throw UsageError{fmt::format("--peer {}", hp.error().message)};
                get.peers.push_back(*hp);
            }
            if (get.peers.size() > limits::kPexMaxAdded)
                throw UsageError{fmt::format("at most {} --peer options", limits::kPexMaxAdded)};
            if (!get_state_text.empty()) get.state_dir = get_state_text;
            return run_get(get);
        }
        if (ls->parsed()) {
            list.trackers = parse_trackers(list_trackers);
            if (list.trackers.empty()) list.trackers.push_back(kDefaultTracker);
            return run_list(list);
        }
        if (kg->parsed()) return run_keygen(keygen);
        if (ho->parsed()) return run_handover(handover);
        if (pb->parsed()) {
            publish.net = publish_net.check();
            if (publish.net.trackers.empty()) publish.net.trackers.push_back(kDefaultTracker);
            if (!publish_state_text.empty()) publish.state_dir = publish_state_text;
            publish.rescan =
                to_ms(checked(seconds_option("--rescan", publish_rescan_text, 0.05, 3600)));
            return run_publish(publish);
        }
        if (sb->parsed()) {
            subscribe.net = subscribe_net.check();
            if (subscribe.net.trackers.empty()) subscribe.net.trackers.push_back(kDefaultTracker);
            if (!subscribe_state_text.empty()) subscribe.state_dir = subscribe_state_text;
            subscribe.rescan =
                to_ms(checked(seconds_option("--rescan", subscribe_rescan_text, 0.05, 3600)));
            return run_subscribe(subscribe);
        }
        if (bk->parsed()) {
            backup.net = backup_net.check();
            if (backup.net.trackers.empty()) backup.net.trackers.push_back(kDefaultTracker);
            if (!backup_state_text.empty()) backup.state_dir = backup_state_text;
            if (!backup_max_size.empty())
                backup.max_size = checked(size_option("--max-size", backup_max_size, 1,
                                                      std::numeric_limits<std::int64_t>::max()));
            backup.poll = to_ms(checked(seconds_option("--poll", backup_poll_text, 0.05, 3600)));
            backup.keep_versions = static_cast<std::size_t>(
                checked(whole_option("--keep-versions", backup_keep, 1, 1000)));
            if (backup.no_channels && backup.keep_versions != 1)
                throw UsageError{"--keep-versions and --no-channels cannot go together"};
            if (backup.no_channels && !backup.channels.empty())
                throw UsageError{"--channel and --no-channels cannot go together"};
            return run_backup(backup);
        }
        if (st->parsed()) {
            status.trackers = parse_trackers(status_trackers);
            return run_status(status);
        }
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        fmt::print(stderr, "peer: {}\n", refused(e.what()));
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
