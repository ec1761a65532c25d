// The real `peer make-seed` binary: exit codes, one-line messages, output.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include "common/model/seed.hpp"
#include "test/support/run.hpp"
#include "test/support/temp_dir.hpp"

namespace cli_make_seed_test {

using namespace seedshare;
using namespace seedshare::test;

namespace {

const std::string kPeer = SEEDSHARE_PEER_BINARY;

std::string sha256sum(const std::filesystem::path& p) {
    auto r = run({"/usr/bin/sha256sum", p.string()});
    REQUIRE(r.exit_code == 0);
    return r.out.substr(0, 64);
}

bool one_line(const std::string& s) {
    return !s.empty() && s.find('\n') == s.size() - 1;
}

}  // namespace

TEST_CASE("cli make-seed: writes FILE.seed whose hash equals sha256sum") {
    TempDir dir;
    write_file(dir / "data.bin", pattern_bytes(3'000'000));
    auto r = run({kPeer, "make-seed", (dir / "data.bin").string()});
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    CHECK(r.out.starts_with("wrote " + (dir / "data.bin.seed").string()));
    auto seed = parse_seed(read_file(dir / "data.bin.seed"));
    REQUIRE(seed);
    CHECK(seed->file_hash.hex() == sha256sum(dir / "data.bin"));
    CHECK(seed->name == "data.bin");
    CHECK(seed->length == 3'000'000);
    CHECK(seed->chunk_size == 256u << 10);
    REQUIRE(seed->trackers.size() == 1);
    CHECK(seed->trackers[0].str() == "127.0.0.1:7000");
    CHECK(r.out.find(seed->id().hex()) != std::string::npos);
}

TEST_CASE("cli make-seed: -o, --tracker and --chunk-size") {
    TempDir dir;
    write_file(dir / "x", pattern_bytes(100'000));
    auto r = run({kPeer, "make-seed", (dir / "x").string(), "-o", (dir / "custom.seed").string(),
                  "--tracker", "a.example:1", "--tracker", "[::1]:2", "--chunk-size", "16K"});
    REQUIRE(r.exit_code == 0);
    auto seed = parse_seed(read_file(dir / "custom.seed"));
    REQUIRE(seed);
    CHECK(seed->chunk_size == 16384);
    CHECK(seed->chunk_count() == 7);
    REQUIRE(seed->trackers.size() == 2);
    CHECK(seed->trackers[0].str() == "a.example:1");
    CHECK(seed->trackers[1].str() == "[::1]:2");
    CHECK_FALSE(std::filesystem::exists(dir / "x.seed"));
}

TEST_CASE("cli make-seed: an empty file") {
    TempDir dir;
    write_file(dir / "empty", "");
    auto r = run({kPeer, "make-seed", (dir / "empty").string()});
    REQUIRE(r.exit_code == 0);
    auto seed = parse_seed(read_file(dir / "empty.seed"));
    REQUIRE(seed);
    CHECK(seed->length == 0);
    CHECK(seed->chunk_count() == 0);
    CHECK(seed->file_hash.hex() == sha256sum(dir / "empty"));
}

TEST_CASE("cli make-seed: every failure is one line, a non-zero exit, and no seed left") {
    TempDir dir;
    write_file(dir / "f", "hello");
    struct Case {
        std::vector<std::string> args;
        int code;
        std::string needle;
    };
    const std::string f = (dir / "f").string();
    for (const auto& c : std::vector<Case>{
             {{"make-seed", (dir / "missing").string()}, 1, "No such file or directory"},
             {{"make-seed", dir.path().string()}, 1, "is a directory"},
             {{"make-seed", f, "--tracker", "nocolon"}, 2, "--tracker 'nocolon': lacks a port"},
             {{"make-seed", f, "--tracker", "h:99999"}, 2, "port must be a number from 1 to 65535"},
             {{"make-seed", f, "--chunk-size", "0"}, 2, "--chunk-size '0'"},
             {{"make-seed", f, "--chunk-size", "32M"}, 2, "--chunk-size '32M'"},
             {{"make-seed", f, "--chunk-size", "lots"}, 2, "--chunk-size 'lots'"},
             {{"make-seed", f, "-o", (dir / "nodir" / "f.seed").string()}, 1, "cannot write"},
             {{"make-seed"}, 2, "FILE is required"},
             {{"make-seed", f, "--bogus"}, 2, "unknown option '--bogus'"},
             {{"frobnicate"}, 2, "frobnicate"},
             {{}, 2, "subcommand"},
         }) {
        std::vector<std::string> argv{kPeer};
        argv.insert(argv.end(), c.args.begin(), c.args.end());
        auto r = run(argv);
        CAPTURE(r.err);
        CHECK(r.exit_code == c.code);
        CHECK(one_line(r.err));
        CHECK(r.err.starts_with("peer: "));
        CHECK(r.err.find(c.needle) != std::string::npos);
        CHECK(r.out.empty());
    }
    CHECK_FALSE(std::filesystem::exists(dir / "f.seed"));
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path()))
        ++entries;
    CHECK(entries == 1);  // only f: no temporary or partial seed anywhere

    if (::geteuid() == 0) {
        // Root can read anything, but a read-only directory still can't take the seed.
        // Use a directory we make unwritable for everyone via a file in place of the dir.
        auto r = run({kPeer, "make-seed", f, "-o", f + "/sub.seed"});
        CHECK(r.exit_code == 1);
        CHECK(one_line(r.err));
    } else {
        ::chmod(f.c_str(), 0);
        auto r = run({kPeer, "make-seed", f});
        CHECK(r.exit_code == 1);
        CHECK(r.err.find("Permission denied") != std::string::npos);
    }
}

TEST_CASE("cli make-seed: --help exits 0") {
    auto r = run({kPeer, "make-seed", "--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("--chunk-size") != std::string::npos);
}

}  // namespace cli_make_seed_test
