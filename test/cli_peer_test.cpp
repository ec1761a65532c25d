// The real `peer` binary's command line: --version, unknown options, messages
// that name the problem, exit code 2 for every bad value, sizes and rates as
// users type them, and the help of every command.
#include <doctest/doctest.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>

#include "common/core/version.hpp"
#include "common/model/seed.hpp"
#include "test/support/run.hpp"
#include "test/support/temp_dir.hpp"

namespace cli_peer_test {

using namespace seedshare;
using namespace seedshare::test;

namespace {

const std::string kPeer = SEEDSHARE_PEER_BINARY;

bool one_line(const std::string& s) {
    return !s.empty() && s.find('\n') == s.size() - 1;
}

bool has(const std::string& haystack, std::string_view needle) {
    return haystack.find(needle) != std::string::npos;
}

struct Refusal {
    std::vector<std::string> args;
    std::string needle;
};

// Each command line is refused before any work: one line naming the
// problem, exit code 2, nothing on stdout.
void check_refused(const std::vector<Refusal>& cases) {
    for (const auto& c : cases) {
        std::vector<std::string> argv{kPeer};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        auto r = run(argv, 30);
        const std::string args = fmt::format("{}", fmt::join(c.args, " "));
        CAPTURE(args);
        CAPTURE(r.err);
        CHECK(r.exit_code == 2);
        CHECK(one_line(r.err));
        CHECK(r.err.starts_with("peer: "));
        CHECK(has(r.err, c.needle));
        CHECK(r.out.empty());
    }
}

}  // namespace

TEST_CASE("cli peer: --version prints the project's version") {
    auto r = run({kPeer, "--version"});
    CHECK(r.exit_code == 0);
    CHECK(r.out == fmt::format("peer (seedshare) {}\n", kVersion));
    CHECK(r.err.empty());
}

TEST_CASE("cli peer: unknown options are named as unknown, before and after a command") {
    TempDir dir;
    write_file(dir / "f", "hello");
    const std::string f = (dir / "f").string();
    check_refused({
        {{"--bogus"}, "unknown option '--bogus'"},
        {{"--bogus=1"}, "unknown option '--bogus'"},
        {{"make-seed", f, "--bogus"}, "unknown option '--bogus' (see peer make-seed --help)"},
        {{"make-seed", "--bogus"}, "unknown option '--bogus'"},
        {{"get", "--bogus"}, "unknown option '--bogus' (see peer get --help)"},
        {{"serve", dir.path().string(), "--frob=2"}, "unknown option '--frob'"},
        {{"list", "--bogus"}, "unknown option '--bogus' (see peer list --help)"},
        {{"make-seed", f, "extra"}, "unexpected argument 'extra'"},
    });
}

TEST_CASE("cli peer: a file name starting with '-' gets the way to write it") {
    check_refused({{{"make-seed", "-dash.txt"}, "write ./-dash.txt or put -- before it"}});
    TempDir dir;
    // After "--" it is a file name (here one that does not exist: exit 1).
    auto r = run({kPeer, "make-seed", "--", (dir / "-missing.txt").string()});
    CHECK(r.exit_code == 1);
    CHECK(has(r.err, "No such file or directory"));
}

TEST_CASE("cli peer: numbers and addresses name the real problem") {
    TempDir dir;
    const std::string d = dir.path().string();
    check_refused({
        {{"get", "x.seed", "--max-peers", "abc"}, "--max-peers 'abc': not a number"},
        {{"get", "x.seed", "--max-peers", "0"}, "--max-peers '0': out of range"},
        {{"get", "x.seed", "--max-peers", "2.5"}, "--max-peers '2.5': not a whole number"},
        {{"get", "x.seed", "--min-peers", "0"}, "--min-peers '0': out of range"},
        {{"serve", d, "--min-peers", "many"}, "--min-peers 'many': not a number"},
        {{"get", "x.seed", "--peer", "nohost"}, "--peer "},
        {{"get", "x.seed", "--peer", "10.0.0.1:0"}, "--peer "},
        {{"serve", d, "--max-peers", "99999999999999999999999"}, "too large"},
        {{"get", "x.seed", "--port", "abc"}, "--port 'abc': not a number"},
        {{"get", "x.seed", "--port", "70000"}, "--port '70000': out of range"},
        {{"serve", d, "--port=-1"}, "--port '-1': negative"},
        {{"serve", d, "--rescan", "soon"}, "--rescan 'soon': not a number"},
        {{"serve", d, "--rescan", "0"}, "--rescan '0': out of range"},
        {{"get", "x.seed", "--timeout", "abc"}, "--timeout 'abc': not a number"},
        {{"get", "x.seed", "--timeout=-5"}, "--timeout '-5': negative"},
        {{"get", "x.seed", "--tracker", "[::1]"}, "--tracker '[::1]': lacks a port"},
        {{"get", "x.seed", "--tracker", "host"}, "--tracker 'host': lacks a port"},
        {{"list", "--tracker", "tracker.example.org"}, "lacks a port"},
        {{"make-seed", "f", "--tracker", "[::1]"}, "lacks a port"},
        {{"get", "x.seed", "--host", "nonsense"}, "--host 'nonsense': not an IP address"},
        {{"serve", d, "--host", "example.org"}, "--host 'example.org': not an IP address"},
        {{"serve", d, "--host", "256.1.1.1"}, "--host '256.1.1.1': not an IP address"},
        {{"backup", d, "--keep-versions", "0"}, "--keep-versions '0': out of range"},
        {{"backup", d, "--keep-versions", "1001"}, "--keep-versions '1001': out of range"},
        {{"backup", d, "--keep-versions", "2", "--no-channels"},
         "--keep-versions and --no-channels cannot go together"},
    });
}

TEST_CASE("cli peer: sizes and rates take K, KB, KiB, decimals, any case") {
    TempDir dir;
    write_file(dir / "x", pattern_bytes(100'000));
    for (const auto& [text, bytes] :
         std::vector<std::pair<std::string, std::uint64_t>>{{"16k", 16384},
                                                            {"16K", 16384},
                                                            {"16KB", 16384},
                                                            {"16KiB", 16384},
                                                            {"0.5M", 524288},
                                                            {"1.5k", 1536},
                                                            {"4096", 4096}}) {
        CAPTURE(text);
        auto r = run({kPeer, "make-seed", (dir / "x").string(), "-o", (dir / "x.seed").string(),
                      "--chunk-size", text});
        CAPTURE(r.err);
        REQUIRE(r.exit_code == 0);
        auto seed = parse_seed(read_file(dir / "x.seed"));
        REQUIRE(seed);
        CHECK(seed->chunk_size == bytes);
    }
    const std::string x = (dir / "x").string();
    check_refused({
        {{"make-seed", x, "--chunk-size", "1.5"}, "--chunk-size '1.5': a fraction of a byte"},
        {{"make-seed", x, "--chunk-size=-1K"}, "--chunk-size '-1K': negative"},
        {{"make-seed", x, "--chunk-size", "17M"}, "--chunk-size '17M': out of range"},
        {{"make-seed", x, "--chunk-size", "lots"}, "--chunk-size 'lots': not a size"},
        {{"get", "x.seed", "--max-upload-rate", "fast"}, "--max-upload-rate 'fast': not a size"},
        {{"get", "x.seed", "--max-download-rate=-5K"}, "--max-download-rate '-5K': negative"},
        {{"serve", x, "--max-upload-rate", "99999999999999G"}, "too large"},
        {{"serve", x, "--max-download-rate", "0"}, "--max-download-rate '0': out of range"},
    });
    // Accepted rates get past the command line: what fails then is the seed.
    for (const char* rate : {"1.5M", "10k", "10KiB", "2G", "512"}) {
        CAPTURE(rate);
        auto r = run({kPeer, "get", (dir / "missing.seed").string(), "--max-upload-rate", rate,
                      "--max-download-rate", rate},
                     30);
        CAPTURE(r.err);
        CHECK(r.exit_code != 0);
        CHECK_FALSE(has(r.err, "rate"));
    }
}

TEST_CASE("cli peer: every command's help has types, an example and the exit codes") {
    struct Help {
        std::vector<std::string> args;
        std::vector<std::string> needles;
    };
    for (const auto& h : std::vector<Help>{
             {{"--help"}, {"make-seed", "serve", "get", "list", "--version"}},
             {{"make-seed", "--help"},
              {"--chunk-size SIZE", "-o,--out FILE", "--tracker HOST:PORT"}},
             {{"serve", "--help"},
              {"--rescan SECONDS", "--state DIR", "--port PORT", "--host ADDR", "--log-level LEVEL",
               "--max-peers N", "--max-upload-rate RATE"}},
             {{"get", "--help"},
              {"--timeout SECONDS", "-o,--out DIR", "--max-download-rate RATE",
               "--tracker HOST:PORT", "--peer HOST:PORT", "--min-peers N", "--state DIR"}},
             {{"list", "--help"}, {"--tracker HOST:PORT", "--filter NAME"}},
         }) {
        std::vector<std::string> argv{kPeer};
        argv.insert(argv.end(), h.args.begin(), h.args.end());
        auto r = run(argv);
        const std::string args = fmt::format("{}", fmt::join(h.args, " "));
        CAPTURE(args);
        CAPTURE(r.out);
        CHECK(r.exit_code == 0);
        CHECK(has(r.out, "Usage: peer"));
        CHECK(has(r.out, "Example"));
        CHECK(has(r.out, "Exit codes:"));
        CHECK(has(r.out, "  2    bad command line"));
        for (const auto& n : h.needles)
            CHECK_MESSAGE(has(r.out, n), n);
        for (const char* generic : {" TEXT", " UINT", " FLOAT", " INT"})
            CHECK_MESSAGE(!has(r.out, generic), generic);
    }
}

TEST_CASE("cli make-seed: -o - writes the seed to stdout and the status to stderr") {
    TempDir dir;
    write_file(dir / "data.bin", pattern_bytes(70'000));
    auto r = run({kPeer, "make-seed", (dir / "data.bin").string(), "-o", "-"});
    CHECK(r.exit_code == 0);
    auto seed = parse_seed(r.out);
    REQUIRE(seed);
    CHECK(seed->name == "data.bin");
    CHECK(seed->length == 70'000);
    CHECK(one_line(r.err));
    CHECK(r.err.starts_with("wrote the seed to stdout"));
    CHECK(has(r.err, seed->id().hex()));
    CHECK_FALSE(std::filesystem::exists(dir / "data.bin.seed"));
    CHECK_FALSE(std::filesystem::exists("-"));
}

TEST_CASE("cli make-seed: a FIFO or a device is refused at once, not waited on") {
    TempDir dir;
    const auto fifo = dir / "pipe";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    for (const std::string& path : {fifo.string(), std::string("/dev/null")}) {
        CAPTURE(path);
        // No writer ever opens the FIFO: a make-seed that waits for one is
        // killed after 20 s, and that is a failure (exit 137, not 1).
        auto r = run({kPeer, "make-seed", path, "-o", (dir / "out.seed").string()}, 20);
        CAPTURE(r.err);
        CHECK_MESSAGE(r.exit_code != 128 + 9, "make-seed blocked and had to be killed");
        CHECK(r.exit_code == 1);
        CHECK(one_line(r.err));
        CHECK(has(r.err, "not a regular file"));
        CHECK_FALSE(std::filesystem::exists(dir / "out.seed"));
    }
}

}  // namespace cli_peer_test
