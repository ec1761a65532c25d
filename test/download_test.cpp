// In-process swarms: a real tracker, serving peers and getters on 127.0.0.1
// in one io_context, each test under a time limit.
#include <doctest/doctest.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "common/env/faulty_env.hpp"
#include "peer/transfer/download.hpp"
#include "test/support/cluster.hpp"
#include "test/support/hostile.hpp"
#include "test/support/seeded_files.hpp"
#include "test/support/temp_dir.hpp"

namespace download_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;

namespace {

// Reads pass through, with one byte of every chunk-sized read flipped: a peer
// serving through this sends only bad chunks.
class CorruptingStorage final : public Storage {
  public:
    explicit CorruptingStorage(std::shared_ptr<Storage> inner) : inner_(std::move(inner)) {}
    std::uint64_t size() const override { return inner_->size(); }
    Status read(std::uint64_t offset, std::span<std::uint8_t> out) override {
        auto st = inner_->read(offset, out);
        if (st && !out.empty()) out[out.size() / 2] ^= 0x5a;
        return st;
    }
    Status write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
        return inner_->write(offset, data);
    }
    Status sync() override { return inner_->sync(); }

  private:
    std::shared_ptr<Storage> inner_;
};

// A disk that fills up: writes fail with ENOSPC once `budget` bytes were written.
class FillingStorage final : public Storage {
  public:
    FillingStorage(std::shared_ptr<Storage> inner, std::uint64_t budget)
        : inner_(std::move(inner)), left_(budget) {}
    std::uint64_t size() const override { return inner_->size(); }
    Status read(std::uint64_t offset, std::span<std::uint8_t> out) override {
        return inner_->read(offset, out);
    }
    Status write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
        std::uint64_t left = left_.load();
        do {
            if (left < data.size())
                return Error{"part file: write failed: No space left on device"};
        } while (!left_.compare_exchange_weak(left, left - data.size()));
        return inner_->write(offset, data);
    }
    Status sync() override { return inner_->sync(); }

  private:
    std::shared_ptr<Storage> inner_;
    std::atomic<std::uint64_t> left_;
};

// A file of `size` bytes in `dir` and its seed for `tracker`.
Seed make_file(const TempDir& dir, const std::string& name, std::size_t size, std::uint64_t chunk,
               const HostPort& tracker) {
    return make_seeded_file(dir, name, size, tracker, size ^ chunk, chunk);
}

// Small pipelines and fast retries, so work spreads over every peer and a
// test never waits long for a timeout.
SwarmOptions test_options() {
    SwarmOptions o;
    o.pipeline_max_bytes = 256 * 1024;
    o.pipeline_min_bytes = 64 * 1024;
    o.block_bytes = 32 * 1024;
    o.stall_timeout = 2000ms;
    o.rediscover = 300ms;
    return o;
}

// A serving peer's process options: test_options(), uploads paced at
// `bytes_per_second`, so that a test can act in the middle of a download
// (unpaced, a download on loopback may be over before the test looks).
NodeOptions paced_options(std::uint64_t bytes_per_second) {
    NodeOptions o = node_options(test_options());
    o.max_upload_rate = bytes_per_second;
    return o;
}

struct Getter {
    TestPeer peer;
    std::unique_ptr<Download> download;
    Getter(asio::io_context& io, asio::thread_pool& pool, const Seed& seed,
           const std::filesystem::path& out, SwarmOptions options = test_options(),
           DownloadOptions extra = {})
        : peer(io, pool, "getter", options) {
        extra.seed = seed;
        extra.out_dir = out;
        download = std::make_unique<Download>(*peer.node, *peer.trackers, extra, peer.log);
    }
    std::uint64_t fetched() const {
        std::uint64_t n = 0;
        for (const auto& p : download->swarm()->peer_stats())
            n += p.downloaded;
        return n;
    }
};

}  // namespace

