#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <chrono>

#include "common/env/clock.hpp"
#include "common/env/env.hpp"
#include "common/env/faulty_env.hpp"
#include "test/support/temp_dir.hpp"

namespace env_test {

using namespace seedshare;
using namespace seedshare::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Op = FaultyEnv::Op;

namespace {
std::size_t entries(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir))
        ++n;
    return n;
}
}  // namespace

TEST_CASE("env: PosixEnv reads, writes, lists, renames, links and removes") {
    TempDir dir;
    Env& env = Env::posix();
    REQUIRE(env.write_file_atomically(dir / "a", "alpha"));
    auto text = env.read_file(dir / "a", 100);
    REQUIRE(text);
    CHECK(*text == "alpha");
    auto info = env.stat(dir / "a");
    REQUIRE(info);
    CHECK(info->type == FileType::kRegular);
    CHECK(info->size == 5);
    CHECK(env.exists(dir / "a"));
    CHECK_FALSE(env.exists(dir / "b"));

    // The size bound is checked before reading, and said as a code.
    auto big = env.read_file(dir / "a", 4);
    REQUIRE_FALSE(big);
    CHECK(big.error().code == EFBIG);
    CHECK(big.error().size == 5);
    auto directory = env.read_file(dir.path(), 100);
    REQUIRE_FALSE(directory);
    CHECK(directory.error().code == EISDIR);
    REQUIRE(::mkfifo((dir / "fifo").c_str(), 0644) == 0);
    auto fifo = env.read_file(dir / "fifo", 100);  // refused, never waited on
    REQUIRE_FALSE(fifo);
    CHECK(fifo.error().code == EINVAL);
    auto missing = env.read_file(dir / "missing", 100);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == ENOENT);
    CHECK(missing.error().text().ends_with("missing: No such file or directory"));
    REQUIRE(env.remove(dir / "fifo"));

    REQUIRE(env.create_directories(dir / "x/y/z"));
    REQUIRE(env.create_directories(dir / "x/y/z"));  // already there: fine
    REQUIRE(env.write_file_atomically(dir / "b", "beta"));
    auto listed = env.list_dir(dir.path());
    REQUIRE(listed);
    REQUIRE(listed->size() == 3);
    CHECK((*listed)[0].name == "a");
    CHECK((*listed)[1].name == "b");
    CHECK((*listed)[2].name == "x");

    // rename_no_replace refuses to replace, rename replaces.
    auto refused = env.rename_no_replace(dir / "a", dir / "b");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == EEXIST);
    CHECK(*env.read_file(dir / "b", 100) == "beta");
    REQUIRE(env.rename_no_replace(dir / "a", dir / "c"));
    REQUIRE(env.rename(dir / "c", dir / "b"));
    CHECK(*env.read_file(dir / "b", 100) == "alpha");
    CHECK_FALSE(env.exists(dir / "c"));

    // A link is a second name: a rename over the first leaves it as it was.
    REQUIRE(env.link(dir / "b", dir / "kept"));
    auto twice = env.link(dir / "b", dir / "kept");
    REQUIRE_FALSE(twice);
    CHECK(twice.error().code == EEXIST);
    REQUIRE(env.write_file_atomically(dir / "b", "gamma"));
    CHECK(*env.read_file(dir / "kept", 100) == "alpha");
    CHECK(*env.read_file(dir / "b", 100) == "gamma");

    auto fd = env.open(dir / "new", O_RDWR | O_CREAT);
    REQUIRE(fd);
    CHECK(fd->get() >= 0);
    auto no_fd = env.open(dir / "nope", O_RDONLY);
    REQUIRE_FALSE(no_fd);
    CHECK(no_fd.error().code == ENOENT);
}

TEST_CASE("env: an atomic write leaves no temporary file behind when it fails") {
    TempDir dir;
    Env& env = Env::posix();
    REQUIRE(env.write_file_atomically(dir / "keep", "old"));
    // The rename fails (a non-empty directory is in the way): the temporary
    // file written before it is removed.
    REQUIRE(env.create_directories(dir / "target/inside"));
    auto bad = env.write_file_atomically(dir / "target", "new");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().op == "rename");
    CHECK((bad.error().code == EISDIR || bad.error().code == ENOTEMPTY));
    // No directory to write in: nothing made.
    auto nowhere = env.write_file_atomically(dir / "no-such-dir/f", "x");
    REQUIRE_FALSE(nowhere);
    CHECK(nowhere.error().code == ENOENT);
    CHECK(entries(dir.path()) == 2);  // keep, target
    CHECK(*env.read_file(dir / "keep", 100) == "old");
}

