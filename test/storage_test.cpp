#include <doctest/doctest.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <optional>

#include "common/core/bytes.hpp"
#include "common/env/faulty_env.hpp"
#include "peer/library/seed_maker.hpp"
#include "peer/storage/seed_io.hpp"
#include "peer/storage/storage.hpp"
#include "test/support/temp_dir.hpp"

namespace storage_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;

TEST_CASE("storage: a served file that changes on disk is not read as if it had not") {
    TempDir dir;
    write_file(dir / "f", pattern_bytes(8192));
    auto s = FileStorage::open_read(dir / "f");
    REQUIRE(s);
    Bytes out(100);
    CHECK((*s)->read(0, out));
    CHECK_FALSE((*s)->read(8100, out));  // past the end
    // Same size, new content and a new mtime (set, not waited for: the file
    // system's timestamps may be coarser than the time a rewrite takes).
    const auto opened_at = std::filesystem::last_write_time(dir / "f");
    write_file(dir / "f", pattern_bytes(8192, 99));
    std::filesystem::last_write_time(dir / "f", opened_at + 1s);
    CHECK((*s)->changed_on_disk());
    auto r = (*s)->read(0, out);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("changed on disk") != std::string::npos);
    std::filesystem::resize_file(dir / "f", 10);
    CHECK_FALSE((*s)->read(0, out));
}

TEST_CASE("storage: errors name the file") {
    TempDir dir;
    auto missing = FileStorage::open_read(dir / "nope");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("nope") != std::string::npos);
    auto directory = FileStorage::open_read(dir.path());
    REQUIRE_FALSE(directory);
    CHECK(directory.error().message.find("not a regular file") != std::string::npos);
}

// What opens a file to serve, to make its seed or to hash it after a
// download goes through the Env it is given: a fault there is what it sees.
TEST_CASE("storage: a served file, a seed and a whole-file hash are opened through the Env") {
    TempDir dir;
    write_file(dir / "f", pattern_bytes(100'000));
    FaultyEnv env(Env::posix());
    env.fail_path(FaultyEnv::Op::kOpen, dir / "f", EACCES);

    auto served = FileStorage::open_read(dir / "f", env);
    REQUIRE_FALSE(served);
    CHECK(served.error().message.find(std::strerror(EACCES)) != std::string::npos);

    SeedMakerOptions o;
    o.env = &env;
    auto seed = make_seed(dir / "f", o);
    REQUIRE_FALSE(seed);
    CHECK(seed.error().message.find(std::strerror(EACCES)) != std::string::npos);

    asio::io_context io;
    asio::thread_pool pool(1);
    std::optional<Result<Digest>> hashed;
    asio::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            hashed = co_await hash_file(dir / "f", pool, nullptr, env);
        },
        asio::detached);
    io.run();
    REQUIRE(hashed);
    REQUIRE_FALSE(*hashed);
    CHECK(hashed->error().message.find(std::strerror(EACCES)) != std::string::npos);
    CHECK(env.injected() == 3);

    // Cleared, each works through the same Env.
    env.clear();
    CHECK(FileStorage::open_read(dir / "f", env));
    auto made = make_seed(dir / "f", o);
    REQUIRE(made);
    hashed.reset();
    asio::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
            hashed = co_await hash_file(dir / "f", pool, nullptr, env);
        },
        asio::detached);
    io.restart();
    io.run();
    REQUIRE(hashed);
    REQUIRE(*hashed);
    CHECK(**hashed == made->file_hash);
    CHECK(env.calls(FaultyEnv::Op::kOpen) == 6);
}

TEST_CASE("storage: a read from the page cache gives the same bytes, and the same change check") {
    TempDir dir;
    const std::string data = pattern_bytes(64 * 1024, 3);
    write_file(dir / "f", data);  // just written: in the page cache
    auto s = FileStorage::open_read(dir / "f");
    REQUIRE(s);
    Bytes out(4096);
    auto r = (*s)->read_if_cached(8192, out);
    REQUIRE(r.has_value());  // a cached read must not be refused here
    CHECK(*r);
    CHECK(std::memcmp(out.data(), data.data() + 8192, out.size()) == 0);
    CHECK_FALSE(
        *(*s)->read_if_cached(64 * 1024 - 10, out));  // past the end: an error, not "not cached"
    const auto opened_at = std::filesystem::last_write_time(dir / "f");
    write_file(dir / "f", pattern_bytes(64 * 1024, 4));
    std::filesystem::last_write_time(dir / "f", opened_at + 1s);  // a new mtime, set
    auto changed = (*s)->read_if_cached(0, out);
    REQUIRE(changed.has_value());
    CHECK_FALSE(*changed);
}

}  // namespace storage_test
