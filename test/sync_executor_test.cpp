// The sync executor against a real swarm: a tracker, a publishing peer that
// shares each version's files, and a subscriber whose directory is brought
// from version to version, in one io_context.
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>

#include "common/crypto/sha256.hpp"
#include "common/env/faulty_env.hpp"
#include "peer/channel/channel_store.hpp"
#include "peer/channel/sync_executor.hpp"
#include "test/support/cluster.hpp"
#include "test/support/seeded_files.hpp"
#include "test/support/temp_dir.hpp"

namespace sync_executor_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kChunk = 16 * 1024;

SwarmOptions test_options() {
    SwarmOptions o;
    o.pipeline_max_bytes = 256 * 1024;
    o.pipeline_min_bytes = 64 * 1024;
    o.block_bytes = 16 * 1024;
    o.stall_timeout = 2000ms;
    o.rediscover = 300ms;
    return o;
}

// The publishing side: files written under its directory and shared.
struct Publisher {
    TestPeer peer;
    const TempDir& dir;
    HostPort tracker;
    std::map<SeedId, std::shared_ptr<Swarm>> swarms;

    Publisher(asio::io_context& io, asio::thread_pool& pool, const TempDir& d, HostPort t,
              NodeOptions o)
        : peer(io, pool, Logger("publisher", LogLevel::kWarn), std::move(o)), dir(d), tracker(t) {}

    // Writes `content` at `path` and shares it; the target file for it.
    net::awaitable<TargetFile> publish(std::string path, std::string content) {
        const fs::path file = dir / path;
        fs::create_directories(file.parent_path());
        write_file(file, content);
        SeedMakerOptions o;
        o.chunk_size = kChunk;
        o.trackers = {tracker};
        auto seed = make_seed(file, o);
        REQUIRE(seed);
        if (!swarms.contains(seed->id())) {
            auto swarm = co_await peer.share(*seed, open_shared(file), tracker);
            swarms[seed->id()] = swarm;
        }
        co_return TargetFile{std::move(path), std::move(*seed)};
    }
    std::uint64_t uploaded(const Seed& seed) const {
        std::uint64_t n = 0;
        for (const auto& p : swarms.at(seed.id())->peer_stats())
            n += p.uploaded;
        return n;
    }
};

ChannelStore open_store(const fs::path& dir) {
    auto r = ChannelStore::open(dir, Env::posix());
    if (auto* e = std::get_if<StoreError>(&r)) FAIL(e->message);
    return std::move(std::get<ChannelStore>(r));
}

// A sync in the background, so that the test can act while it runs.
struct BackgroundSync {
    SyncContext ctx;
    std::vector<TargetFile> target;
    std::atomic<bool> cancel{false};
    std::optional<SyncOutcome> outcome;

    // A member, not a capturing lambda: the coroutine outlives the call.
    net::awaitable<void> run() {
        auto o = co_await sync_to(ctx, target, cancel);
        outcome = std::move(o);
    }
};

net::awaitable<SyncOutcome> sync(TestPeer& peer, ChannelStore& store, const fs::path& dir,
                                 std::vector<TargetFile> target, HostPort tracker) {
    SyncContext ctx{*peer.node, *peer.trackers, {tracker}, peer.log, store, dir};
    std::atomic<bool> cancel{false};
    auto outcome = co_await sync_to(ctx, std::move(target), cancel);
    co_return outcome;
}

net::awaitable<void> leave_all(SyncOutcome& outcome) {
    for (auto& t : outcome.serving)
        co_await t->leave(0ms);
    outcome.serving.clear();
}

std::uint32_t chunks_of(const std::vector<TargetFile>& files) {
    std::uint32_t n = 0;
    for (const auto& f : files)
        n += f.seed.chunk_count();
    return n;
}