TEST_CASE("download: three serving peers and one getter: every peer contributes, identical bytes") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_file(src, "data.bin", 6 << 20, 64 * 1024, tracker.address);

    run_within(io, 30s, [&]() -> net::awaitable<void> {
        std::vector<std::unique_ptr<TestPeer>> servers;
        for (int i = 0; i < 3; ++i) {
            servers.push_back(
                std::make_unique<TestPeer>(io, pool, "server" + std::to_string(i), test_options()));
            co_await servers.back()->share(seed, open_shared(src / "data.bin"), tracker.address);
        }
        Getter getter(io, pool, seed, out.path());
        const auto outcome = co_await getter.download->run();
        CHECK(outcome == Download::Outcome::kComplete);
        CHECK(read_file(out / "data.bin") == read_file(src / "data.bin"));
        CHECK_FALSE(std::filesystem::exists(out / "data.bin.part"));
        // Every serving peer sent some of it; no chunk came twice (or hardly: end-game).
        const auto stats = getter.download->swarm()->peer_stats();
        CHECK(stats.size() == 3);
        for (const auto& p : stats)
            CHECK(p.downloaded > 0);
        CHECK(getter.fetched() <= seed.length + 4 * seed.chunk_size);
        co_await getter.peer.stop();
        for (auto& s : servers)
            co_await s->stop();
    });
}

TEST_CASE(
    "download: a serving peer runs no swarm loop while nobody is connected, and wakes for the "
    "next getter") {
    // A process serving thousands of files must not keep two idle
    // coroutines per file: its loops end when there is nothing to watch
    // and start again with a connection.
    TempDir src, out1, out2;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_file(src, "data.bin", 1 << 20, 64 * 1024, tracker.address);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        // Paced (1 MiB at 512 KiB/s), so each getter stays connected a while.
        TestPeer server(io, pool, Logger("server", LogLevel::kWarn), paced_options(512 * 1024));
        const auto swarm =
            co_await server.share(seed, open_shared(src / "data.bin"), tracker.address);
        CHECK(co_await eventually([&] { return swarm->loops_running() == 0; }, 5s));
        for (const auto* out : {&out1, &out2}) {
            BackgroundGet getter(io, pool, seed, out->path(), test_options());
            getter.start(io);
            // The getter's connection started the connect loop again (it
            // watches the connection while it lasts).
            CHECK(co_await eventually(
                [&] { return swarm->connection_count() > 0 && swarm->connect_loop_running(); },
                10s));
            REQUIRE(co_await getter.ended_within(30s));
            CHECK(*getter.outcome == Download::Outcome::kComplete);
            CHECK(read_file(*out / "data.bin") == read_file(src / "data.bin"));
            co_await getter.peer.stop();
            // The getter said goodbye: once that is gossiped, nothing is left to watch.
            CHECK(co_await eventually([&] { return swarm->loops_running() == 0; }, 10s));
        }
        co_await server.stop();
    });
}

TEST_CASE("download: a serving peer killed mid-download: its chunks go to the others") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_file(src, "data.bin", 8 << 20, 32 * 1024, tracker.address);

    run_within(io, 30s, [&]() -> net::awaitable<void> {
        // Each paced at 1 MiB/s: a quarter of the file takes about 0.7 s from
        // all three, the rest about 3 s from the two left, so the kill surely
        // comes in the middle.
        std::vector<std::unique_ptr<TestPeer>> servers;
        for (int i = 0; i < 3; ++i) {
            servers.push_back(std::make_unique<TestPeer>(
                io, pool, Logger("server" + std::to_string(i), LogLevel::kWarn),
                paced_options(1u << 20)));
            co_await servers.back()->share(seed, open_shared(src / "data.bin"), tracker.address);
        }
        Getter getter(io, pool, seed, out.path());
        // Kill server 0 once the getter has a quarter of the file.
        std::optional<std::uint64_t> verified_at_kill;
        auto killer = [&]() -> net::awaitable<void> {
            const bool quarter = co_await eventually(
                [&] {
                    auto s = getter.download->swarm();
                    return s && s->verified_bytes() >= seed.length / 4;
                },
                20s);
            if (!quarter) co_return;
            verified_at_kill = getter.download->swarm()->verified_bytes();
            servers[0]->kill();
        };
        net::spawn(io.get_executor(), killer(), Logger("test"), "killer");
        const auto outcome = co_await getter.download->run();
        // The kill happened, and while bytes were still missing.
        REQUIRE_MESSAGE(verified_at_kill.has_value(), "server 0 was never killed");
        REQUIRE_MESSAGE(*verified_at_kill < seed.length, "server 0 was killed after the end");
        CHECK(outcome == Download::Outcome::kComplete);
        CHECK(read_file(out / "data.bin") == read_file(src / "data.bin"));
        co_await getter.peer.stop();
        for (std::size_t i = 1; i < servers.size(); ++i)
            co_await servers[i]->stop();
    });
}

