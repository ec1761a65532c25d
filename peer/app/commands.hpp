// The peer program's subcommands. main.cpp parses the command line into these
// option structs (checking every value) and calls the matching run_*().
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/log.hpp"
#include "common/http/http_server.hpp"
#include "common/model/handover.hpp"
#include "peer/node/node.hpp"

namespace seedshare {

// How long a command that ends gives its connections to finish the uploads in
// flight and say goodbye (Node::stop).
inline constexpr std::chrono::milliseconds kGoodbyeGrace{5000};

// A command that cannot go on: exit with `code`, saying `message` (one line).
struct CommandFailure {
    int code;
    std::string message;
};

// Exit codes of the peer program, documented in README.md.
enum ExitCode : int {
    kExitOk = 0,
    kExitFailure = 1,             // I/O error, download could not finish
    kExitUsage = 2,               // bad command line
    kExitTrackerUnreachable = 3,  // no tracker answered at start
    kExitIntegrity = 4,           // the assembled file does not match the seed
    kExitDiffers = 5,             // status --verify: DIR is not exactly the version
    kExitInterrupted = 130,       // SIGINT/SIGTERM before the work was done
};

struct MakeSeedCommand {
    std::filesystem::path file;
    std::optional<std::filesystem::path> out;
    std::vector<HostPort> trackers;
    std::uint64_t chunk_size = 0;  // 0: default policy
};

int run_make_seed(const MakeSeedCommand& cmd);

// A new channel key (seeds/MANIFEST.md): written to `out`, never over an
// existing file; the channel id printed on stdout.
struct KeygenCommand {
    std::filesystem::path out;
};

int run_keygen(const KeygenCommand& cmd);

// Hands publishing of the channel published from DIR over to another key: a
// record signed by `key`, written to `out` (never over an existing file).
struct HandoverCommand {
    std::filesystem::path dir;
    std::filesystem::path key;
    std::string to;  // the new key's public key, 64 hex digits
    std::filesystem::path out;
};

int run_handover(const HandoverCommand& cmd);
// A hand-over record file, parsed and its signature checked; errors name the file.
Result<HandoverRecord> read_handover_record(const std::filesystem::path& path);

// Options shared by the commands that join a swarm.
struct NetworkOptions {
    std::vector<HostPort> trackers;  // empty: the seed's own trackers
    std::string host;                // listen address; empty: all interfaces
    std::uint16_t port = 0;          // 0: ephemeral
    LogLevel log_level = LogLevel::kInfo;
    std::size_t max_peers = 50;           // connections per file
    std::uint64_t max_upload_rate = 0;    // bytes/s for the process; 0: unlimited
    std::uint64_t max_download_rate = 0;  // bytes/s for the process; 0: unlimited
    std::size_t min_peers = 8;            // the pool's low-water mark (--min-peers)
    // Where the address book lives (set by each command from --state /
    // --no-state); none: in memory only.
    std::optional<std::filesystem::path> book_dir;
    std::optional<http::Address> metrics;  // --metrics: serve /metrics and /healthz there
};

// The Node of a command that joins swarms, as its network options say.
inline NodeOptions node_options(const NetworkOptions& net) {
    NodeOptions o;
    o.host = net.host;
    o.port = net.port;
    o.swarm.max_connections = net.max_peers;
    o.max_upload_rate = net.max_upload_rate;
    o.max_download_rate = net.max_download_rate;
    o.swarm.min_peers = std::min(net.min_peers, net.max_peers);
    o.state_dir = net.book_dir;
    return o;
}

struct GetCommand {
    // One or more: a seed file's path, "-" (stdin), or a seed id (64 hex digits).
    std::vector<std::string> seeds;
    unsigned parallel = 4;                           // files fetched at once
    std::vector<HostPort> peers;                     // --peer: where to start, trackers or not
    std::optional<std::filesystem::path> state_dir;  // address book; default: default_state_dir()
    bool no_state = false;
    std::filesystem::path out_dir = ".";
    NetworkOptions net;
    bool serve = false;  // keep serving once complete
    bool force = false;  // replace an existing different file
    bool quiet = false;
    bool json = false;  // the summary as one JSON object on stdout
    // Give up (exit 1) when the download has not finished by then; 0: never.
    std::chrono::milliseconds timeout{0};
};

int run_get(const GetCommand& cmd);

struct ServeCommand {
    std::filesystem::path dir;
    NetworkOptions net;
    std::optional<std::filesystem::path> state_dir;  // seed cache; default: default_state_dir()
    bool no_state = false;
    std::chrono::milliseconds rescan{2000};  // how often DIR is checked for changes
};

int run_serve(const ServeCommand& cmd);

// Publishes DIR as a channel's versions with the key in `key`, serving its
// files, until SIGINT/SIGTERM.
struct PublishCommand {
    std::filesystem::path dir;
    std::filesystem::path key;
    std::optional<std::filesystem::path> handover;  // a record naming `key` (peer handover)
    std::string name;                               // empty: DIR's own name
    NetworkOptions net;
    std::optional<std::filesystem::path> state_dir;  // seed cache
    bool no_state = false;
    std::chrono::milliseconds rescan{2000};
};

int run_publish(const PublishCommand& cmd);

// Brings DIR to a channel's latest version and follows it (or, with --once,
// exits once it is there).
struct SubscribeCommand {
    std::optional<std::filesystem::path> state_dir;  // address book; default: default_state_dir()
    bool no_state = false;
    std::string channel;  // 64 hex digits (checked by main)
    std::filesystem::path dir;
    NetworkOptions net;
    bool once = false;
    std::chrono::milliseconds rescan{2000};
};

int run_subscribe(const SubscribeCommand& cmd);

// Keeps a copy of every seed the trackers list in DIR and serves it, until
// SIGINT/SIGTERM (peer/backup/backup.hpp).
struct BackupCommand {
    std::filesystem::path dir;
    NetworkOptions net;  // trackers: at least one (default 127.0.0.1:7000)
    std::optional<std::filesystem::path> state_dir;  // address book; default: default_state_dir()
    bool no_state = false;
    std::uint64_t max_size = 0;  // bytes held in all; 0: no quota
    std::chrono::milliseconds poll{3000};
    std::vector<std::string> channels;  // 64 hex digits each; empty: every channel listed
    bool no_channels = false;           // follow no channel
    std::size_t keep_versions = 1;      // of each channel: the latest and N-1 before it
};

int run_backup(const BackupCommand& cmd);

// Where DIR stands: its channel, the version applied, the latest a tracker
// knows, and what differs locally (without hashing).
struct StatusCommand {
    std::filesystem::path dir;
    std::vector<HostPort> trackers;  // asked for the latest version; none: not asked
    // Re-hash every file against the latest signed version held here and
    // list every difference: exit 0 clean, kExitDiffers on a difference,
    // kExitFailure when it cannot tell (state unreadable, signature fails).
    bool verify = false;
};

int run_status(const StatusCommand& cmd);

struct ListCommand {
    std::vector<HostPort> trackers;
    bool json = false;      // one JSON object on stdout instead of the table
    std::string filter;     // only names containing this (empty: all)
    bool channels = false;  // the channels instead of the files
    LogLevel log_level = LogLevel::kWarn;
};

int run_list(const ListCommand& cmd);

}  // namespace seedshare