// The real disk, except that the first install at `path` finds a file the
// user put there after the plan was made (as if they raced the sync).
class RacingEnv final : public Env {
  public:
    explicit RacingEnv(fs::path path) : path_(std::move(path)) {}
    bool raced() const { return raced_; }

    IoResult<FileInfo> stat(const fs::path& p) override { return base_.stat(p); }
    IoResult<FileInfo> lstat(const fs::path& p) override { return base_.lstat(p); }
    IoResult<std::vector<DirEntry>> list_dir(const fs::path& d) override {
        return base_.list_dir(d);
    }
    IoStatus rename(const fs::path& f, const fs::path& t) override { return base_.rename(f, t); }
    IoStatus rename_no_replace(const fs::path& f, const fs::path& t) override {
        if (t == path_ && !raced_) {
            raced_ = true;
            write_file(t, "the user's");
        }
        return base_.rename_no_replace(f, t);
    }
    IoStatus remove(const fs::path& p) override { return base_.remove(p); }
    IoStatus link(const fs::path& f, const fs::path& t) override { return base_.link(f, t); }
    IoStatus create_directories(const fs::path& d) override { return base_.create_directories(d); }
    IoResult<std::string> read_file(const fs::path& p, std::uint64_t max) override {
        return base_.read_file(p, max);
    }
    IoStatus write_file_atomically(const fs::path& p, std::string_view text) override {
        return base_.write_file_atomically(p, text);
    }
    IoResult<Fd> open(const fs::path& p, int flags, mode_t mode) override {
        return base_.open(p, flags, mode);
    }
    IoResult<FileLock> lock(const fs::path& p) override { return base_.lock(p); }
    IoResult<std::uint64_t> free_space(const fs::path& p) override { return base_.free_space(p); }

  private:
    Env& base_ = Env::posix();
    fs::path path_;
    std::atomic<bool> raced_{false};
};

}  // namespace

