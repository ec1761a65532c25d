// tracker: keeps who holds which seed, in SQLite, and answers peers. Parses
// and checks the command line (every bad value is one line on stderr and exit
// code 2), opens the database, listens, and runs until SIGINT or SIGTERM.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <exception>
#include <filesystem>
#include <optional>

#include "common/core/address.hpp"
#include "common/core/cli_values.hpp"
#include "common/core/limits.hpp"
#include "common/core/log.hpp"
#include "common/core/version.hpp"
#include "common/http/http_server.hpp"
#include "tracker/etcd/cluster.hpp"
#include "tracker/etcd/registry.hpp"
#include "tracker/http/tracker_http.hpp"
#include "tracker/server/server.hpp"
#include "tracker/sqlite/store.hpp"

namespace {

using namespace seedshare;
using namespace seedshare::tracker;

// Exit codes, documented in README.md.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;  // database or listening failed
constexpr int kExitUsage = 2;    // bad command line

constexpr std::uint64_t kMaxTtlSeconds = 24 * 3600;
// Threads that wait on etcd for the sessions (each call blocks one).
constexpr std::size_t kEtcdRegistryThreads = 16;
// Descriptors kept for the database, the listener and stdio.
constexpr std::size_t kReservedDescriptors = 32;
// --max-connections: a bound on the option itself (each connection costs a descriptor).
constexpr std::uint64_t kMaxConnectionsOption = 10'000'000;

constexpr std::string_view kFooter =
    "Example:\n"
    "  tracker --port 7000 --db /var/lib/seedshare/tracker.db --http 127.0.0.1:7080\n"
    "  tracker --port 7000 --etcd http://10.0.0.1:2379,http://10.0.0.2:2379 \\\n"
    "          --cluster-name prod --advertise 10.0.0.5:7000\n"
    "\n"
    "Exit codes:\n"
    "  0  stopped by SIGINT or SIGTERM\n"
    "  1  the database or etcd cannot be used, or the address cannot be listened on\n"
    "  2  bad command line (the one-line message names the problem)\n";

// A database file this run created and must not leave behind if it cannot
// start: SQLite's companions too.
void remove_new_database(const std::string& path) {
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
        std::filesystem::remove(path + suffix, ec);
}

// So that thousands of peers can connect: the soft limit is often 1024.
// Returns the descriptors available for connections.
std::size_t raise_descriptor_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return limits::kMaxTrackerConnections;
    if (rl.rlim_cur < rl.rlim_max) {
        rlimit want = rl;
        want.rlim_cur = rl.rlim_max == RLIM_INFINITY ? (1u << 20) : rl.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &want) == 0) rl = want;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (1u << 30)) return 1u << 30;
    return rl.rlim_cur > kReservedDescriptors ? rl.rlim_cur - kReservedDescriptors : 1;
}

// --max-connections as the descriptors allow; says so when they do not and
// the number was given (the default is capped quietly).
std::size_t connections_allowed(std::size_t asked, bool given, Logger& log) {
    const std::size_t available = raise_descriptor_limit();
    if (available >= asked) return asked;
    if (given)
        log.warn(
            "--max-connections {}: only {} descriptors are available (ulimit -n), so at most {} "
            "connections",
            asked, available + kReservedDescriptors, available);
    return available;
}