TEST_CASE(
    "download: a peer sending corrupt chunks is struck, dropped, and the file arrives intact") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_file(src, "data.bin", 4 << 20, 32 * 1024, tracker.address);

    run_within(io, 45s, [&]() -> net::awaitable<void> {
        TestPeer good1(io, pool, "good1", test_options());
        TestPeer good2(io, pool, "good2", test_options());
        TestPeer liar(io, pool, "liar", test_options());
        // The liar alone first, so that it is surely asked (with honest peers
        // next to it the download could end before its strikes add up); the
        // honest peers come once it is banned.
        co_await liar.share(seed,
                            std::make_shared<CorruptingStorage>(open_shared(src / "data.bin")),
                            tracker.address);
        Getter getter(io, pool, seed, out.path());
        std::optional<Download::Outcome> outcome;
        auto run = [&]() -> net::awaitable<void> { outcome = co_await getter.download->run(); };
        net::spawn(io.get_executor(), run(), Logger("test"), "download");
        const bool liar_banned = co_await eventually(
            [&] {
                auto s = getter.download->swarm();
                return s && s->banned(liar.node->user());
            },
            10s);
        CHECK(liar_banned);
        co_await good1.share(seed, open_shared(src / "data.bin"), tracker.address);
        co_await good2.share(seed, open_shared(src / "data.bin"), tracker.address);
        const bool done = co_await eventually([&] { return outcome.has_value(); }, 20s);
        CHECK(done);
        if (!done) {
            getter.download->stop();
            co_await eventually([&] { return outcome.has_value(); }, 10s);
        }
        CHECK(outcome == Download::Outcome::kComplete);
        CHECK(read_file(out / "data.bin") == read_file(src / "data.bin"));
        auto swarm = getter.download->swarm();
        CHECK(swarm->banned(liar.node->user()));
        CHECK_FALSE(swarm->banned(good1.node->user()));
        CHECK_FALSE(swarm->banned(good2.node->user()));
        co_await getter.peer.stop();
        co_await good1.stop();
        co_await good2.stop();
        co_await liar.stop();
    });
}

