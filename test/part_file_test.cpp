// DIR/NAME.part: ours for one seed, one process at a time, renamed only once
// complete and never over another file unless told to.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/env/faulty_env.hpp"
#include "peer/library/seed_maker.hpp"
#include "peer/storage/part_file.hpp"
#include "test/support/temp_dir.hpp"

namespace part_file_test {

using namespace seedshare;
using namespace seedshare::test;

namespace {

Seed seed_of(const TempDir& dir, const std::string& name, std::size_t size, std::uint64_t mix) {
    write_file(dir / name, pattern_bytes(size, mix));
    SeedMakerOptions o;
    o.chunk_size = 64 * 1024;
    auto seed = make_seed(dir / name, o);
    REQUIRE(seed);
    return *seed;
}

PartFile open_ok(const std::filesystem::path& p, const Seed& seed, bool force = false) {
    auto r = PartFile::open(p, seed, force);
    if (auto* f = std::get_if<PartFile::Failure>(&r)) FAIL(f->message);
    return std::move(std::get<PartFile>(r));
}

PartFile::Problem problem(const std::filesystem::path& p, const Seed& seed, bool force = false) {
    auto r = PartFile::open(p, seed, force);
    REQUIRE(std::holds_alternative<PartFile::Failure>(r));
    return std::get<PartFile::Failure>(r).problem;
}

// Writes the seed's bytes (from `src`) into the part's storage.
void fill(PartFile& part, const std::filesystem::path& src) {
    const auto bytes = read_file(src);
    REQUIRE(part.storage()->write(
        0, std::span(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size())));
}

}  // namespace

TEST_CASE("part file: created at full size with the trailer naming its seed, resumed by it alone") {
    TempDir src, out;
    const Seed a = seed_of(src, "a", 300'000, 1);
    const Seed b = seed_of(src, "b", 300'000, 2);
    const auto path = out / "x.part";
    {
        auto part = open_ok(path, a);
        CHECK(part.found() == PartFile::Found::kCreated);
        CHECK(part.storage()->size() == a.length);
        CHECK(std::filesystem::file_size(path) == a.length + PartFile::kTrailerBytes);
        CHECK(read_file(path).substr(a.length) == PartFile::trailer(a.id()));
        CHECK(PartFile::trailer(a.id()).size() == PartFile::kTrailerBytes);
    }
    CHECK(open_ok(path, a).found() == PartFile::Found::kResumable);
    // Another seed of the same size is not ours to resume: refused, untouched.
    const auto before = read_file(path);
    CHECK(problem(path, b) == PartFile::Problem::kForeign);
    CHECK(read_file(path) == before);
    // With force it is taken over, and marked for the new seed.
    CHECK(open_ok(path, b, true).found() == PartFile::Found::kTakenOver);
    CHECK(read_file(path).substr(b.length) == PartFile::trailer(b.id()));
}

TEST_CASE("part file: a file that is not ours is refused without force, and an empty one is not") {
    TempDir src, out;
    const Seed a = seed_of(src, "a", 100'000, 3);
    write_file(out / "user.part", "someone's notes");
    CHECK(problem(out / "user.part", a) == PartFile::Problem::kForeign);
    CHECK(read_file(out / "user.part") == "someone's notes");
    // Same size as the file but other bytes: still not ours.
    write_file(out / "same.part", pattern_bytes(a.length, 99));
    CHECK(problem(out / "same.part", a) == PartFile::Problem::kForeign);
    // An empty file holds nothing to lose.
    write_file(out / "empty.part", "");
    CHECK(open_ok(out / "empty.part", a).found() == PartFile::Found::kCreated);
    // The whole file, its trailer cut (a stop just before the rename): complete.
    std::filesystem::copy_file(src / "a", out / "whole.part");
    CHECK(open_ok(out / "whole.part", a).found() == PartFile::Found::kComplete);
}

TEST_CASE("part file: a second opener is refused while the first holds it, then may take it") {
    TempDir src, out;
    const Seed a = seed_of(src, "a", 100'000, 4);
    const Seed b = seed_of(src, "b", 50'000, 5);
    const auto path = out / "x.part";
    {
        auto first = open_ok(path, a);
        CHECK(problem(path, a) == PartFile::Problem::kBusy);
        // Another seed must not even resize it while it is held.
        CHECK(problem(path, b, true) == PartFile::Problem::kBusy);
        CHECK(std::filesystem::file_size(path) == a.length + PartFile::kTrailerBytes);
    }
    CHECK(open_ok(path, a).found() == PartFile::Found::kResumable);
}

TEST_CASE("part file: finish cuts the trailer, renames, and never replaces a file unless told") {
    TempDir src, out;
    const Seed a = seed_of(src, "a", 200'000, 6);
    {
        auto part = open_ok(out / "a.part", a);
        fill(part, src / "a");
        CHECK_FALSE(part.finish(out / "a", std::nullopt));
        CHECK(read_file(out / "a") == read_file(src / "a"));
        CHECK_FALSE(std::filesystem::exists(out / "a.part"));
        part.discard();  // after a finish: nothing to remove
        CHECK(std::filesystem::exists(out / "a"));
    }
    write_file(out / "b", "another file of that name");
    {
        auto part = open_ok(out / "b.part", a);
        fill(part, src / "a");
        const auto f = part.finish(out / "b", std::nullopt);
        REQUIRE(f);
        CHECK(f->problem == PartFile::Problem::kExists);
        CHECK(read_file(out / "b") == "another file of that name");
        // The verified file stays, complete, in the .part: a rerun finds it so.
        CHECK(read_file(out / "b.part") == read_file(src / "a"));
        // --force names the file it may replace: not one that replaced it since.
        const auto asked_about = FileIdentity::of(out / "b");
        REQUIRE(asked_about);
        // (Made while the old one exists, so it cannot reuse its inode.)
        write_file(out / "b.new", "a newer file that appeared meanwhile");
        std::filesystem::rename(out / "b.new", out / "b");
        const auto g = part.finish(out / "b", asked_about);
        REQUIRE(g);
        CHECK(g->problem == PartFile::Problem::kExists);
        CHECK(read_file(out / "b") == "a newer file that appeared meanwhile");
        CHECK_FALSE(part.finish(out / "b", FileIdentity::of(out / "b")));
        CHECK(read_file(out / "b") == read_file(src / "a"));
    }
}

TEST_CASE("part file: a FIFO, a directory or a symlink of that name is refused at once") {
    TempDir src, out;
    const Seed a = seed_of(src, "a", 1000, 7);
    REQUIRE(::mkfifo((out / "fifo.part").c_str(), 0644) == 0);
    CHECK(problem(out / "fifo.part", a) == PartFile::Problem::kNotRegular);
    std::filesystem::create_directory(out / "dir.part");
    CHECK(problem(out / "dir.part", a) == PartFile::Problem::kNotRegular);
    std::filesystem::create_symlink(src / "a", out / "link.part");
    CHECK(problem(out / "link.part", a, true) == PartFile::Problem::kNotRegular);
    CHECK(read_file(src / "a").size() == 1000);
}

TEST_CASE("part file: the lock holder renames or removes only the file it locked") {
    TempDir src, out;
    const Seed a = seed_of(src, "a", 100'000, 9);
    auto part = open_ok(out / "a.part", a);
    fill(part, src / "a");
    // Someone moves it away and puts another file under its name.
    std::filesystem::rename(out / "a.part", out / "moved");
    write_file(out / "a.part", "another");
    const auto f = part.finish(out / "a", std::nullopt);
    REQUIRE(f);
    CHECK_FALSE(std::filesystem::exists(out / "a"));
    part.discard();
    CHECK(read_file(out / "a.part") == "another");
}

TEST_CASE("part file: a hard-linked file is not written into without force") {
    TempDir src, out;
    const Seed a = seed_of(src, "a", 1000, 10);
    write_file(out / "mine", "");
    std::filesystem::create_hard_link(out / "mine", out / "a.part");
    CHECK(problem(out / "a.part", a) == PartFile::Problem::kForeign);
    CHECK(std::filesystem::file_size(out / "mine") == 0);
}

TEST_CASE("part file: discard removes what holds nothing") {
    TempDir src, out;
    const Seed a = seed_of(src, "a", 1000, 8);
    auto part = open_ok(out / "a.part", a);
    part.discard();
    CHECK_FALSE(std::filesystem::exists(out / "a.part"));
}

}  // namespace part_file_test

namespace part_file_test {

TEST_CASE("part file: the disk failing an open, a rename or the directory sync loses nothing") {
    TempDir src, out;
    const Seed a = seed_of(src, "a", 200'000, 3);
    const auto path = out / "a.part";
    const auto target = out / "a";
    FaultyEnv env(Env::posix());

    SUBCASE("the .part cannot be created: a failure naming it and the reason") {
        env.fail_nth(FaultyEnv::Op::kOpen, 1, ENOSPC);
        auto r = PartFile::open(path, a, false, env);
        REQUIRE(std::holds_alternative<PartFile::Failure>(r));
        const auto& f = std::get<PartFile::Failure>(r);
        CHECK(f.problem == PartFile::Problem::kIo);
        CHECK(f.message.find(path.string()) != std::string::npos);
        CHECK(f.message.find(std::strerror(ENOSPC)) != std::string::npos);
        CHECK(env.injected() == 1);
    }
    SUBCASE("the rename fails: the verified .part stays, and a second finish completes it") {
        auto r = PartFile::open(path, a, false, env);
        REQUIRE(std::holds_alternative<PartFile>(r));
        auto& part = std::get<PartFile>(r);
        fill(part, src / "a");
        env.fail_nth(FaultyEnv::Op::kRename, 1, EIO);
        const auto failed = part.finish(target, std::nullopt);
        REQUIRE(failed);
        CHECK(failed->problem == PartFile::Problem::kIo);
        CHECK(failed->message.find(std::strerror(EIO)) != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(target));
        REQUIRE(std::filesystem::exists(path));
        CHECK(read_file(path) == read_file(src / "a"));  // the trailer already cut
        CHECK_FALSE(part.finish(target, std::nullopt));
        CHECK(read_file(target) == read_file(src / "a"));
        CHECK_FALSE(std::filesystem::exists(path));
    }
    SUBCASE("the directory cannot be synced after the rename: said so, the file is in place") {
        auto r = PartFile::open(path, a, false, env);
        REQUIRE(std::holds_alternative<PartFile>(r));
        auto& part = std::get<PartFile>(r);
        fill(part, src / "a");
        const auto opens = env.calls(FaultyEnv::Op::kOpen);
        env.fail_nth(FaultyEnv::Op::kOpen, 1, EIO);  // the next open: the directory's
        const auto failed = part.finish(target, std::nullopt);
        REQUIRE(failed);
        CHECK(failed->message.find("cannot sync the directory") != std::string::npos);
        CHECK(env.calls(FaultyEnv::Op::kOpen) == opens + 1);
        CHECK(read_file(target) == read_file(src / "a"));
    }
    SUBCASE("a file system without RENAME_NOREPLACE whose unlink fails: NAME is in place") {
        // The Env's fallback linked NAME, then could not unlink the .part.
        struct LinkedOnly final : Env {
            Env& base = Env::posix();
            IoResult<FileInfo> stat(const std::filesystem::path& p) override {
                return base.stat(p);
            }
            IoResult<FileInfo> lstat(const std::filesystem::path& p) override {
                return base.lstat(p);
            }
            IoResult<std::vector<DirEntry>> list_dir(const std::filesystem::path& d) override {
                return base.list_dir(d);
            }
            IoStatus rename(const std::filesystem::path& f,
                            const std::filesystem::path& t) override {
                return base.rename(f, t);
            }
            IoStatus rename_no_replace(const std::filesystem::path& f,
                                       const std::filesystem::path& t) override {
                if (auto linked = base.link(f, t); !linked) return linked;
                return IoError{EPERM, "unlink", f};
            }
            IoStatus remove(const std::filesystem::path& p) override { return base.remove(p); }
            IoStatus link(const std::filesystem::path& f, const std::filesystem::path& t) override {
                return base.link(f, t);
            }
            IoStatus create_directories(const std::filesystem::path& d) override {
                return base.create_directories(d);
            }
            IoResult<std::string> read_file(const std::filesystem::path& p,
                                            std::uint64_t max) override {
                return base.read_file(p, max);
            }
            IoStatus write_file_atomically(const std::filesystem::path& p,
                                           std::string_view text) override {
                return base.write_file_atomically(p, text);
            }
            IoResult<Fd> open(const std::filesystem::path& p, int flags, mode_t mode) override {
                return base.open(p, flags, mode);
            }
            IoResult<FileLock> lock(const std::filesystem::path& p) override {
                return base.lock(p);
            }
            IoResult<std::uint64_t> free_space(const std::filesystem::path& p) override {
                return base.free_space(p);
            }
        } linked_only;
        auto r = PartFile::open(path, a, false, linked_only);
        REQUIRE(std::holds_alternative<PartFile>(r));
        auto& part = std::get<PartFile>(r);
        fill(part, src / "a");
        const auto failed = part.finish(target, std::nullopt);
        CHECK_MESSAGE(!failed, (failed ? failed->message : ""));
        CHECK(read_file(target) == read_file(src / "a"));
        CHECK(std::filesystem::exists(path));  // a second name of it, as the Env said
    }
    SUBCASE("discard through the Env removes the .part") {
        {
            auto r = PartFile::open(path, a, false, env);
            REQUIRE(std::holds_alternative<PartFile>(r));
            const auto removes = env.calls(FaultyEnv::Op::kRemove);
            std::get<PartFile>(r).discard();
            CHECK(env.calls(FaultyEnv::Op::kRemove) == removes + 1);
        }
        CHECK_FALSE(std::filesystem::exists(path));
    }
}

}  // namespace part_file_test
