// The real `tracker` binary: its startup line, one-line errors with exit
// code 2 (usage) or 1 (database, address), a clean exit on SIGTERM and
// SIGINT, and a database reused across restarts.
#include <doctest/doctest.h>
#include <signal.h>

#include <fmt/format.h>

#include <chrono>
#include <regex>

#include "common/core/version.hpp"

#include "test/support/process.hpp"
#include "test/support/run.hpp"
#include "test/support/temp_dir.hpp"

namespace cli_tracker_test {

using namespace seedshare::test;

namespace {

const std::string kTracker = SEEDSHARE_TRACKER_BINARY;

bool one_line(const std::string& s) {
    return !s.empty() && s.find('\n') == s.size() - 1;
}

// Starts a tracker and reads its startup line; returns the port it printed.
int started_port(Process& p, std::string* line_out = nullptr) {
    const auto line = p.read_line(20);
    REQUIRE_MESSAGE(line, "no startup line; stderr: " << p.err());
    if (line_out != nullptr) *line_out = *line;
    static const std::regex re(R"(^tracker listening on (\S+):(\d+)[ ,])");
    std::smatch m;
    REQUIRE_MESSAGE(std::regex_search(*line, m, re), *line);
    return std::stoi(m[2]);
}

}  // namespace

TEST_CASE("tracker cli: prints where it listens, and exits cleanly on SIGTERM") {
    TempDir dir;
    Process p({kTracker, "--port", "0", "--host", "127.0.0.1"}, dir.path());
    std::string line;
    const int port = started_port(p, &line);
    CHECK(port > 0);
    CHECK(line.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
    CHECK(line.find("database " + (dir / "tracker.db").string() + " (new)") != std::string::npos);
    CHECK(line.find("ttl 90 s") != std::string::npos);
    CHECK(std::filesystem::exists(dir / "tracker.db"));
    p.signal(SIGTERM);
    const auto code = p.wait(10);
    REQUIRE(code);
    CHECK(*code == 0);
    CHECK(p.err().find("error") == std::string::npos);
}

TEST_CASE("tracker cli: restart reuses the database, and SIGINT is clean too") {
    TempDir dir;
    const std::string db = (dir / "state.db").string();
    {
        Process p({kTracker, "--port", "0", "--db", db, "--ttl", "30", "--log-level", "warn"});
        std::string line;
        started_port(p, &line);
        CHECK(line.find("(new)") != std::string::npos);
        CHECK(line.find("ttl 30 s") != std::string::npos);
        p.signal(SIGINT);
        REQUIRE(p.wait(10) == 0);
    }
    {
        Process p({kTracker, "--port", "0", "--db", db});
        std::string line;
        started_port(p, &line);
        CHECK(line.find("database " + db + " (existing)") != std::string::npos);
        // A second tracker on the same database is refused while this one runs.
        auto r = run({kTracker, "--port", "0", "--db", db});
        CHECK(r.exit_code == 1);
        CHECK(one_line(r.err));
        CHECK(r.err.find("locked") != std::string::npos);
        p.signal(SIGTERM);
        REQUIRE(p.wait(10) == 0);
    }
    CHECK_FALSE(std::filesystem::exists(db + "-wal"));  // closed cleanly
}

TEST_CASE("tracker cli: the default host takes IPv4 and IPv6 where there is IPv6") {
    TempDir dir;
    Process p({kTracker, "--port", "0"}, dir.path());
    std::string line;
    started_port(p, &line);
    CHECK((line.find("[::]:") != std::string::npos || line.find("0.0.0.0:") != std::string::npos));
    p.signal(SIGTERM);
    CHECK(p.wait(10) == 0);
}

TEST_CASE("tracker cli: a port in use is a one-line error") {
    TempDir dir;
    Process first(
        {kTracker, "--port", "0", "--host", "127.0.0.1", "--db", (dir / "a.db").string()});
    const int port = started_port(first);
    auto r = run({kTracker, "--port", std::to_string(port), "--host", "127.0.0.1", "--db",
                  (dir / "b.db").string()});
    CHECK(r.exit_code == 1);
    CHECK(one_line(r.err));
    CHECK(r.err.starts_with("tracker: cannot listen on 127.0.0.1:" + std::to_string(port)));
    // The database it would have used was new: nothing of it is left behind.
    CHECK_FALSE(std::filesystem::exists(dir / "b.db"));
    CHECK_FALSE(std::filesystem::exists(dir / "b.db-wal"));
    CHECK_FALSE(std::filesystem::exists(dir / "b.db-shm"));
    // A database that was there before is kept.
    {
        Process p({kTracker, "--port", "0", "--db", (dir / "c.db").string()});
        started_port(p);
        p.signal(SIGTERM);
        REQUIRE(p.wait(10) == 0);
    }
    REQUIRE(std::filesystem::exists(dir / "c.db"));
    r = run({kTracker, "--port", std::to_string(port), "--host", "127.0.0.1", "--db",
             (dir / "c.db").string()});
    CHECK(r.exit_code == 1);
    CHECK(std::filesystem::exists(dir / "c.db"));
    first.signal(SIGTERM);
    CHECK(first.wait(10) == 0);
}

TEST_CASE("tracker cli: every bad input is one line and a non-zero exit") {
    TempDir dir;
    write_file(dir / "text.db", "not a database at all\n");
    struct Case {
        std::vector<std::string> args;
        int code;
        std::string needle;
    };
    for (const auto& c : std::vector<Case>{
             {{}, 2, "--port is required"},
             {{"--port", "70000"},
              2,
              "--port '70000': out of range (expected a whole number from 0 to 65535)"},
             {{"--port=-1"}, 2, "--port '-1': negative"},
             {{"--port", "x"}, 2, "--port 'x': not a number"},
             {{"--port", "0", "--ttl", "0"}, 2, "--ttl '0': out of range"},
             {{"--port", "0", "--ttl", "1.5"}, 2, "--ttl '1.5': not a whole number"},
             {{"--port", "0", "--max-connections", "0"}, 2, "--max-connections '0': out of range"},
             {{"--port", "0", "--max-connections", "many"},
              2,
              "--max-connections 'many': not a number"},
             {{"--port", "0", "--ttl", "soon"}, 2, "--ttl 'soon': not a number"},
             {{"--port", "0", "--summary", "often"}, 2, "--summary 'often': not a number"},
             {{"--port", "0", "--host", "example.org"},
              2,
              "--host 'example.org': not an IP address"},
             {{"--port", "0", "--log-level", "loud"}, 2, "--log-level 'loud'"},
             {{"--port", "0", "--bogus"}, 2, "unknown option '--bogus'"},
             {{"--bogus"}, 2, "unknown option '--bogus'"},
             {{"--bogus=3", "--port", "0"}, 2, "unknown option '--bogus'"},
             {{"--port", "0", "extra"}, 2, "unexpected argument 'extra'"},
             {{"--port", "0", "--db", ""}, 2, "--db"},
             {{"--port", "0", "--http", "example.org:80"},
              2,
              "--http 'example.org:80': not an IP address"},
             {{"--port", "0", "--http", "127.0.0.1"}, 2, "--http '127.0.0.1': no port"},
             {{"--port", "0", "--http", "::1:80"}, 2, "an IPv6 address goes in brackets"},
             {{"--port", "0", "--http", "127.0.0.1:70000"}, 2, "--http '70000': out of range"},
             // --http with --etcd is accepted; etcd cannot be reached here.
             {{"--port", "0", "--http", "127.0.0.1:0", "--etcd", "http://127.0.0.1:1"},
              1,
              "etcd unavailable"},
             {{"--port", "0", "--db", (dir / "text.db").string()}, 1, "not a database"},
             {{"--port", "0", "--db", (dir / "no" / "dir.db").string()}, 1, "cannot open"},
         }) {
        std::vector<std::string> argv{kTracker};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        auto r = run(argv, 20);
        CAPTURE(r.err);
        CHECK(r.exit_code == c.code);
        CHECK(one_line(r.err));
        CHECK(r.err.starts_with("tracker: "));
        CHECK(r.err.find(c.needle) != std::string::npos);
        CHECK(r.out.empty());
    }
}

TEST_CASE("tracker cli: --help has types, an example and the exit codes") {
    auto r = run({kTracker, "--help"});
    CHECK(r.exit_code == 0);
    CAPTURE(r.out);
    for (const char* needle : {"Usage: tracker", "--port PORT", "--host ADDR", "--db FILE",
                               "--ttl SECONDS", "--summary SECONDS", "--log-level LEVEL",
                               "--version", "Example:", "Exit codes:", "  2  bad command line"})
        CHECK_MESSAGE(r.out.find(needle) != std::string::npos, needle);
    for (const char* generic : {" TEXT", " UINT", " FLOAT", " INT"})
        CHECK_MESSAGE(r.out.find(generic) == std::string::npos, generic);
}

TEST_CASE("tracker cli: --version prints the project's version") {
    auto r = run({kTracker, "--version"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == fmt::format("tracker (seedshare) {}\n", seedshare::kVersion));
}

namespace {

// Waits (up to 20 s, then fails) until stderr holds `count` lines containing `needle`.
void await_stderr(Process& p, std::string_view needle, std::size_t count = 1) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    const auto seen = [&] {
        std::size_t n = 0;
        for (auto pos = p.err().find(needle); pos != std::string::npos;
             pos = p.err().find(needle, pos + 1))
            ++n;
        return n;
    };
    while (seen() < count && std::chrono::steady_clock::now() < deadline)
        p.wait(0.1);
    REQUIRE_MESSAGE(seen() >= count, "stderr so far: " << p.err());
}

}  // namespace

TEST_CASE("tracker cli: a summary line at info, joins and leaves only at debug") {
    TempDir dir;
    for (const bool debug : {false, true}) {
        CAPTURE(debug);
        Process p({kTracker, "--port", "0", "--host", "127.0.0.1", "--summary", "0.2",
                   "--log-level", debug ? "debug" : "info"},
                  dir.path());
        const int port = started_port(p);
        await_stderr(p, "summary: ");
        auto r = run(
            {SEEDSHARE_PEER_BINARY, "list", "--tracker", "127.0.0.1:" + std::to_string(port)}, 30);
        CHECK(r.exit_code == 0);
        await_stderr(p, "summary: ", 3);  // one after the peer came and went
        static const std::regex summary(
            R"(info  tracker: summary: \d+ peers? online, \d+ seeds?, \d+ channels?, \d+ connections?, \d+\.\d requests/s)");
        CHECK(std::regex_search(p.err(), summary));
        const bool told = p.err().find("joined") != std::string::npos ||
                          p.err().find("closing") != std::string::npos ||
                          p.err().find("connected") != std::string::npos;
        CHECK(told == debug);
        p.signal(SIGTERM);
        CHECK(p.wait(10) == 0);
    }
}

}  // namespace cli_tracker_test