TEST_CASE("download: an interrupted download resumes and fetches only the missing chunks") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_file(src, "data.bin", 8 << 20, 64 * 1024, tracker.address);

    run_within(io, 40s, [&]() -> net::awaitable<void> {
        // Paced (8 MiB in about 2 s), so that the first download is surely
        // stopped part way: unpaced, it sometimes finished before the stopper
        // looked.
        NodeOptions paced = node_options(test_options());
        paced.max_upload_rate = 4u << 20;
        TestPeer server(io, pool, Logger("server", LogLevel::kWarn), paced);
        co_await server.share(seed, open_shared(src / "data.bin"), tracker.address);
        std::uint64_t first_verified = 0;
        {
            Getter first(io, pool, seed, out.path());
            auto stopper = [&]() -> net::awaitable<void> {
                co_await eventually(
                    [&] {
                        auto s = first.download->swarm();
                        return s && s->verified_bytes() >= seed.length / 3;
                    },
                    20s);
                first.download->stop();
            };
            net::spawn(io.get_executor(), stopper(), Logger("test"), "stopper");
            CHECK(co_await first.download->run() == Download::Outcome::kInterrupted);
            first_verified = first.download->swarm()->verified_bytes();
            co_await first.peer.stop();
        }
        CHECK(first_verified >= seed.length / 3);
        REQUIRE(first_verified < seed.length);
        CHECK(std::filesystem::exists(out / "data.bin.part"));
        CHECK_FALSE(std::filesystem::exists(out / "data.bin"));

        Getter second(io, pool, seed, out.path());
        CHECK(co_await second.download->run() == Download::Outcome::kComplete);
        CHECK(second.download->resumed_bytes() >= first_verified);
        // Only what was missing came over the network (plus end-game slack).
        CHECK(second.fetched() <=
              seed.length - second.download->resumed_bytes() + 4 * seed.chunk_size);
        CHECK(read_file(out / "data.bin") == read_file(src / "data.bin"));
        co_await second.peer.stop();
        co_await server.stop();
    });
}

TEST_CASE(
    "download: the disk fills up: a clear error, the partial file kept, a later run resumes") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_file(src, "data.bin", 4 << 20, 64 * 1024, tracker.address);

    run_within(io, 30s, [&]() -> net::awaitable<void> {
        TestPeer server(io, pool, "server", test_options());
        co_await server.share(seed, open_shared(src / "data.bin"), tracker.address);
        std::weak_ptr<Storage> released;
        {
            DownloadOptions full;
            full.wrap_storage = [&](std::shared_ptr<Storage> s) -> std::shared_ptr<Storage> {
                return std::make_shared<FillingStorage>(std::move(s), seed.length / 2);
            };
            Getter first(io, pool, seed, out.path(), test_options(), full);
            CHECK(co_await first.download->run() == Download::Outcome::kFailed);
            CHECK(first.download->message().find("No space left on device") != std::string::npos);
            co_await first.peer.stop();
            released = first.download->swarm()->storage_ptr();
        }
        // The failed download's chunk jobs may still be finishing on the pool;
        // its NAME.part (and the lock on it) goes once they are done. A second
        // download in this process must wait for that, or be refused as busy.
        CHECK(co_await eventually([&] { return released.expired(); }, 10s));
        CHECK(std::filesystem::exists(out / "data.bin.part"));
        Getter second(io, pool, seed, out.path());
        CHECK(co_await second.download->run() == Download::Outcome::kComplete);
        CHECK(second.download->resumed_bytes() > 0);
        CHECK(read_file(out / "data.bin") == read_file(src / "data.bin"));
        co_await second.peer.stop();
        co_await server.stop();
    });
}

TEST_CASE("download: an existing different file is not replaced without force") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_file(src, "data.bin", 1 << 20, 64 * 1024, tracker.address);
    write_file(out / "data.bin", "precious, and not the same");

    run_within(io, 20s, [&]() -> net::awaitable<void> {
        TestPeer server(io, pool, "server", test_options());
        co_await server.share(seed, open_shared(src / "data.bin"), tracker.address);
        {
            Getter refused(io, pool, seed, out.path());
            CHECK(co_await refused.download->run() == Download::Outcome::kFailed);
            CHECK(refused.download->message().find("use --force") != std::string::npos);
            CHECK(read_file(out / "data.bin") == "precious, and not the same");
            co_await refused.peer.stop();
        }
        DownloadOptions force;
        force.force = true;
        Getter forced(io, pool, seed, out.path(), test_options(), force);
        CHECK(co_await forced.download->run() == Download::Outcome::kComplete);
        CHECK(read_file(out / "data.bin") == read_file(src / "data.bin"));
        co_await forced.peer.stop();
        // Asked again, it is recognised as complete without fetching.
        Getter again(io, pool, seed, out.path());
        CHECK(co_await again.download->run() == Download::Outcome::kAlreadyComplete);
        co_await again.peer.stop();
        co_await server.stop();
    });
}