TEST_CASE(
    "sync executor: a first sync, then a version with an edit, a rename, a deletion, a "
    "user's file and a user's edit") {
    TempDir pub, sub;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Publisher publisher(io, pool, pub, tracker.address, node_options(test_options()));
        TestPeer subscriber(io, pool, "subscriber", test_options());
        auto store = open_store(sub.path());

        const std::string a1 = pattern_bytes(8 * kChunk, 1);
        const std::string b = pattern_bytes(70000, 2);
        const std::string c = pattern_bytes(3 * kChunk, 3);
        const std::string d = pattern_bytes(80000, 4);
        std::vector<TargetFile> v1;
        v1.push_back(co_await publisher.publish("a.bin", a1));
        v1.push_back(co_await publisher.publish("b.bin", b));
        v1.push_back(co_await publisher.publish("c.bin", c));
        v1.push_back(co_await publisher.publish("docs/d.txt", d));

        // Version 1 into an empty directory: everything from the network.
        auto first = co_await sync(subscriber, store, sub.path(), v1, tracker.address);
        REQUIRE_MESSAGE(first.ok(), first.message);
        CHECK(first.report.network_chunks == chunks_of(v1));
        CHECK(first.report.local_chunks == 0);
        CHECK(first.report.installed == 4);
        CHECK(read_file(sub / "a.bin") == a1);
        CHECK(read_file(sub / "docs/d.txt") == d);
        REQUIRE(first.applied.size() == 4);
        REQUIRE(store.set_applied("v1", first.applied));
        CHECK(first.serving.size() == 4);
        co_await leave_all(first);

        // The user adds a file of their own and edits a published one.
        write_file(sub / "mine.txt", "my notes");
        std::string edited = d;
        edited.replace(2 * kChunk + 10, 5, "EDIT!");
        write_file(sub / "docs/d.txt", edited);

        // Version 2: a.bin with one chunk changed, b.bin renamed into a
        // directory, c.bin gone, docs/d.txt as it was.
        std::string a2 = a1;
        a2.replace(3 * kChunk + 100, 7, "changed");
        std::vector<TargetFile> v2;
        v2.push_back(co_await publisher.publish("a.bin", a2));
        v2.push_back(co_await publisher.publish("sub/b2.bin", b));
        v2.push_back(v1[3]);
        const std::uint64_t d_before = publisher.uploaded(v1[3].seed);

        auto second = co_await sync(subscriber, store, sub.path(), v2, tracker.address);
        REQUIRE_MESSAGE(second.ok(), second.message);
        // One chunk for the edit, one for the user's edit; the rest is local.
        CHECK(second.report.network_chunks == 2);
        CHECK(publisher.uploaded(v2[0].seed) == kChunk);
        CHECK(publisher.uploaded(v2[1].seed) == 0);  // the renamed file: all local
        CHECK(publisher.uploaded(v1[3].seed) - d_before == kChunk);
        CHECK(second.report.local_chunks == chunks_of(v2) - 2);
        CHECK(second.report.deleted == 2);  // b.bin (renamed) and c.bin
        CHECK(read_file(sub / "a.bin") == a2);
        CHECK(read_file(sub / "sub/b2.bin") == b);
        CHECK_FALSE(fs::exists(sub / "b.bin"));
        CHECK_FALSE(fs::exists(sub / "c.bin"));
        CHECK(read_file(sub / "mine.txt") == "my notes");
        CHECK(read_file(sub / "docs/d.txt") == d);
        CHECK(read_file(sub / "docs/d.txt.seedshare-edited-1") == edited);
        CHECK(second.report.restored == 1);
        CHECK(second.report.moved_aside == 1);
        REQUIRE(store.set_applied("v2", second.applied));
        co_await leave_all(second);

        // Nothing left to do: a third run changes nothing.
        auto third = co_await sync(subscriber, store, sub.path(), v2, tracker.address);
        REQUIRE_MESSAGE(third.ok(), third.message);
        CHECK(third.report.installed == 0);
        CHECK(third.report.network_chunks == 0);
        CHECK(third.report.hashed == 0);
        CHECK(third.report.rounds == 1);
        CHECK(fs::is_empty(store.temp_dir()));

        co_await subscriber.stop();
        co_await publisher.peer.stop();
    });
}

TEST_CASE("sync executor: a sync cancelled mid-fetch resumes where it stopped") {
    TempDir pub, sub;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        // Paced, so that the cancel surely comes in the middle of the file.
        NodeOptions paced = node_options(test_options());
        paced.max_upload_rate = 128 * 1024;
        Publisher publisher(io, pool, pub, tracker.address, paced);
        const std::string data = pattern_bytes(32 * kChunk, 7);
        std::vector<TargetFile> v1;
        v1.push_back(co_await publisher.publish("big/data.bin", data));

        std::uint64_t resumed = 0;
        {
            TestPeer subscriber(io, pool, "subscriber", test_options());
            auto store = open_store(sub.path());
            BackgroundSync bg{SyncContext{*subscriber.node,
                                          *subscriber.trackers,
                                          {tracker.address},
                                          subscriber.log,
                                          store,
                                          sub.path()},
                              v1,
                              {},
                              {}};
            net::spawn(io.get_executor(), bg.run(), Logger("test"), "sync");
            // Chunks verified (and written) in the .part, seen in the swarm.
            const SeedId id = v1[0].seed.id();
            TestPeer* peer = &subscriber;
            const bool some = co_await eventually(
                [peer, id] {
                    const auto swarm = peer->node->find(id);
                    return swarm && swarm->have().count() >= 4;
                },
                20s);
            REQUIRE(some);
            REQUIRE_FALSE(bg.outcome);  // still running when cancelled
            bg.cancel = true;
            const bool ended = co_await eventually([&] { return bg.outcome.has_value(); }, 10s);
            REQUIRE(ended);
            CHECK(bg.outcome->failure == SyncFailure::kCancelled);
            CHECK_FALSE(fs::exists(sub / "big/data.bin"));
            CHECK_FALSE(fs::is_empty(store.temp_dir()));  // the .part stays
            co_await subscriber.stop();
        }
        // A new process: the store reopened, the .part's chunks kept.
        TestPeer subscriber(io, pool, "subscriber2", test_options());
        auto store = open_store(sub.path());
        auto again = co_await sync(subscriber, store, sub.path(), v1, tracker.address);
        REQUIRE_MESSAGE(again.ok(), again.message);
        resumed = again.report.resumed_chunks;
        CHECK(resumed >= 4);
        CHECK(again.report.network_chunks == 32 - resumed);
        CHECK(read_file(sub / "big/data.bin") == data);
        CHECK(fs::is_empty(store.temp_dir()));
        co_await leave_all(again);
        co_await subscriber.stop();
        co_await publisher.peer.stop();
    });
}

