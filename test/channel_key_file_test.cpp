#include <doctest/doctest.h>
#include <fmt/format.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/core/limits.hpp"
#include "common/env/faulty_env.hpp"
#include "peer/storage/channel_key_file.hpp"
#include "test/support/temp_dir.hpp"

namespace channel_key_file_test {

using namespace seedshare;
using namespace seedshare::test;

namespace {

const std::string kFirst = "seedshare-channel-key 1\n";
const std::string kSecret(64, 'a');

std::filesystem::path key_file(const TempDir& dir, const std::string& text, mode_t mode = 0600) {
    const auto path = dir / "k.key";
    write_file(path, text);
    REQUIRE(::chmod(path.c_str(), mode) == 0);
    return path;
}

std::string refusal(const std::filesystem::path& path) {
    auto r = read_channel_key(path);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

mode_t mode_of(const std::filesystem::path& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("channel key file: written 0600, read back to the same key") {
    TempDir dir;
    const auto key = ChannelKey::generate();
    const auto path = dir / "site.key";
    REQUIRE(write_channel_key(path, key).ok());
    CHECK(mode_of(path) == 0600);
    const std::string text = read_file(path);
    CHECK(text == kFirst + "secret " + to_hex(key.secret_seed()) + "\n");
    auto again = read_channel_key(path);
    REQUIRE(again);
    CHECK(again->public_key() == key.public_key());
    // Read-only for the owner is fine too.
    REQUIRE(::chmod(path.c_str(), 0400) == 0);
    CHECK(read_channel_key(path).ok());
}

TEST_CASE("channel key file: never written over an existing file or symlink") {
    TempDir dir;
    const auto path = dir / "site.key";
    write_file(path, "precious");
    auto r = write_channel_key(path, ChannelKey::generate());
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == path.string() + " already exists: a key file is never overwritten");
    CHECK(read_file(path) == "precious");
    const auto link = dir / "link.key";
    std::filesystem::create_symlink(dir / "nowhere", link);
    CHECK_FALSE(write_channel_key(link, ChannelKey::generate()).ok());
    CHECK_FALSE(std::filesystem::exists(dir / "nowhere"));
    auto missing = write_channel_key(dir / "no/such/dir.key", ChannelKey::generate());
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message ==
          "cannot create " + (dir / "no/such/dir.key").string() + ": No such file or directory");
}

TEST_CASE("channel key file: a failure after creating leaves nothing behind") {
    TempDir dir;
    FaultyEnv env(Env::posix());
    env.fail_nth(FaultyEnv::Op::kOpen, 2, EIO);  // the directory, opened to fsync it
    const auto path = dir / "site.key";
    CHECK_FALSE(write_channel_key(path, ChannelKey::generate(), env).ok());
    CHECK(env.calls(FaultyEnv::Op::kOpen) == 2);
    CHECK_FALSE(std::filesystem::exists(path));
    env.clear();
    CHECK(write_channel_key(path, ChannelKey::generate(), env).ok());
}

TEST_CASE("channel key file: readable by group or others is refused, as ssh does") {
    TempDir dir;
    const std::string text = kFirst + "secret " + kSecret + "\n";
    for (mode_t mode : {0644, 0640, 0604, 0660, 0601, 0610}) {
        const auto path = key_file(dir, text, mode);
        CAPTURE(mode);
        CHECK(refusal(path) == fmt::format("{}: permissions {:04o} are too open: a channel key "
                                           "must be readable by its owner only (chmod 600 {})",
                                           path.string(), mode, path.string()));
    }
    CHECK(read_channel_key(key_file(dir, text, 0600)).ok());
}

TEST_CASE("channel key file: malformed, oversized, not a file") {
    TempDir dir;
    const std::string good = kFirst + "secret " + kSecret + "\n";
    REQUIRE(read_channel_key(key_file(dir, good)).ok());
    const std::string malformed =
        "malformed channel key: the second and last line must be 'secret' and 64 lowercase hex "
        "digits";
    for (const std::string& bad : {
             kFirst + "secret " + std::string(64, 'A') + "\n",  // uppercase
             kFirst + "secret " + std::string(63, 'a') + "\n",  // short
             kFirst + "secret " + kSecret,                      // no final newline
             kFirst + "secret " + kSecret + "\r\n",             // CRLF
             kFirst + "secret " + kSecret + "\n\n",             // more after it
             kFirst + "secret  " + kSecret + "\n",              // two spaces
             kFirst + "public " + kSecret + "\n",               // another key
             kFirst,                                            // no secret
         }) {
        CAPTURE(bad);
        const auto path = key_file(dir, bad);
        CHECK(refusal(path) == path.string() + ": " + malformed);
    }
    auto path = key_file(dir, "seedshare-channel-key 2\nsecret " + kSecret + "\n");
    CHECK(refusal(path).find("not a seedshare channel key") != std::string::npos);
    CHECK(refusal(path).find(kSecret) == std::string::npos);  // never quotes the secret
    path = key_file(dir, std::string(limits::kMaxChannelKeyFileBytes + 1, 'x'));
    CHECK(refusal(path) ==
          path.string() + ": 257 bytes is too large for a channel key (at most 256)");
    CHECK(refusal(dir / "missing.key") ==
          (dir / "missing.key").string() + ": No such file or directory");
    const auto sub = dir / "d";
    std::filesystem::create_directory(sub);
    REQUIRE(::chmod(sub.c_str(), 0700) == 0);
    CHECK(refusal(sub) == sub.string() + ": not a regular file");
    const auto fifo = dir / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK(refusal(fifo) == fifo.string() + ": not a regular file");  // and no wait for a writer
}

}  // namespace channel_key_file_test