// Runs until SIGINT or SIGTERM with the peer table in etcd, as a member of
// the cluster `name`.
int run_cluster(TrackerServer::Options options, Logger& log,
                const std::vector<std::string>& endpoints, const std::string& name,
                std::string advertise, const std::optional<http::Address>& http_address) {
    etcd::EtcdClient client(etcd::EtcdClient::Options{endpoints});
    etcd::EtcdRegistry::Options ro;
    ro.cluster = name;
    etcd::EtcdRegistry registry(client, ro, system_now_ms, options.ttl);
    asio::io_context io(1);
    std::optional<etcd::ClusterMember> member;
    options.registry_threads = kEtcdRegistryThreads;
    options.sweeps = [&member] { return member && member->is_leader(); };
    options.cluster = [&member] {
        std::vector<HostPort> out;
        if (!member) return out;
        for (const auto& m : member->members())
            if (auto hp = parse_host_port(m)) out.push_back(*hp);
        return out;
    };
    // Counted on the I/O thread, read by the HTTP threads (atomics).
    auto counters = std::make_shared<RequestCounters>();
    if (http_address)
        options.on_request = [counters](std::uint8_t type, std::chrono::nanoseconds took) {
            counters->observe(type, took);
        };
    TrackerServer server(io.get_executor(), registry, options, log);
    std::optional<TrackerHttp> http_endpoints;
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const asio::error_code& ec, int signo) {
        if (ec) return;
        log.info("{}: stopping", signo == SIGINT ? "SIGINT" : "SIGTERM");
        server.stop();
        io.stop();
    });
    server.start();
    if (advertise.empty()) advertise = fmt::format("127.0.0.1:{}", server.port());
    if (http_address) {
        // Its reads (stats, listings, holders) come from the registry's local
        // table: cheap on the I/O thread.
        TrackerHttp::Options http_options;
        http_options.address = *http_address;
        http_options.cluster = [&member, name, advertise] {
            ClusterView v;
            v.name = name;
            v.self = advertise;
            if (member) {
                v.leader = member->leader();
                v.members = member->members();
                v.etcd_reachable = member->etcd_reachable();
            }
            return v;
        };
        http_endpoints.emplace(io.get_executor(), registry, server, counters, http_options,
                               log.sub("http"));
        try {
            http_endpoints->start();
        } catch (const std::exception& e) {
            server.stop();
            fmt::print(stderr, "tracker: {}\n", e.what());
            return kExitFailure;
        }
    }
    member.emplace(client, etcd::ClusterMember::Options{name, advertise}, log.sub("cluster"));
    try {
        member->start();
    } catch (const etcd::EtcdError& e) {
        server.stop();
        fmt::print(stderr, "tracker: cannot join the cluster: {}\n", e.what());
        return kExitFailure;
    }
    registry.guard_sweeps(member->leader_key(), member->identity());
    fmt::print(
        "tracker listening on {}, etcd cluster '{}' ({}), advertised as {}, ttl {} s, up "
        "to {} connections\n",
        server.listen_text(), name, fmt::join(endpoints, ","), advertise,
        options.ttl.count() / 1000, options.max_connections);
    if (http_endpoints)
        fmt::print(
            "tracker http on {}: status page /, /metrics, /healthz, /api/files, "
            "/api/cluster\n",
            http_endpoints->listen_text());
    std::fflush(stdout);
    io.run();
    if (http_endpoints) http_endpoints->stop();
    server.stop();
    member->stop();
    try {
        registry.close();
    } catch (const RegistryFailure& e) {
        log.error("etcd: {}", e.what());
    }
    return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"seedshare tracker: knows which peers hold which seeds", "tracker"};
    std::string port_text;
    std::string host = "::";
    std::string db_path = "tracker.db";
    std::string ttl_text = std::to_string(limits::kDefaultTtl.count());
    std::string summary_text = "60";
    std::string level_text = "info";
    std::string http_text;
    std::string etcd_text;
    std::string cluster_name = "default";
    std::string advertise_text;
    std::string max_connections_text = std::to_string(limits::kMaxTrackerConnections);
    app.set_version_flag("--version", fmt::format("tracker (seedshare) {}", kVersion),
                         "Print the version and exit");
    app.get_formatter()->column_width(26);
    app.get_formatter()->label("REQUIRED", "(required)");
    app.footer(std::string(kFooter));
    app.add_option("--port", port_text, "TCP port to listen on (0: any free port)")
        ->required()
        ->type_name("PORT");
    app.add_option("--host", host,
                   "IP address to listen on (default ::, all IPv6 and IPv4 addresses)")
        ->type_name("ADDR");
    app.add_option("--db", db_path, "SQLite database file, created if missing (default tracker.db)")
        ->type_name("FILE");
    app.add_option("--ttl", ttl_text,
                   fmt::format("Seconds without a heartbeat before a peer is forgotten, 1 to {} "
                               "(default 90)",
                               kMaxTtlSeconds))
        ->type_name("SECONDS");
    app.add_option("--summary", summary_text,
                   "Seconds between the summary lines logged at info (default 60; 0: none)")
        ->type_name("SECONDS");
    app.add_option("--log-level", level_text, "debug, info, warn, error or off (default info)")
        ->type_name("LEVEL");
    app.add_option("--max-connections", max_connections_text,
                   fmt::format("Peer connections held at once, 1 to {} (default {}; at most the "
                               "descriptors the process may open, raised to its hard limit)",
                               kMaxConnectionsOption, limits::kMaxTrackerConnections))
        ->type_name("N");
    app.add_option("--http", http_text,
                   "Serve the status page, /metrics, /healthz and /api/* on this address "
                   "(e.g. 127.0.0.1:7080; port 0: any free port)")
        ->type_name("HOST:PORT");
    app.add_option("--etcd", etcd_text,
                   "Keep the peer table in this etcd cluster instead of --db, shared with the "
                   "other trackers on it (comma-separated http://HOST:PORT)")
        ->type_name("URLS");
    app.add_option("--cluster-name", cluster_name,
                   "With --etcd: the cluster's name, its key prefix in etcd (default default)")
        ->type_name("NAME");
    app.add_option("--advertise", advertise_text,
                   "With --etcd: the address peers reach this tracker at (default "
                   "127.0.0.1:PORT)")
        ->type_name("HOST:PORT");

    TrackerServer::Options options;
    LogLevel level = LogLevel::kInfo;
    std::optional<http::Address> http_address;
    std::vector<std::string> endpoints;
    bool max_connections_given = false;
    try {
        app.parse(argc, argv);
        options.port = checked(port_option("--port", port_text));
        options.ttl =
            std::chrono::seconds(checked(whole_option("--ttl", ttl_text, 1, kMaxTtlSeconds)));
        options.summary_interval = std::chrono::milliseconds(static_cast<std::int64_t>(
            checked(seconds_option("--summary", summary_text, 0, 86400)) * 1000));
        options.host = checked(ip_option("--host", host));
        level = checked(log_level_option("--log-level", level_text));
        options.max_connections = static_cast<std::size_t>(checked(
            whole_option("--max-connections", max_connections_text, 1, kMaxConnectionsOption)));
        max_connections_given = app.count("--max-connections") > 0;
        if (db_path.empty()) throw UsageError{"--db: expected a file name"};
        if (!http_text.empty()) http_address = checked(http::parse_address("--http", http_text));
        if (!etcd_text.empty()) {
            auto eps = etcd::parse_endpoints(etcd_text);
            if (!eps) throw UsageError{"--etcd: " + eps.error().message};
            endpoints = std::move(*eps);
            if (cluster_name.empty() || cluster_name.size() > 64 ||
                !std::all_of(cluster_name.begin(), cluster_name.end(), [](char c) {
                    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
                           c == '.';
                }))
                throw UsageError{
                    "--cluster-name: expected 1 to 64 letters, digits, '-', '_' or '.'"};
            if (!advertise_text.empty()) {
                auto hp = parse_host_port(advertise_text);
                if (!hp) throw UsageError{"--advertise: " + hp.error().message};
            }
        } else if (!advertise_text.empty() || cluster_name != "default") {
            throw UsageError{"--advertise and --cluster-name need --etcd"};
        }
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForVersion& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // An argument nobody took is named first: "tracker --bogus" is an
        // unknown option, not a missing --port.
        const auto extra = app.remaining();
        if (extra.empty()) {
            fmt::print(stderr, "tracker: {}\n", e.what());
        } else if (extra.front().starts_with("-")) {
            fmt::print(stderr, "tracker: unknown option '{}' (see tracker --help)\n",
                       extra.front().substr(0, extra.front().find('=')));
        } else {
            fmt::print(stderr, "tracker: unexpected argument '{}' (see tracker --help)\n",
                       extra.front());
        }
        return kExitUsage;
    } catch (const UsageError& e) {
        fmt::print(stderr, "tracker: {}\n", e.message);
        return kExitUsage;
    }

    if (!endpoints.empty()) {
        try {
            Logger log("tracker", level);
            options.max_connections =
                connections_allowed(options.max_connections, max_connections_given, log);
            return run_cluster(options, log, endpoints, cluster_name, advertise_text, http_address);
        } catch (const std::exception& e) {
            fmt::print(stderr, "tracker: {}\n", e.what());
            return kExitFailure;
        }
    }

    std::error_code fs_ec;
    const bool existed = std::filesystem::exists(db_path, fs_ec) || fs_ec;
    try {
        Logger log("tracker", level);
        options.max_connections =
            connections_allowed(options.max_connections, max_connections_given, log);
        const auto abs = std::filesystem::absolute(db_path, fs_ec);
        const std::string shown = fs_ec ? db_path : abs.string();
        auto store = Store::open(db_path, system_now_ms, options.ttl);
        if (!store) {
            fmt::print(stderr, "tracker: {}\n", store.error().message);
            if (!existed) remove_new_database(db_path);
            return kExitFailure;
        }
        asio::io_context io(1);
        // Counted on the I/O thread, read by the HTTP threads (atomics).
        auto counters = std::make_shared<RequestCounters>();
        if (http_address)
            options.on_request = [counters](std::uint8_t type, std::chrono::nanoseconds took) {
                counters->observe(type, took);
            };
        std::optional<TrackerServer> server;
        server.emplace(io.get_executor(), **store, options, log);
        std::optional<TrackerHttp> http_endpoints;
        // Installed before the startup line: whoever reads it may signal at once.
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const asio::error_code& ec, int signo) {
            if (ec) return;
            log.info("{}: stopping", signo == SIGINT ? "SIGINT" : "SIGTERM");
            server->stop();  // closes every connection and commits the store
            io.stop();
        });
        try {
            server->start();
            if (http_address) {
                TrackerHttp::Options http_options;
                http_options.address = *http_address;
                http_endpoints.emplace(io.get_executor(), **store, *server, counters, http_options,
                                       log.sub("http"));
                http_endpoints->start();
            }
        } catch (const std::exception& e) {
            // Nothing was served: a database this run created goes away again.
            http_endpoints.reset();
            server.reset();
            store->reset();
            if (!existed) remove_new_database(db_path);
            fmt::print(stderr, "tracker: {}\n", e.what());
            return kExitFailure;
        }
        fmt::print("tracker listening on {}, database {} ({}), ttl {} s, up to {} connections\n",
                   server->listen_text(), shown, existed ? "existing" : "new",
                   options.ttl.count() / 1000, options.max_connections);
        if (http_endpoints)
            fmt::print("tracker http on {}: status page /, /metrics, /healthz, /api/files\n",
                       http_endpoints->listen_text());
        std::fflush(stdout);

        io.run();
        if (http_endpoints) http_endpoints->stop();
        server->stop();
        (*store)->close();
        return kExitOk;
    } catch (const std::exception& e) {
        fmt::print(stderr, "tracker: {}\n", e.what());
        return kExitFailure;
    }
}