TEST_CASE("sync executor: installed files are recorded as they land, so a crash costs no hashing") {
    TempDir pub, sub;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Publisher publisher(io, pool, pub, tracker.address, node_options(test_options()));
        TestPeer subscriber(io, pool, "subscriber", test_options());
        std::vector<TargetFile> v1;
        v1.push_back(co_await publisher.publish("x", pattern_bytes(3 * kChunk, 11)));
        v1.push_back(co_await publisher.publish("y/z", pattern_bytes(kChunk + 5, 12)));
        {
            auto store = open_store(sub.path());
            auto first = co_await sync(subscriber, store, sub.path(), v1, tracker.address);
            REQUIRE_MESSAGE(first.ok(), first.message);
            co_await leave_all(first);
            // The process dies before set_applied.
        }
        auto store = open_store(sub.path());
        CHECK_FALSE(store.applied_manifest());
        CHECK(store.recorded().size() == 2);
        auto again = co_await sync(subscriber, store, sub.path(), v1, tracker.address);
        REQUIRE_MESSAGE(again.ok(), again.message);
        CHECK(again.report.hashed == 0);
        CHECK(again.report.installed == 0);
        CHECK(again.applied.size() == 2);
        co_await subscriber.stop();
        co_await publisher.peer.stop();
    });
}

TEST_CASE("sync executor: a published file the user deleted is fetched again") {
    TempDir pub, sub;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Publisher publisher(io, pool, pub, tracker.address, node_options(test_options()));
        TestPeer subscriber(io, pool, "subscriber", test_options());
        auto store = open_store(sub.path());
        const std::string content = pattern_bytes(2 * kChunk + 3, 21);
        std::vector<TargetFile> v1;
        auto file = co_await publisher.publish("dir/f", content);
        v1.push_back(std::move(file));
        auto first = co_await sync(subscriber, store, sub.path(), v1, tracker.address);
        REQUIRE_MESSAGE(first.ok(), first.message);
        REQUIRE(store.set_applied("v1", first.applied));
        co_await leave_all(first);

        fs::remove(sub / "dir/f");
        auto again = co_await sync(subscriber, store, sub.path(), v1, tracker.address);
        REQUIRE_MESSAGE(again.ok(), again.message);
        CHECK(again.report.restored == 1);
        CHECK(again.report.moved_aside == 0);
        CHECK(again.report.network_chunks == 3);
        CHECK(read_file(sub / "dir/f") == content);
        co_await leave_all(again);
        co_await subscriber.stop();
        co_await publisher.peer.stop();
    });
}