TEST_CASE("download: the disk refusing the rename keeps the verified .part, and a rerun ends it") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_file(src, "data.bin", 1 << 20, 64 * 1024, tracker.address);
    FaultyEnv env(Env::posix());

    run_within(io, 20s, [&]() -> net::awaitable<void> {
        TestPeer server(io, pool, "server", test_options());
        co_await server.share(seed, open_shared(src / "data.bin"), tracker.address);
        {
            // The final rename of data.bin.part fails with EIO.
            env.fail_path(FaultyEnv::Op::kRename, out / "data.bin.part", EIO);
            DownloadOptions o;
            o.env = &env;
            Getter failed(io, pool, seed, out.path(), test_options(), o);
            CHECK(co_await failed.download->run() == Download::Outcome::kFailed);
            CHECK(failed.download->message().find(std::strerror(EIO)) != std::string::npos);
            CHECK(env.injected() >= 1);
            CHECK_FALSE(std::filesystem::exists(out / "data.bin"));
            CHECK(read_file(out / "data.bin.part") == read_file(src / "data.bin"));
            co_await failed.peer.stop();
        }
        // The disk is well again: the verified .part is taken as complete.
        env.clear();
        DownloadOptions o;
        o.env = &env;
        Getter again(io, pool, seed, out.path(), test_options(), o);
        CHECK(co_await again.download->run() == Download::Outcome::kComplete);
        CHECK(read_file(out / "data.bin") == read_file(src / "data.bin"));
        CHECK_FALSE(std::filesystem::exists(out / "data.bin.part"));
        co_await again.peer.stop();
        co_await server.stop();
    });
}

TEST_CASE("download: a directory that cannot be created fails the download, naming it and why") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_file(src, "data.bin", 1 << 20, 64 * 1024, tracker.address);
    FaultyEnv env(Env::posix());
    env.fail_path(FaultyEnv::Op::kCreateDirectories, out / "sub", EACCES);

    run_within(io, 20s, [&]() -> net::awaitable<void> {
        DownloadOptions o;
        o.env = &env;
        Getter getter(io, pool, seed, out / "sub", test_options(), o);
        CHECK(co_await getter.download->run() == Download::Outcome::kFailed);
        CHECK(getter.download->message().find((out / "sub").string()) != std::string::npos);
        CHECK(getter.download->message().find(std::strerror(EACCES)) != std::string::npos);
        CHECK(env.injected() == 1);
        co_await getter.peer.stop();
    });
}

TEST_CASE(
    "download: a seed whose chunks verify but whose whole-file hash lies ends in an integrity "
    "error") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    Seed seed = make_file(src, "data.bin", 1 << 20, 64 * 1024, tracker.address);
    seed.file_hash.bytes[0] ^= 1;  // a different seed id, same chunks

    run_within(io, 20s, [&]() -> net::awaitable<void> {
        TestPeer server(io, pool, "server", test_options());
        co_await server.share(seed, open_shared(src / "data.bin"), tracker.address);
        Getter getter(io, pool, seed, out.path());
        CHECK(co_await getter.download->run() == Download::Outcome::kIntegrity);
        CHECK_FALSE(std::filesystem::exists(out / "data.bin"));
        co_await getter.peer.stop();
        co_await server.stop();
    });
}

TEST_CASE("download: with no holder it keeps asking, and finishes once one appears") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_file(src, "data.bin", 1 << 20, 64 * 1024, tracker.address);

    run_within(io, 30s, [&]() -> net::awaitable<void> {
        Getter getter(io, pool, seed, out.path());
        std::unique_ptr<TestPeer> late;
        auto arrive = [&]() -> net::awaitable<void> {
            asio::steady_timer t(io, 1500ms);
            co_await t.async_wait(asio::use_awaitable);
            CHECK(getter.download->swarm()->verified_bytes() == 0);
            late = std::make_unique<TestPeer>(io, pool, "late", test_options());
            co_await late->share(seed, open_shared(src / "data.bin"), tracker.address);
        };
        net::spawn(io.get_executor(), arrive(), Logger("test"), "late server");
        CHECK(co_await getter.download->run() == Download::Outcome::kComplete);
        CHECK(read_file(out / "data.bin") == read_file(src / "data.bin"));
        co_await getter.peer.stop();
        co_await late->stop();
    });
}

