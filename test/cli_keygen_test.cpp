// The real `peer keygen`: the key file's mode, no overwrite, the id printed.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include "common/crypto/ed25519.hpp"
#include "test/support/run.hpp"
#include "test/support/temp_dir.hpp"

namespace cli_keygen_test {

using namespace seedshare;
using namespace seedshare::test;

namespace {

const std::string kPeer = SEEDSHARE_PEER_BINARY;

bool one_line(const std::string& s) {
    return !s.empty() && s.find('\n') == s.size() - 1;
}

}  // namespace

TEST_CASE("cli keygen: writes a 0600 key file and prints its channel id") {
    TempDir dir;
    const auto path = dir / "site.key";
    auto r = run({kPeer, "keygen", "-o", path.string()});
    REQUIRE(r.exit_code == 0);
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 07777) == 0600);
    // The file, read here without the peer's reader: two lines, the secret in hex.
    const std::string text = read_file(path);
    REQUIRE(text.size() == 96);
    REQUIRE(text.starts_with("seedshare-channel-key 1\nsecret "));
    std::array<std::uint8_t, 32> seed{};
    REQUIRE(from_hex(std::string_view(text).substr(31, 64), seed));
    const auto key = ChannelKey::from_seed(seed);
    CHECK(r.out == key.public_key().hex() + "\n");
    CHECK(one_line(r.err));
    CHECK(r.err.find(path.string()) != std::string::npos);
    // Two keys are two channels.
    auto other = run({kPeer, "keygen", "-o", (dir / "other.key").string()});
    REQUIRE(other.exit_code == 0);
    CHECK(other.out != r.out);
}

TEST_CASE("cli keygen: never over an existing file, and bad paths are one line") {
    TempDir dir;
    const auto path = dir / "site.key";
    write_file(path, "keep me");
    auto r = run({kPeer, "keygen", "-o", path.string()});
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err == "peer: " + path.string() + " already exists: a key file is never overwritten\n");
    CHECK(read_file(path) == "keep me");

    r = run({kPeer, "keygen", "-o", (dir / "missing/site.key").string()});
    CHECK(r.exit_code == 1);
    CHECK(r.out.empty());
    CHECK(r.err == "peer: cannot create " + (dir / "missing/site.key").string() +
                       ": No such file or directory\n");

    r = run({kPeer, "keygen", "-o", dir.path().string()});  // a directory
    CHECK(r.exit_code == 1);
    CHECK(one_line(r.err));

    r = run({kPeer, "keygen"});
    CHECK(r.exit_code == 2);
    CHECK(r.err == "peer: --out is required\n");

    r = run({kPeer, "keygen", "--help"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("peer keygen") != std::string::npos);
    CHECK(r.out.find("-o,--out FILE") != std::string::npos);
}

}  // namespace cli_keygen_test
