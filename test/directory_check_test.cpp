// `peer status --verify`: what differs between DIR and the version (pure
// compare), and the shell that re-hashes DIR (check_directory) on real files.
#include <doctest/doctest.h>

#include "peer/channel/channel_store.hpp"
#include "peer/channel/directory_check.hpp"
#include "peer/library/seed_maker.hpp"
#include "test/support/temp_dir.hpp"

namespace directory_check_test {

using namespace seedshare;
using namespace seedshare::test;
namespace fs = std::filesystem;

namespace {

ManifestEntry entry(const std::string& path, std::uint64_t length = 1) {
    return ManifestEntry{path, SeedId{}, length};
}
LocalEntry local(const std::string& path, EntryKind kind = EntryKind::kFile) {
    return LocalEntry{path, kind, FileStamp{}};
}

// A version of the files now in `dir` (seeds made from them, so by name).
Manifest version_of_dir(const fs::path& dir, const std::vector<std::string>& paths) {
    Manifest m;
    m.version = 3;
    for (const auto& p : paths) {
        auto seed = make_seed(dir / p, SeedMakerOptions{});
        REQUIRE(seed);
        m.files.push_back(ManifestEntry{p, seed->id(), seed->length});
    }
    return m;
}

}  // namespace

TEST_CASE("directory check: only regular files of the version are hashed") {
    const std::vector<ManifestEntry> files{entry("a"), entry("d/b"), entry("gone"), entry("x")};
    const std::vector<LocalEntry> scan{local("a"), local("d", EntryKind::kDirectory), local("d/b"),
                                       local("x", EntryKind::kOther), local("mine")};
    CHECK(files_to_hash(files, scan) == std::vector<std::string>{"a", "d/b"});
}

TEST_CASE("directory check: every difference, sorted by path, a clean directory has none") {
    const std::vector<ManifestEntry> files{entry("a"), entry("d/b"), entry("gone"), entry("x"),
                                           entry("z")};
    const std::vector<LocalEntry> scan{local("a"),
                                       local("d", EntryKind::kDirectory),
                                       local("d/b"),
                                       local("d/mine"),
                                       local("empty", EntryKind::kDirectory),
                                       local("link", EntryKind::kOther),
                                       local("x", EntryKind::kDirectory),
                                       local("z")};
    std::map<std::string, HashVerdict> hashed{
        {"a", {true, {}}}, {"d/b", {false, {}}}, {"z", {false, std::string("EIO")}}};
    const auto found = compare_to_version(files, scan, hashed);
    const std::vector<DirectoryDifference> want{
        {"d/b", Finding::kEdited, {}},   {"d/mine", Finding::kExtra, {}},
        {"gone", Finding::kMissing, {}}, {"link", Finding::kExtra, {}},
        {"x", Finding::kNotAFile, {}},   {"z", Finding::kUnreadable, "EIO"}};
    CHECK(found == want);
    // A file to hash that was not hashed is never taken as clean.
    hashed.erase("a");
    CHECK(compare_to_version(files, scan, hashed).front() ==
          DirectoryDifference{"a", Finding::kUnreadable, "not hashed"});

    const std::vector<ManifestEntry> two{entry("a"), entry("d/b")};
    const std::vector<LocalEntry> same{local("a"), local("d", EntryKind::kDirectory), local("d/b")};
    CHECK(compare_to_version(two, same, {{"a", {true, {}}}, {"d/b", {true, {}}}}).empty());
}

TEST_CASE("directory check: re-hashing finds an edit of the same size, a deletion, an extra") {
    TempDir dir;
    write_file(dir / "a.txt", "hello");
    fs::create_directories(dir / "docs");
    write_file(dir / "docs/b.txt", "world");
    const Manifest m = version_of_dir(dir.path(), {"a.txt", "docs/b.txt"});
    const auto no_seeds = [](const SeedId&) { return std::optional<Seed>(); };
    auto clean = check_directory(dir.path(), m, Env::posix(), no_seeds);
    REQUIRE(clean);
    CHECK(clean->empty());

    write_file(dir / "a.txt", "jello");  // same size, same name: only a hash tells
    fs::remove(dir / "docs/b.txt");
    write_file(dir / "extra.txt", "x");
    auto found = check_directory(dir.path(), m, Env::posix(), no_seeds);
    REQUIRE(found);
    const std::vector<DirectoryDifference> want{{"a.txt", Finding::kEdited, {}},
                                                {"docs/b.txt", Finding::kMissing, {}},
                                                {"extra.txt", Finding::kExtra, {}}};
    CHECK(*found == want);
}

TEST_CASE("directory check: a stored seed is compared by content, whatever its name") {
    TempDir dir;
    write_file(dir / "renamed.bin", "payload");
    write_file(dir / "original.bin", "payload");
    auto seed = make_seed(dir / "original.bin", SeedMakerOptions{});
    REQUIRE(seed);
    fs::remove(dir / "original.bin");
    Manifest m;
    m.version = 1;
    m.files.push_back(ManifestEntry{"renamed.bin", seed->id(), seed->length});
    // By its own seed id the file would not match (the name differs)...
    const auto none = [](const SeedId&) { return std::optional<Seed>(); };
    REQUIRE(check_directory(dir.path(), m, Env::posix(), none));
    CHECK(check_directory(dir.path(), m, Env::posix(), none)->size() == 1);
    // ...with the version's seed it does.
    const auto stored = [&](const SeedId& id) {
        return id == seed->id() ? std::optional<Seed>(*seed) : std::nullopt;
    };
    auto found = check_directory(dir.path(), m, Env::posix(), stored);
    REQUIRE(found);
    CHECK(found->empty());
}

TEST_CASE("channel store: when the channel was last heard reads back, a bad file is refused") {
    TempDir dir;
    {
        auto opened = ChannelStore::open(dir.path(), Env::posix());
        REQUIRE(std::holds_alternative<ChannelStore>(opened));
        auto& store = std::get<ChannelStore>(opened);
        auto view = ChannelStore::inspect(dir.path(), Env::posix());
        REQUIRE(std::holds_alternative<ChannelStore::View>(view));
        CHECK_FALSE(std::get<ChannelStore::View>(view).last_heard);
        REQUIRE(store.set_last_heard(1767229200));
    }
    auto view = ChannelStore::inspect(dir.path(), Env::posix());
    REQUIRE(std::holds_alternative<ChannelStore::View>(view));
    CHECK(std::get<ChannelStore::View>(view).last_heard == 1767229200);
    for (const char* bad :
         {"seedshare-channel-heard 1 -5\n", "seedshare-channel-heard 1 12",
          "seedshare-channel-heard 2 12\n", "12\n", "seedshare-channel-heard 1 012\n"}) {
        write_file(dir / ".seedshare/heard", bad);
        auto refused = ChannelStore::inspect(dir.path(), Env::posix());
        REQUIRE(std::holds_alternative<StoreError>(refused));
        CHECK(std::get<StoreError>(refused).kind == StoreError::Kind::kCorrupt);
    }
}

}  // namespace directory_check_test