TEST_CASE(
    "download: the tracker goes away mid-download: the getter carries on with the peers it knows") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    auto tracker = std::make_unique<TestTracker>(io);
    const Seed seed = make_file(src, "data.bin", 8 << 20, 32 * 1024, tracker->address);

    run_within(io, 30s, [&]() -> net::awaitable<void> {
        // Each paced at 2 MiB/s: the file takes about 2 s from both, so the
        // tracker surely goes away in the middle.
        TestPeer s1(io, pool, Logger("s1", LogLevel::kWarn), paced_options(2u << 20));
        TestPeer s2(io, pool, Logger("s2", LogLevel::kWarn), paced_options(2u << 20));
        co_await s1.share(seed, open_shared(src / "data.bin"), tracker->address);
        co_await s2.share(seed, open_shared(src / "data.bin"), tracker->address);
        Getter getter(io, pool, seed, out.path());
        std::optional<std::uint64_t> verified_at_stop;
        auto stop_tracker = [&]() -> net::awaitable<void> {
            const bool both = co_await eventually(
                [&] {
                    auto s = getter.download->swarm();
                    return s && s->connection_count() == 2 && s->verified_bytes() > 0;
                },
                20s);
            if (!both) co_return;
            verified_at_stop = getter.download->swarm()->verified_bytes();
            tracker->server->stop();
        };
        net::spawn(io.get_executor(), stop_tracker(), Logger("test"), "tracker stop");
        const auto outcome = co_await getter.download->run();
        // The tracker went away, and while bytes were still missing.
        REQUIRE_MESSAGE(verified_at_stop.has_value(),
                        "the getter never had both peers and a verified chunk");
        REQUIRE_MESSAGE(*verified_at_stop < seed.length, "the tracker stopped after the end");
        CHECK(outcome == Download::Outcome::kComplete);
        CHECK(read_file(out / "data.bin") == read_file(src / "data.bin"));
        co_await getter.peer.stop();
        co_await s1.stop();
        co_await s2.stop();
    });
}

TEST_CASE("download: with small chunks the getter never has more requests out than a peer queues") {
    // 8 KiB chunks make 8 KiB blocks: the 16 MiB byte pipeline alone would
    // allow 2048 requests in flight, and the serving peer drops a peer with
    // more than kMaxQueuedRequests waiting, as one that never reads.
    TempDir src, out;
    LogCapture log(out / "server.log");
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    const Seed seed = make_file(src, "data.bin", 32 << 20, 8 * 1024, tracker.address);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        // A server slower than the getter asks: its queue is where requests wait.
        NodeOptions slow;
        slow.max_upload_rate = 32u << 20;
        TestPeer server(io, pool, log.logger("server", LogLevel::kWarn), slow);
        co_await server.share(seed, open_shared(src / "data.bin"), tracker.address);
        TestPeer getter_peer(io, pool, "getter", SwarmOptions{});
        DownloadOptions o;
        o.seed = seed;
        o.out_dir = out.path();
        Download download(*getter_peer.node, *getter_peer.trackers, o, getter_peer.log);
        const auto outcome = co_await download.run();
        CHECK(outcome == Download::Outcome::kComplete);
        CHECK(read_file(out / "data.bin") == read_file(src / "data.bin"));
        CHECK_FALSE(log.has_line({"requests queued"}));
        CHECK_FALSE(log.has_line({"dropping"}));
        co_await getter_peer.stop();
        co_await server.stop();
    });
}

}  // namespace download_test