TEST_CASE("env: a lock is held once, until released") {
    TempDir dir;
    Env& env = Env::posix();
    {
        auto first = env.lock(dir / "LOCK");
        REQUIRE(first);
        CHECK(first->held());
        auto second = env.lock(dir / "LOCK");
        REQUIRE_FALSE(second);
        CHECK(second.error().code == EWOULDBLOCK);
    }
    CHECK(env.lock(dir / "LOCK"));
}

TEST_CASE("env: FaultyEnv fails the nth call of an operation, once") {
    TempDir dir;
    FaultyEnv env(Env::posix());
    env.fail_nth(Op::kWriteFileAtomically, 2, ENOSPC);
    CHECK(env.write_file_atomically(dir / "one", "1"));
    auto second = env.write_file_atomically(dir / "two", "2");
    REQUIRE_FALSE(second);
    CHECK(second.error().code == ENOSPC);
    CHECK_FALSE(fs::exists(dir / "two"));  // never reached the real file system
    CHECK(env.write_file_atomically(dir / "three", "3"));
    CHECK(env.calls(Op::kWriteFileAtomically) == 3);
    CHECK(env.injected() == 1);
    // Other operations pass through untouched meanwhile.
    CHECK(*env.read_file(dir / "one", 10) == "1");
    CHECK(env.calls(Op::kReadFile) == 1);
    CHECK(env.calls(Op::kAny) == 4);
}

TEST_CASE("env: FaultyEnv fails every call on a path, until cleared") {
    TempDir dir;
    FaultyEnv env(Env::posix());
    REQUIRE(env.create_directories(dir / "bad"));
    REQUIRE(env.write_file_atomically(dir / "good", "g"));
    REQUIRE(env.write_file_atomically(dir / "bad/f", "f"));
    env.fail_path(Op::kReadFile, dir / "bad", EIO);
    env.fail_path(Op::kAny, dir / "worse", EACCES);
    for (int i = 0; i < 3; ++i) {
        auto r = env.read_file(dir / "bad/f", 10);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == EIO);
        CHECK(r.error().path == dir / "bad/f");
    }
    CHECK(env.read_file(dir / "good", 10));  // another path
    CHECK(env.stat(dir / "bad/f"));          // another operation
    CHECK(env.list_dir(dir / "bad"));
    auto renamed = env.rename(dir / "good", dir / "worse");  // either path matches
    REQUIRE_FALSE(renamed);
    CHECK(renamed.error().code == EACCES);
    CHECK(env.exists(dir / "good"));
    CHECK(env.lock(dir / "worse/LOCK").error().code == EACCES);
    CHECK(env.injected() == 5);
    env.clear();
    CHECK(*env.read_file(dir / "bad/f", 10) == "f");
    CHECK(env.rename(dir / "good", dir / "worse"));
}

TEST_CASE("env: free space is the file system's, and FaultyEnv can make a disk full") {
    TempDir dir;
    auto real = Env::posix().free_space(dir.path());
    REQUIRE(real);
    // statvfs of tmpfs or a disk: something free, no more than the whole.
    struct statvfs v {};
    REQUIRE(::statvfs(dir.path().c_str(), &v) == 0);
    CHECK(*real <= std::uint64_t{v.f_blocks} * v.f_frsize);
    auto missing = Env::posix().free_space(dir / "no/such/dir");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == ENOENT);

    FaultyEnv env(Env::posix());
    CHECK(env.free_space(dir.path()));  // passed on
    env.set_free_space(4096);
    CHECK(*env.free_space(dir.path()) == 4096);
    env.fail_nth(Op::kFreeSpace, 1, EIO);  // a fault wins over the answer set
    CHECK(env.free_space(dir.path()).error().code == EIO);
    env.clear();
    CHECK(*env.free_space(dir.path()) == 4096);  // clear() leaves the answer
    env.set_free_space(std::nullopt);
    CHECK(env.free_space(dir.path()));
    CHECK(env.calls(Op::kFreeSpace) == 5);
    CHECK(env.injected() == 1);
}

TEST_CASE("env: FakeClock moves only when told") {
    FakeClock clock;
    const auto t0 = clock.now();
    const auto s0 = clock.system_now();
    CHECK(clock.now() == t0);
    clock.advance(1500ms);
    CHECK(clock.now() - t0 == 1500ms);
    CHECK(clock.system_now() - s0 == 1500ms);
    clock.advance(-1s);  // never back
    CHECK(clock.now() - t0 == 1500ms);
    clock.set(t0 + 10s);
    CHECK(clock.now() - t0 == 10s);
    clock.set(t0);  // earlier: ignored
    CHECK(clock.now() - t0 == 10s);
    clock.set_system(s0 - 1h);  // the wall clock may jump back
    CHECK(clock.system_now() == s0 - 1h);
    CHECK(clock.now() - t0 == 10s);
    // The real clock moves on its own.
    const auto r0 = Clock::real().now();
    CHECK(Clock::real().now() >= r0);
}

}  // namespace env_test
