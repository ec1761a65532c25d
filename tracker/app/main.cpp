// tracker: keeps who holds which seed, in SQLite, and answers peers. Parses
// and checks the command line (every bad value is one line on stderr and exit
// code 2), opens the database, listens, and runs until SIGINT or SIGTERM.
#include <fmt/format.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <exception>
#include <filesystem>
#include <optional>

#include "common/core/cli_values.hpp"
#include "common/core/limits.hpp"
#include "common/core/log.hpp"
#include "common/core/version.hpp"
#include "common/http/http_server.hpp"
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
// Descriptors kept for the database, the listener and stdio.
constexpr std::size_t kReservedDescriptors = 32;

constexpr std::string_view kFooter =
    "Example:\n"
    "  tracker --port 7000 --db /var/lib/seedshare/tracker.db --http 127.0.0.1:7080\n"
    "\n"
    "Exit codes:\n"
    "  0  stopped by SIGINT or SIGTERM\n"
    "  1  the database cannot be used, or the address cannot be listened on\n"
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
    app.add_option("--http", http_text,
                   "Serve the status page, /metrics, /healthz and /api/* on this address "
                   "(e.g. 127.0.0.1:7080; port 0: any free port)")
        ->type_name("HOST:PORT");

    TrackerServer::Options options;
    LogLevel level = LogLevel::kInfo;
    std::optional<http::Address> http_address;
    try {
        app.parse(argc, argv);
        options.port = checked(port_option("--port", port_text));
        options.ttl =
            std::chrono::seconds(checked(whole_option("--ttl", ttl_text, 1, kMaxTtlSeconds)));
        options.summary_interval = std::chrono::milliseconds(static_cast<std::int64_t>(
            checked(seconds_option("--summary", summary_text, 0, 86400)) * 1000));
        options.host = checked(ip_option("--host", host));
        level = checked(log_level_option("--log-level", level_text));
        if (db_path.empty()) throw UsageError{"--db: expected a file name"};
        if (!http_text.empty()) http_address = checked(http::parse_address("--http", http_text));
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

    std::error_code fs_ec;
    const bool existed = std::filesystem::exists(db_path, fs_ec) || fs_ec;
    try {
        Logger log("tracker", level);
        options.max_connections = std::min(options.max_connections, raise_descriptor_limit());
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
