#include <doctest/doctest.h>

#include <unistd.h>

#include <set>

#include "peer/library.hpp"
#include "peer/seed_maker.hpp"
#include "test/support/temp_dir.hpp"

using namespace seedshare;
using namespace seedshare::test;
namespace fs = std::filesystem;

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

    std::vector<std::string> skipped;
    const auto files = scan_directory(dir.path(), &skipped);
    CHECK(names(files, dir.path()) ==
          std::set<std::string>{"a.bin", "sub/b.txt", "sub/deeper/c", "lonely.seed", "inner-link"});
    CHECK(skipped.size() == 2);
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
    // The file changes after its seed was written: the seed is stale.
    ::usleep(20000);
    write_file(dir / "f", "CONTENT OF F");  // same length, newer
    auto changed = stat_shared(dir / "f");
    REQUIRE(changed);
    CHECK_FALSE(sidecar_seed(*changed));
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
