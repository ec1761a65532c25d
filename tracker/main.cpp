// tracker: keeps who holds which seed, in SQLite, and answers peers. Parses
// and checks the command line (every bad value is one line on stderr and exit
// code 2), opens the database, listens, and runs until SIGINT or SIGTERM.
#include <fmt/format.h>
#include <sys/resource.h>
#include <CLI/CLI.hpp>

#include <csignal>
#include <exception>
#include <filesystem>

#include "common/limits.hpp"
#include "common/log.hpp"
#include "common/numbers.hpp"
#include "tracker/server.hpp"
#include "tracker/store.hpp"

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

struct UsageError {
    std::string message;
};

std::uint16_t parse_port(const std::string& text) {
    const auto v = parse_u64(text);
    if (!v || *v > 65535)
        throw UsageError{fmt::format("--port '{}': expected a number from 0 to 65535", text)};
    return static_cast<std::uint16_t>(*v);
}

std::chrono::milliseconds parse_ttl(const std::string& text) {
    const auto v = parse_u64(text);
    if (!v || *v == 0 || *v > kMaxTtlSeconds)
        throw UsageError{
            fmt::format("--ttl '{}': expected whole seconds from 1 to {}", text, kMaxTtlSeconds)};
    return std::chrono::seconds(*v);
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
    CLI::App app{"seedshare tracker: knows which peers hold which seeds"};
    std::string port_text;
    std::string host = "::";
    std::string db_path = "tracker.db";
    std::string ttl_text = std::to_string(limits::kDefaultTtl.count());
    std::string level_text = "info";
    app.add_option("--port", port_text, "TCP port to listen on (0: any free port)")->required();
    app.add_option("--host", host,
                   "IP address to listen on (default ::, all IPv6 and IPv4 addresses)");
    app.add_option("--db", db_path,
                   "SQLite database file, created if missing (default tracker.db)");
    app.add_option("--ttl", ttl_text,
                   "Seconds without a heartbeat before a peer is forgotten (default 90)");
    app.add_option("--log-level", level_text, "debug, info, warn, error or off (default info)");

    TrackerServer::Options options;
    LogLevel level = LogLevel::kInfo;
    try {
        app.parse(argc, argv);
        options.port = parse_port(port_text);
        options.ttl = parse_ttl(ttl_text);
        options.host = host;
        const auto l = parse_log_level(level_text);
        if (!l)
            throw UsageError{fmt::format(
                "--log-level '{}': expected debug, info, warn, error or off", level_text)};
        level = *l;
        asio::error_code ec;
        asio::ip::make_address(host, ec);
        if (ec)
            throw UsageError{
                fmt::format("--host '{}': expected an IP address such as :: or 127.0.0.1", host)};
        if (db_path.empty()) throw UsageError{"--db: expected a file name"};
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        fmt::print(stderr, "tracker: {}\n", e.what());
        return kExitUsage;
    } catch (const UsageError& e) {
        fmt::print(stderr, "tracker: {}\n", e.message);
        return kExitUsage;
    }

    try {
        Logger log("tracker", level);
        options.max_connections = std::min(options.max_connections, raise_descriptor_limit());
        std::error_code fs_ec;
        const auto abs = std::filesystem::absolute(db_path, fs_ec);
        const std::string shown = fs_ec ? db_path : abs.string();
        const bool existed = std::filesystem::exists(db_path, fs_ec);
        auto store = Store::open(db_path, system_now_ms, options.ttl);
        if (!store) {
            fmt::print(stderr, "tracker: {}\n", store.error().message);
            return kExitFailure;
        }
        asio::io_context io(1);
        TrackerServer server(io.get_executor(), **store, options, log);
        // Installed before the startup line: whoever reads it may signal at once.
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const asio::error_code& ec, int signo) {
            if (ec) return;
            log.info("{}: stopping", signo == SIGINT ? "SIGINT" : "SIGTERM");
            server.stop();  // closes every connection and commits the store
            io.stop();
        });
        server.start();
        fmt::print("tracker listening on {}, database {} ({}), ttl {} s, up to {} connections\n",
                   server.listen_text(), shown, existed ? "existing" : "new",
                   options.ttl.count() / 1000, options.max_connections);
        std::fflush(stdout);

        io.run();
        server.stop();
        (*store)->close();
        return kExitOk;
    } catch (const std::exception& e) {
        fmt::print(stderr, "tracker: {}\n", e.what());
        return kExitFailure;
    }
}