TEST_CASE("sync executor: a disk failure stops the sync, the next run installs what was built") {
    TempDir pub, sub;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Publisher publisher(io, pool, pub, tracker.address, node_options(test_options()));
        TestPeer subscriber(io, pool, "subscriber", test_options());
        const std::string content = pattern_bytes(4 * kChunk, 31);
        std::vector<TargetFile> v1;
        auto file = co_await publisher.publish("f", content);
        v1.push_back(std::move(file));
        {
            FaultyEnv env(Env::posix());
            auto opened = ChannelStore::open(sub.path(), env);
            REQUIRE(std::holds_alternative<ChannelStore>(opened));
            auto& store = std::get<ChannelStore>(opened);
            // The install (the .part's own rename, into STATE/tmp, passes).
            env.fail_path(FaultyEnv::Op::kRename, sub / "f", EIO);
            auto first = co_await sync(subscriber, store, sub.path(), v1, tracker.address);
            CHECK(first.failure == SyncFailure::kDisk);
            CHECK(first.message.find("cannot install") != std::string::npos);
            CHECK(first.report.network_chunks == 4);
            CHECK(env.injected() == 1);
            CHECK_FALSE(fs::exists(sub / "f"));
            CHECK(first.serving.empty());  // they left: the built file is free
        }
        auto store = open_store(sub.path());
        auto again = co_await sync(subscriber, store, sub.path(), v1, tracker.address);
        REQUIRE_MESSAGE(again.ok(), again.message);
        CHECK(again.report.network_chunks == 0);
        CHECK(again.report.resumed_chunks == 4);
        CHECK(again.report.installed == 1);
        CHECK(read_file(sub / "f") == content);
        CHECK(fs::is_empty(store.temp_dir()));
        co_await subscriber.stop();
        co_await publisher.peer.stop();
    });
}

TEST_CASE("sync executor: two paths with one seed: downloaded once, copied once") {
    TempDir pub, sub;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Publisher publisher(io, pool, pub, tracker.address, node_options(test_options()));
        TestPeer subscriber(io, pool, "subscriber", test_options());
        auto store = open_store(sub.path());
        const std::string content = pattern_bytes(5 * kChunk, 41);
        std::vector<TargetFile> v1;
        auto one = co_await publisher.publish("one/same.bin", content);
        auto two = co_await publisher.publish("two/same.bin", content);
        REQUIRE(one.seed.id() == two.seed.id());
        v1.push_back(std::move(one));
        v1.push_back(std::move(two));
        for (int i = 0; i < 6; ++i) {
            auto other = co_await publisher.publish(fmt::format("more/{}", i),
                                                    pattern_bytes(kChunk + i, 50 + i));
            v1.push_back(std::move(other));
        }
        auto first = co_await sync(subscriber, store, sub.path(), v1, tracker.address);
        REQUIRE_MESSAGE(first.ok(), first.message);
        CHECK(first.report.network_chunks == chunks_of(v1) - 5);  // the copy is local
        CHECK(first.report.local_chunks == 5);
        CHECK(publisher.uploaded(v1[0].seed) == content.size());
        CHECK(read_file(sub / "one/same.bin") == content);
        CHECK(read_file(sub / "two/same.bin") == content);
        CHECK(read_file(sub / "more/5") == pattern_bytes(kChunk + 5, 55));
        co_await leave_all(first);
        co_await subscriber.stop();
        co_await publisher.peer.stop();
    });
}

