// DIR/.seedshare: a channel directory's state, written atomically, recorded
// as files are installed, loaded strictly, one process at a time.
#include <doctest/doctest.h>

#include <cerrno>

#include "common/core/limits.hpp"
#include "common/env/faulty_env.hpp"
#include "peer/channel/channel_store.hpp"
#include "peer/library/seed_maker.hpp"
#include "test/support/temp_dir.hpp"

namespace channel_store_test {

using namespace seedshare;
using namespace seedshare::test;
namespace fs = std::filesystem;

namespace {

Seed seed_of(const TempDir& dir, const std::string& name, std::size_t size, std::uint64_t mix) {
    write_file(dir / name, pattern_bytes(size, mix));
    SeedMakerOptions o;
    o.chunk_size = 16 * 1024;
    auto seed = make_seed(dir / name, o);
    REQUIRE(seed);
    return *seed;
}

ChannelStore open_ok(const fs::path& dir, Env& env = Env::posix()) {
    auto r = ChannelStore::open(dir, env);
    if (auto* e = std::get_if<StoreError>(&r)) FAIL(e->message);
    return std::move(std::get<ChannelStore>(r));
}

StoreError open_error(const fs::path& dir) {
    auto r = ChannelStore::open(dir, Env::posix());
    REQUIRE(std::holds_alternative<StoreError>(r));
    return std::get<StoreError>(r);
}

RecordedFile rec(std::string path, const Seed& seed, std::uint64_t ino) {
    return RecordedFile{std::move(path), seed, FileStamp{seed.length, -5, 7, ino}};
}

ChannelId channel_id() {
    auto id = ChannelId::from_hex_string(std::string(64, 'a'));
    REQUIRE(id);
    return *id;
}

}  // namespace

TEST_CASE("channel store: a new directory has no state, what is set reads back after reopening") {
    TempDir src, dir;
    const Seed a = seed_of(src, "a", 40000, 1);
    const Seed b = seed_of(src, "b", 100, 2);
    {
        auto store = open_ok(dir.path());
        CHECK_FALSE(store.channel());
        CHECK_FALSE(store.applied_manifest());
        CHECK(store.recorded().empty());
        CHECK(fs::is_directory(store.temp_dir()));
        CHECK(store.temp_dir().parent_path() == dir.path() / ".seedshare");
        REQUIRE(store.set_channel(channel_id()));
        // A manifest with newlines and spaces is kept byte for byte.
        REQUIRE(store.set_applied("line 1\nline 2 \n\n", {rec("x/a", a, 1), rec("b b", b, 2)}));
    }
    auto store = open_ok(dir.path());
    REQUIRE(store.channel());
    CHECK(*store.channel() == channel_id());
    REQUIRE(store.applied_manifest());
    CHECK(*store.applied_manifest() == "line 1\nline 2 \n\n");
    REQUIRE(store.recorded().size() == 2);
    CHECK(store.recorded()[0].path == "x/a");
    CHECK(store.recorded()[0].seed == a);
    CHECK(store.recorded()[0].stamp == FileStamp{a.length, -5, 7, 1});
    CHECK(store.recorded()[1].path == "b b");
    CHECK(store.recorded()[1].seed == b);
    auto stored = store.seed(a.id());
    REQUIRE(std::holds_alternative<std::optional<Seed>>(stored));
    CHECK(std::get<std::optional<Seed>>(stored) == a);
    auto none = store.seed(SeedId{});
    REQUIRE(std::holds_alternative<std::optional<Seed>>(none));
    CHECK_FALSE(std::get<std::optional<Seed>>(none));
}

TEST_CASE("channel store: files recorded during a sync survive a crash before set_applied") {
    TempDir src, dir;
    const Seed a = seed_of(src, "a", 40000, 1);
    const Seed a2 = seed_of(src, "a2", 40001, 3);
    const Seed c = seed_of(src, "c", 300, 4);
    {
        auto store = open_ok(dir.path());
        REQUIRE(store.set_applied("v1", {rec("a", a, 1), rec("old", c, 2)}));
        // The sync of v2: a replaced, new added, old deleted; then the crash.
        REQUIRE(store.record_installed(rec("a", a2, 10)));
        REQUIRE(store.record_installed(rec("d/new", c, 11)));
        REQUIRE(store.forget("old"));
        CHECK(store.recorded().size() == 2);
    }
    {
        auto store = open_ok(dir.path());
        CHECK(*store.applied_manifest() == "v1");  // v2 was not fully applied
        REQUIRE(store.recorded().size() == 2);
        CHECK(store.recorded()[0].path == "a");
        CHECK(store.recorded()[0].seed == a2);
        CHECK(store.recorded()[0].stamp.ino == 10);
        CHECK(store.recorded()[1].path == "d/new");
        // The crash cut a line being appended: it is dropped, the rest kept,
        // and appending goes on cleanly.
        {
            std::ofstream j(dir / ".seedshare/journal", std::ios::app);
            j << "+ " << a.id().hex() << " 12 3";
        }
    }
    {
        auto store = open_ok(dir.path());
        REQUIRE(store.recorded().size() == 2);
        REQUIRE(store.record_installed(rec("e", a, 12)));
        REQUIRE(store.set_applied("v2", {rec("a", a2, 10), rec("d/new", c, 11), rec("e", a, 12)}));
        CHECK_FALSE(fs::exists(dir / ".seedshare/journal"));
    }
    auto store = open_ok(dir.path());
    CHECK(*store.applied_manifest() == "v2");
    CHECK(store.recorded().size() == 3);
}

TEST_CASE(
    "channel store: a path recorded again replaces its entry, and a forgotten one can return") {
    TempDir src, dir;
    const Seed a = seed_of(src, "a", 40000, 1);
    const Seed b = seed_of(src, "b", 100, 2);
    auto check = [&](const ChannelStore& store) {
        REQUIRE(store.recorded().size() == 2);
        CHECK(store.recorded()[0].path == "y");
        CHECK(store.recorded()[1].path == "x");
        CHECK(store.recorded()[1].seed == a);
        CHECK(store.recorded()[1].stamp.ino == 4);
    };
    {
        auto store = open_ok(dir.path());
        REQUIRE(store.record_installed(rec("x", a, 1)));
        REQUIRE(store.record_installed(rec("y", b, 2)));
        REQUIRE(store.record_installed(rec("x", b, 3)));
        REQUIRE(store.recorded().size() == 2);
        CHECK(store.recorded()[0].path == "x");  // replaced where it was
        CHECK(store.recorded()[0].seed == b);
        REQUIRE(store.forget("x"));
        REQUIRE(store.forget("x"));  // not recorded: nothing to do
        REQUIRE(store.recorded().size() == 1);
        REQUIRE(store.record_installed(rec("x", a, 4)));
        check(store);
    }
    check(open_ok(dir.path()));  // the journal replayed: the same
}

TEST_CASE("channel store: a journal of an older generation is ignored") {
    TempDir src, dir;
    const Seed a = seed_of(src, "a", 1000, 1);
    {
        auto store = open_ok(dir.path());
        REQUIRE(store.record_installed(rec("a", a, 1)));
    }
    // As if set_applied's write landed and the crash came before the journal
    // was removed.
    const std::string journal = read_file(dir / ".seedshare/journal");
    {
        auto store = open_ok(dir.path());
        REQUIRE(store.set_applied("v1", {}));
    }
    write_file(dir / ".seedshare/journal", journal);
    auto store = open_ok(dir.path());
    CHECK(store.recorded().empty());
}

TEST_CASE("channel store: corrupt, truncated or oversized state is refused, naming the file") {
    TempDir src, dir;
    const Seed a = seed_of(src, "a", 40000, 1);
    {
        auto store = open_ok(dir.path());
        REQUIRE(store.set_channel(channel_id()));
        REQUIRE(store.set_applied("manifest text", {rec("a", a, 1)}));
    }
    const fs::path state = dir / ".seedshare/state";
    const std::string good = read_file(state);
    auto refused = [&](const std::string& text, StoreError::Kind kind) {
        write_file(state, text);
        const StoreError e = open_error(dir.path());
        CHECK(e.kind == kind);
        CHECK(e.message.find(state.string()) != std::string::npos);
        write_file(state, good);
    };
    SUBCASE("truncated anywhere") {
        for (std::size_t n = 0; n < good.size(); n += 7)
            refused(good.substr(0, n), StoreError::Kind::kCorrupt);
        refused(good.substr(0, good.size() - 1), StoreError::Kind::kCorrupt);
    }
    SUBCASE("bad fields") {
        auto replaced = [&](std::string_view from, std::string_view to) {
            std::string t = good;
            const auto at = t.find(from);
            REQUIRE(at != std::string::npos);
            t.replace(at, from.size(), to);
            return t;
        };
        refused(replaced("state 1", "state 2"), StoreError::Kind::kCorrupt);
        refused(replaced("channel a", "channel g"), StoreError::Kind::kCorrupt);
        refused(replaced("manifest 13", "manifest 14"), StoreError::Kind::kCorrupt);
        refused(replaced("manifest 13", "manifest 18446744073709551615"),
                StoreError::Kind::kCorrupt);
        refused(replaced("files 1", "files 2"), StoreError::Kind::kCorrupt);
        refused(replaced("files 1", "files 0"), StoreError::Kind::kCorrupt);
        refused(replaced(" a\n", " ../a\n"), StoreError::Kind::kCorrupt);
        refused(replaced(" -5 ", " x "), StoreError::Kind::kCorrupt);
        refused(good + "extra\n", StoreError::Kind::kCorrupt);
        // One path listed twice (the store never writes that): refused, not
        // one of the two silently kept.
        const auto files_at = good.find("files 1\n");
        REQUIRE(files_at != std::string::npos);
        const std::string line = good.substr(files_at + 8);
        refused(good.substr(0, files_at) + "files 2\n" + line + line, StoreError::Kind::kCorrupt);
    }
    SUBCASE("too large: refused before reading") {
        std::ofstream(state, std::ios::app).flush();
        fs::resize_file(state, limits::kMaxChannelStateBytes + 1);
        const StoreError e = open_error(dir.path());
        CHECK(e.kind == StoreError::Kind::kTooLarge);
        CHECK(e.message.find(state.string()) != std::string::npos);
    }
    SUBCASE("a seed that is missing, corrupt or not the one named") {
        const fs::path seed = dir / ".seedshare/seeds" / (a.id().hex() + ".seed");
        const std::string seed_text = read_file(seed);
        write_file(seed, seed_text.substr(0, seed_text.size() / 2));
        StoreError e = open_error(dir.path());
        CHECK(e.kind == StoreError::Kind::kCorrupt);
        CHECK(e.message.find(seed.string()) != std::string::npos);
        const Seed other = seed_of(src, "o", 500, 9);
        write_file(seed, format_seed(other));
        e = open_error(dir.path());
        CHECK(e.kind == StoreError::Kind::kCorrupt);
        CHECK(e.message.find("not the seed") != std::string::npos);
        fs::remove(seed);
        e = open_error(dir.path());
        CHECK(e.kind == StoreError::Kind::kCorrupt);
        CHECK(e.message.find("missing") != std::string::npos);
    }
    SUBCASE("a journal line that does not parse") {
        write_file(dir / ".seedshare/journal", "seedshare-channel-journal 1 1\n* what\n");
        const StoreError e = open_error(dir.path());
        CHECK(e.kind == StoreError::Kind::kCorrupt);
        CHECK(e.message.find("journal: line 2") != std::string::npos);
    }
}

TEST_CASE("channel store: a second open of the same directory is refused while the first lives") {
    TempDir dir;
    {
        auto first = open_ok(dir.path());
        const StoreError e = open_error(dir.path());
        CHECK(e.kind == StoreError::Kind::kBusy);
        CHECK(e.message.find(dir.path().string()) != std::string::npos);
    }
    auto again = open_ok(dir.path());  // released with the first
}

TEST_CASE("channel store: a failed write leaves memory and disk as they were") {
    TempDir src, dir;
    const Seed a = seed_of(src, "a", 1000, 1);
    FaultyEnv env(Env::posix());
    auto store = open_ok(dir.path(), env);
    REQUIRE(store.set_applied("v1", {rec("a", a, 1)}));
    env.fail_nth(FaultyEnv::Op::kWriteFileAtomically, 1, ENOSPC);
    auto r = store.set_applied("v2", {});
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ENOSPC);
    CHECK(*store.applied_manifest() == "v1");
    CHECK(store.recorded().size() == 1);
}

}  // namespace channel_store_test
