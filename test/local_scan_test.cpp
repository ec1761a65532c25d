// The scan of a channel directory: every entry with its kind and stamp,
// symlinks never followed, the store's directory left out.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/env/faulty_env.hpp"
#include "peer/channel/local_scan.hpp"
#include "test/support/temp_dir.hpp"

namespace local_scan_test {

using namespace seedshare;
using namespace seedshare::test;
namespace fs = std::filesystem;

namespace {

const LocalEntry* find(const std::vector<LocalEntry>& scan, std::string_view path) {
    for (const auto& e : scan)
        if (e.path == path) return &e;
    return nullptr;
}

}  // namespace

TEST_CASE("local scan: kinds, stamps and relative paths, sorted") {
    TempDir dir;
    fs::create_directories(dir / "d/e");
    write_file(dir / "a", "12345");
    write_file(dir / "d/e/f", "x");
    REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
    auto scan = scan_local(dir.path(), Env::posix());
    REQUIRE(scan);
    std::vector<std::string> paths;
    for (const auto& e : *scan)
        paths.push_back(e.path);
    CHECK(paths == std::vector<std::string>{"a", "d", "d/e", "d/e/f", "fifo"});
    const LocalEntry* a = find(*scan, "a");
    CHECK(a->kind == EntryKind::kFile);
    struct stat st {};
    REQUIRE(::lstat((dir / "a").c_str(), &st) == 0);
    CHECK(a->stamp ==
          FileStamp{5, std::int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec,
                    static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)});
    CHECK(find(*scan, "d")->kind == EntryKind::kDirectory);
    CHECK(find(*scan, "fifo")->kind == EntryKind::kOther);
}

TEST_CASE("local scan: a symlink is listed as other, never followed") {
    TempDir dir, elsewhere;
    write_file(elsewhere / "secret", "x");
    fs::create_directory_symlink(elsewhere.path(), dir / "link");
    fs::create_symlink(elsewhere / "secret", dir / "file-link");
    auto scan = scan_local(dir.path(), Env::posix());
    REQUIRE(scan);
    REQUIRE(scan->size() == 2);
    CHECK(find(*scan, "link")->kind == EntryKind::kOther);
    CHECK(find(*scan, "file-link")->kind == EntryKind::kOther);
    CHECK(find(*scan, "link/secret") == nullptr);
}

TEST_CASE("local scan: DIR/.seedshare is left out, other hidden entries are not") {
    TempDir dir;
    fs::create_directories(dir / ".seedshare/tmp");
    write_file(dir / ".seedshare/state", "x");
    fs::create_directories(dir / "sub/.seedshare");
    write_file(dir / ".hidden", "x");
    auto scan = scan_local(dir.path(), Env::posix());
    REQUIRE(scan);
    for (const auto& e : *scan)
        CHECK(e.path.rfind(".seedshare", 0) != 0);
    CHECK(find(*scan, ".hidden") != nullptr);
    CHECK(find(*scan, "sub/.seedshare") != nullptr);  // only DIR's own is the store
}

TEST_CASE("local scan: DIR not a directory, and a listing that fails, are errors") {
    TempDir dir;
    write_file(dir / "file", "x");
    auto not_dir = scan_local(dir / "file", Env::posix());
    REQUIRE_FALSE(not_dir);
    CHECK(not_dir.error().kind == ScanError::Kind::kNotADirectory);
    fs::create_directories(dir / "sub");
    FaultyEnv env(Env::posix());
    env.fail_path(FaultyEnv::Op::kListDir, dir / "sub", EACCES);
    auto failed = scan_local(dir.path(), env);
    REQUIRE_FALSE(failed);
    CHECK(failed.error().kind == ScanError::Kind::kIo);
    CHECK(failed.error().message.find("sub") != std::string::npos);
}

}  // namespace local_scan_test