TEST_CASE(
    "sync executor: small files come from the channel's peers first, what they lack from swarms") {
    TempDir pub, sub;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Publisher publisher(io, pool, pub, tracker.address, node_options(test_options()));
        TestPeer subscriber(io, pool, "subscriber", test_options());
        auto store = open_store(sub.path());
        std::vector<TargetFile> v1;
        std::map<SeedId, std::string> content;
        for (int i = 0; i < 8; ++i) {  // one chunk each
            const std::string bytes = pattern_bytes(100 + i * 999, 70 + i);
            auto f = co_await publisher.publish(fmt::format("small/{}", i), bytes);
            content.emplace(f.seed.id(), bytes);
            v1.push_back(std::move(f));
        }
        // The same file in another directory: one seed (a seed names the
        // file, not its directory), fetched once and copied.
        auto copy = co_await publisher.publish("copy/0", content.at(v1[0].seed.id()));
        REQUIRE(copy.seed.id() == v1[0].seed.id());
        v1.push_back(std::move(copy));
        const std::string big = pattern_bytes(3 * kChunk + 5, 90);
        auto large = co_await publisher.publish("large.bin", big);
        v1.push_back(std::move(large));

        // The channel's peers (a stand-in): they hold the even files only.
        std::set<SeedId> asked;
        SyncContext ctx{
            *subscriber.node, *subscriber.trackers, {tracker.address}, subscriber.log, store,
            sub.path()};
        ctx.small_files = [&](std::map<SeedId, SyncContext::SmallFile> wanted,
                              const std::atomic<bool>*) -> net::awaitable<std::map<SeedId, Bytes>> {
            std::map<SeedId, Bytes> out;
            for (const auto& [id, f] : wanted) {
                CHECK(asked.insert(id).second);  // each asked once
                const auto it = content.find(id);
                REQUIRE(it != content.end());  // only small files are asked for
                CHECK(f.length == it->second.size());
                CHECK(f.hash == sha256(it->second));
                for (int i = 0; i < 8; i += 2)
                    if (v1[i].seed.id() == id)
                        out.emplace(id, Bytes(it->second.begin(), it->second.end()));
            }
            co_return out;
        };
        std::atomic<bool> cancel{false};
        auto first = co_await sync_to(ctx, v1, cancel);
        REQUIRE_MESSAGE(first.ok(), first.message);
        CHECK(asked.size() == 8);  // the copy's seed once, the large file never
        CHECK(first.report.small_files == 4);
        for (int i = 0; i < 8; ++i) {
            CHECK(read_file(sub / fmt::format("small/{}", i)) == content.at(v1[i].seed.id()));
            // From the peers, nothing through the swarm; the others through it.
            CHECK(publisher.uploaded(v1[i].seed) ==
                  (i % 2 == 0 ? 0 : content.at(v1[i].seed.id()).size()));
        }
        CHECK(read_file(sub / "copy/0") == content.at(v1[0].seed.id()));
        CHECK(read_file(sub / "large.bin") == big);
        CHECK(publisher.uploaded(v1.back().seed) == big.size());
        CHECK(first.report.network_chunks == chunks_of(v1) - 1);  // the copy is local
        CHECK(first.report.local_chunks == 1);
        co_await leave_all(first);
        co_await subscriber.stop();
        co_await publisher.peer.stop();
    });
}

TEST_CASE("sync executor: a file that appears where one is being installed: planned again, kept") {
    TempDir pub, sub;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Publisher publisher(io, pool, pub, tracker.address, node_options(test_options()));
        TestPeer subscriber(io, pool, "subscriber", test_options());
        const std::string content = pattern_bytes(3 * kChunk, 61);
        std::vector<TargetFile> v1;
        auto file = co_await publisher.publish("d/f", content);
        v1.push_back(std::move(file));
        RacingEnv env(sub / "d/f");
        auto opened = ChannelStore::open(sub.path(), env);
        REQUIRE(std::holds_alternative<ChannelStore>(opened));
        auto& store = std::get<ChannelStore>(opened);
        auto first = co_await sync(subscriber, store, sub.path(), v1, tracker.address);
        REQUIRE_MESSAGE(first.ok(), first.message);
        CHECK(env.raced());
        CHECK(first.report.rounds >= 3);          // plan, plan again (moving it aside), done
        CHECK(first.report.network_chunks == 3);  // the built file waited, not fetched twice
        CHECK(first.report.installed == 1);
        CHECK(first.report.moved_aside == 1);
        CHECK(read_file(sub / "d/f") == content);
        CHECK(read_file(sub / "d/f.seedshare-moved-1") == "the user's");
        co_await leave_all(first);
        co_await subscriber.stop();
        co_await publisher.peer.stop();
    });
}

}  // namespace sync_executor_test
