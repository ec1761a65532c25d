#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <map>
#include <set>

#include "common/core/limits.hpp"
#include "common/env/faulty_env.hpp"
#include "peer/library/library.hpp"
#include "peer/library/seed_maker.hpp"
#include "peer/storage/seed_io.hpp"
#include "test/support/temp_dir.hpp"

namespace library_test {

using namespace seedshare;
using namespace seedshare::test;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {
std::set<std::string> names(const std::vector<SharedFile>& files, const fs::path& root) {
    std::set<std::string> out;
    for (const auto& f : files)
        out.insert(f.path.lexically_relative(fs::canonical(root)).string());
    return out;
}
}  // namespace

TEST_CASE("library: which files under DIR are shared") {
    TempDir dir, outside;
    fs::create_directories(dir / "sub/deeper");
    fs::create_directories(dir / ".hidden-dir");
    write_file(dir / "a.bin", "a");
    write_file(dir / "sub/b.txt", "b");
    write_file(dir / "sub/deeper/c", "c");
    write_file(dir / ".hidden", "h");
    write_file(dir / ".hidden-dir/x", "x");
    write_file(dir / "movie.mkv.part", "partial download");
    write_file(dir / "a.bin.seed", "the seed of a.bin: metadata, not shared");
    write_file(dir / "lonely.seed", "a seed without its file: a file like any other");
    write_file(outside / "secret", "s");
    fs::create_symlink(outside / "secret", dir / "escape");     // leaves DIR: skipped
    fs::create_symlink(dir / "sub/b.txt", dir / "inner-link");  // stays inside: shared
    fs::create_symlink(outside.path(), dir / "escape-dir");     // a directory outside: skipped

    const auto scan = scan_directory(dir.path());
    CHECK(names(scan.files, dir.path()) ==
          std::set<std::string>{"a.bin", "sub/b.txt", "sub/deeper/c", "lonely.seed", "inner-link"});
    REQUIRE(scan.skipped.size() == 2);
    CHECK(scan.skipped[0].reason == SkipReason::kSymlinkOutside);
    CHECK(scan.skipped[1].reason == SkipReason::kSymlinkOutside);
}

TEST_CASE("library: each skip has its reason, and nothing that is not a file is opened") {
    TempDir dir;
    write_file(dir / "ok", "fine");
    write_file(dir / "bad\x01name", "a control character");
    write_file(dir / "bad\xffutf8", "not UTF-8");
    fs::create_symlink(dir / "nowhere", dir / "dangling");
    fs::create_symlink(dir / "loop", dir / "loop");
    REQUIRE(::mkfifo((dir / "fifo").c_str(), 0644) == 0);
    fs::create_symlink(dir / "fifo", dir / "link-to-fifo");
    const auto scan = scan_directory(dir.path());  // a FIFO opened would hang here
    CHECK(names(scan.files, dir.path()) == std::set<std::string>{"ok"});
    std::map<std::string, SkipReason> why;
    for (const auto& s : scan.skipped)
        why[s.path.filename().string()] = s.reason;
    CHECK(why == std::map<std::string, SkipReason>{
                     {"bad\x01name", SkipReason::kBadName},
                     {"bad\xffutf8", SkipReason::kBadName},
                     {"dangling", SkipReason::kDanglingSymlink},
                     {"loop", SkipReason::kDanglingSymlink},
                     {"fifo", SkipReason::kNotRegular},
                     {"link-to-fifo", SkipReason::kNotRegular},
                 });
    for (const auto& s : scan.skipped) {
        const auto line = describe(s);
        CHECK(line.find('\x01') == std::string::npos);  // shown escaped
        if (s.reason == SkipReason::kNotRegular) CHECK(line.find("a FIFO") != std::string::npos);
    }
}

TEST_CASE("library: the state directory and what lies in it are never shared") {
    TempDir dir, elsewhere;
    write_file(dir / "a.bin", "a");
    fs::create_directories(dir / "st/seeds");
    write_file(dir / "st/index", "1 2 3 x /a.bin");
    write_file(dir / "st/seeds/abc.seed", "a seed");
    fs::create_symlink(dir / "st/index", dir / "link-into-state");
    // Named as the user typed it (relative, with dots): still recognised.
    const auto scan = scan_directory(dir.path(), {dir / "./st/../st"});
    CHECK(names(scan.files, dir.path()) == std::set<std::string>{"a.bin"});
    CHECK(scan.skipped.empty());
    // An excluded directory elsewhere changes nothing.
    CHECK(scan_directory(dir.path(), {elsewhere.path()}).files.size() == 4);
}

TEST_CASE("library: a skip is reported once while it lasts, and again when it comes back") {
    SkipLog log;
    const Skip fifo{"/d/p", SkipReason::kNotRegular, "a FIFO"};
    const Skip name{"/d/q", SkipReason::kBadName, "control"};
    CHECK(log.note(fifo));
    CHECK(log.note(name));
    CHECK_FALSE(log.note(fifo));  // twice in one round: once
    log.end_round();
    CHECK_FALSE(log.note(fifo));
    CHECK_FALSE(log.note(name));
    log.end_round();
    CHECK_FALSE(log.note(fifo));  // name went away in this round
    log.end_round();
    CHECK(log.note(name));  // ... and came back
    CHECK_FALSE(log.note(fifo));
    // Another reason for the same path is news.
    CHECK(log.note(Skip{"/d/p", SkipReason::kUnreadable, "EACCES"}));
}

TEST_CASE("library: a sidecar seed is used only when it describes the file and is newer") {
    TempDir dir;
    write_file(dir / "f", "content of f");
    auto f = stat_shared(dir / "f");
    REQUIRE(f);
    CHECK_FALSE(sidecar_seed(*f));
    auto seed = make_seed(dir / "f", {});
    REQUIRE(seed);
    REQUIRE(write_file_atomically(dir / "f.seed", format_seed(*seed)));
    auto found = sidecar_seed(*f);
    REQUIRE(found);
    CHECK(found->id() == seed->id());
    // The file changes after its seed was written: the seed is stale. The
    // file's mtime is set a second past the seed's, not waited for (the file
    // system's timestamps may be coarser than the time between the writes).
    write_file(dir / "f", "CONTENT OF F");  // same length
    fs::last_write_time(dir / "f", fs::last_write_time(dir / "f.seed") + 1s);
    auto changed = stat_shared(dir / "f");
    REQUIRE(changed);
    CHECK_FALSE(sidecar_seed(*changed));
    auto check = check_sidecar(*changed);
    REQUIRE(check.rejected);
    CHECK(check.rejected->reason == SkipReason::kSidecarMismatch);
    CHECK(check.rejected->path == dir / "f.seed");
}

TEST_CASE("library: a sidecar that describes another file is named, with why") {
    TempDir dir, other;
    write_file(other / "f", "another file of that name, longer");
    auto seed = make_seed(other / "f", {});
    REQUIRE(seed);
    write_file(dir / "f", "content of f");
    REQUIRE(write_file_atomically(dir / "f.seed", format_seed(*seed)));
    // Newer than the file (set, not waited for), so it is refused for what it
    // says, not for its age.
    fs::last_write_time(dir / "f.seed", fs::last_write_time(dir / "f") + 1s);
    auto check = check_sidecar(*stat_shared(dir / "f"));
    CHECK_FALSE(check.seed);
    REQUIRE(check.rejected);
    CHECK(check.rejected->reason == SkipReason::kSidecarMismatch);
    CHECK(describe(*check.rejected).find("f.seed does not describe f (it says 33 bytes") !=
          std::string::npos);
    // A FIFO as the sidecar is refused without being opened.
    TempDir fifo_dir;
    write_file(fifo_dir / "g", "g");
    REQUIRE(::mkfifo((fifo_dir / "g.seed").c_str(), 0644) == 0);
    auto fifo = check_sidecar(*stat_shared(fifo_dir / "g"));
    REQUIRE(fifo.rejected);
    CHECK(fifo.rejected->reason == SkipReason::kNotRegular);
}

TEST_CASE("library: the seed cache remembers by path, size, mtime and inode") {
    TempDir dir, state;
    write_file(dir / "f", pattern_bytes(5000));
    auto f = stat_shared(dir / "f");
    REQUIRE(f);
    auto seed = make_seed(dir / "f", {});
    REQUIRE(seed);
    {
        SeedCache cache(state.path());
        CHECK_FALSE(cache.find(*f));
        cache.remember(*f, *seed);
        auto again = cache.find(*f);
        REQUIRE(again);
        CHECK(again->id() == seed->id());
    }
    // Another process (a new cache object) finds it too.
    SeedCache reopened(state.path());
    CHECK(reopened.find(*f));
    // A touched file no longer matches.
    SharedFile touched = *f;
    touched.mtime_ns += 1;
    CHECK_FALSE(reopened.find(touched));
    // No state directory: nothing is remembered, nothing fails.
    SeedCache none(std::nullopt);
    none.remember(*f, *seed);
    CHECK_FALSE(none.find(*f));
}

TEST_CASE("library: a seed cache that cannot be written stays usable and says why") {
    TempDir dir, state;
    write_file(dir / "f", pattern_bytes(5000));
    write_file(dir / "g", pattern_bytes(7000));
    auto f = stat_shared(dir / "f");
    auto g = stat_shared(dir / "g");
    REQUIRE(f);
    REQUIRE(g);
    auto seed_f = make_seed(dir / "f", {});
    auto seed_g = make_seed(dir / "g", {});
    REQUIRE(seed_f);
    REQUIRE(seed_g);
    FaultyEnv env(Env::posix());
    SeedCache cache(state.path(), env);
    cache.remember(*f, *seed_f);
    CHECK_FALSE(cache.write_error());
    // The disk fills up: the next seed cannot be written.
    env.fail_nth(FaultyEnv::Op::kWriteFileAtomically, 1, ENOSPC);
    cache.remember(*g, *seed_g);
    REQUIRE(cache.write_error());
    CHECK(cache.write_error()->code == ENOSPC);
    CHECK(env.injected() == 1);
    CHECK_FALSE(cache.find(*g));  // not remembered: hashed again later
    REQUIRE(cache.find(*f));      // what it knew stays usable
    CHECK(cache.find(*f)->id() == seed_f->id());
    // The seed is written, the index is not (EIO on it): this process still
    // finds it, a new one does not.
    env.fail_path(FaultyEnv::Op::kWriteFileAtomically, state / "index", EIO);
    cache.remember(*g, *seed_g);
    REQUIRE(cache.write_error());
    CHECK(cache.write_error()->code == EIO);
    CHECK(cache.find(*g));
    SeedCache reopened(state.path(), env);
    CHECK(reopened.find(*f));
    CHECK_FALSE(reopened.find(*g));
    // Once writes work again, the error is gone.
    env.clear();
    cache.remember(*g, *seed_g);
    CHECK_FALSE(cache.write_error());
    CHECK(SeedCache(state.path(), env).find(*g));
    // A state directory that cannot be made: nothing remembered, nothing fails.
    env.fail_path(FaultyEnv::Op::kCreateDirectories, state.path(), EACCES);
    SeedCache none(state.path(), env);
    CHECK_FALSE(none.dir());
    none.remember(*f, *seed_f);
    CHECK_FALSE(none.find(*f));
}

TEST_CASE("library: seed files are read through the Env") {
    TempDir dir;
    write_file(dir / "f", pattern_bytes(3000));
    auto seed = make_seed(dir / "f", {});
    REQUIRE(seed);
    REQUIRE(write_file_atomically(dir / "f.seed", format_seed(*seed)));
    FaultyEnv env(Env::posix());
    auto read = read_seed_file(dir / "f.seed", env);
    REQUIRE(read);
    CHECK(read->id() == seed->id());
    CHECK(env.calls(FaultyEnv::Op::kReadFile) == 1);
    env.fail_path(FaultyEnv::Op::kReadFile, dir / "f.seed", EIO);
    auto failed = read_seed_file(dir / "f.seed", env);
    REQUIRE_FALSE(failed);
    CHECK(failed.error().message == (dir / "f.seed").string() + ": Input/output error");
    // The messages for what is not a seed file stay as they were.
    CHECK(read_seed_file(dir.path()).error().message.ends_with("is a directory, not a seed file"));
    write_file(dir / "big.seed", std::string(limits::kMaxSeedBytes + 1, 'x'));
    CHECK(read_seed_file(dir / "big.seed")
              .error()
              .message.find("bytes is more than a seed file may hold") != std::string::npos);
}

TEST_CASE("library: a sidecar that cannot be read is rejected, not trusted") {
    TempDir dir;
    write_file(dir / "f", pattern_bytes(3000));
    auto seed = make_seed(dir / "f", {});
    REQUIRE(seed);
    REQUIRE(write_file_atomically(dir / "f.seed", format_seed(*seed)));
    fs::last_write_time(dir / "f.seed", fs::last_write_time(dir / "f") + 1s);
    FaultyEnv env(Env::posix());
    auto f = stat_shared(dir / "f", env);
    REQUIRE(f);
    CHECK(check_sidecar(*f, env).seed);
    env.fail_path(FaultyEnv::Op::kReadFile, dir / "f.seed", EIO);
    auto check = check_sidecar(*f, env);
    CHECK_FALSE(check.seed);
    REQUIRE(check.rejected);
    CHECK(check.rejected->reason == SkipReason::kSidecarMismatch);
    CHECK(check.rejected->detail.find("Input/output error") != std::string::npos);
    // A stat that fails: as if there were no file.
    env.fail_path(FaultyEnv::Op::kStat, dir / "f", EIO);
    CHECK_FALSE(stat_shared(dir / "f", env));
}

TEST_CASE("library: the scan opens and stats each file through the Env") {
    TempDir dir;
    write_file(dir / "a", "a");
    write_file(dir / "b", "b");
    write_file(dir / "c", "c");
    FaultyEnv env(Env::posix());
    auto all = scan_directory(dir.path(), {}, env);
    CHECK(names(all.files, dir.path()) == std::set<std::string>{"a", "b", "c"});
    CHECK(env.calls(FaultyEnv::Op::kOpen) == 3);
    const fs::path root = fs::canonical(dir.path());
    env.fail_path(FaultyEnv::Op::kOpen, root / "b", EACCES);
    env.fail_path(FaultyEnv::Op::kStat, root / "c", ENOENT);  // gone meanwhile
    auto some = scan_directory(dir.path(), {}, env);
    CHECK(names(some.files, dir.path()) == std::set<std::string>{"a"});
    REQUIRE(some.skipped.size() == 1);
    CHECK(some.skipped[0].reason == SkipReason::kUnreadable);
    CHECK(some.skipped[0].detail == "Permission denied");
}

TEST_CASE("library: the scan walks through the Env, and passes over a directory it cannot list") {
    TempDir dir;
    // "early" is listed first: a walk that ended at the failure would find
    // nothing after it.
    fs::create_directories(dir / "early" / "deeper");
    write_file(dir / "early" / "b", "b");
    write_file(dir / "early" / "deeper" / "c", "c");
    write_file(dir / "m", "m");
    fs::create_directories(dir / "other");
    write_file(dir / "other" / "d", "d");
    FaultyEnv env(Env::posix());
    auto all = scan_directory(dir.path(), {}, env);
    CHECK(names(all.files, dir.path()) ==
          std::set<std::string>{"early/b", "early/deeper/c", "m", "other/d"});
    CHECK(env.calls(FaultyEnv::Op::kListDir) == 4);  // the root and its 3 directories
    const fs::path root = fs::canonical(dir.path());
    env.fail_path(FaultyEnv::Op::kListDir, root / "early", EIO);
    auto some = scan_directory(dir.path(), {}, env);
    CHECK(names(some.files, dir.path()) == std::set<std::string>{"m", "other/d"});
    CHECK(some.skipped.empty());
}

}  // namespace library_test
