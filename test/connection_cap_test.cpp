// The process's connection budget in-process: many files, several peers,
// every process at a low connection cap. Without the budget this stalled
// (the 20-subscriber channel case in BENCHMARKS.md, at small scale): the
// holders of a missing file sat at their cap with idle connections of files
// already complete, closed the getter's dials unanswered, and the getter
// forgot them after a few such failures. With it, an idle connection gives
// way to one a download needs, and a full process answers "busy", which the
// dialler retries soon.
#include <doctest/doctest.h>

#include <filesystem>

#include "peer/transfer/file_transfer.hpp"
#include "test/support/cluster.hpp"
#include "test/support/seeded_files.hpp"
#include "test/support/temp_dir.hpp"

namespace connection_cap_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;

namespace {

namespace fs = std::filesystem;

constexpr std::size_t kFiles = 10;
constexpr std::size_t kGetters = 4;
constexpr std::size_t kCap = 6;  // connections per process, all files together

SwarmOptions quick() {
    SwarmOptions o;
    o.block_bytes = 32 * 1024;
    o.pipeline_min_bytes = 32 * 1024;
    o.pipeline_max_bytes = 128 * 1024;
    o.stall_timeout = 2000ms;
    o.rediscover = 300ms;
    o.connect_timeout = 1000ms;
    o.handshake_timeout = 1000ms;
    return o;
}

NodeOptions capped(std::uint64_t upload_rate = 0) {
    NodeOptions o = node_options(quick());
    o.max_connections = kCap;
    o.connection_idle_grace = 300ms;
    o.max_upload_rate = upload_rate;
    return o;
}

std::unique_ptr<FileTransfer> fetch_into(TestPeer& peer, const Seed& seed, const fs::path& out) {
    auto opened = PartFile::open(out / (seed.name + ".part"), seed, false);
    REQUIRE(std::holds_alternative<PartFile>(opened));
    PartFile& part = std::get<PartFile>(opened);
    std::shared_ptr<Storage> storage = part.storage();
    return FileTransfer::fetch(*peer.node, *peer.trackers, seed.trackers, seed, std::move(part),
                               std::move(storage), Bitfield(seed.chunk_count()), peer.log);
}

// A peer fetching every file at once, into its own directory.
struct Getter {
    TestPeer peer;
    TempDir out;
    std::vector<std::unique_ptr<FileTransfer>> fetches;
    Getter(asio::io_context& io, asio::thread_pool& pool, std::size_t n)
        : peer(io, pool, Logger("getter" + std::to_string(n), LogLevel::kWarn), capped()) {}
    std::size_t complete() const {
        return static_cast<std::size_t>(std::count_if(fetches.begin(), fetches.end(),
                                                      [](const auto& f) { return f->complete(); }));
    }
};

}  // namespace

TEST_CASE(
    "connection cap: many files to several peers at a low cap per process: every file arrives "
    "everywhere") {
    TempDir src;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    std::vector<Seed> seeds;
    for (std::size_t i = 0; i < kFiles; ++i)
        seeds.push_back(make_seeded_file(src, "file" + std::to_string(i) + ".bin", 256 * 1024 + i,
                                         tracker.address));

    run_within(io, 180s, [&]() -> net::awaitable<void> {
        // The seeder is slow enough that getters trade with each other.
        TestPeer seeder(io, pool, Logger("seeder", LogLevel::kWarn), capped(4u << 20));
        for (const auto& seed : seeds)
            co_await seeder.share(seed, open_shared(src / seed.name), tracker.address);
        std::vector<std::unique_ptr<Getter>> getters;
        for (std::size_t g = 0; g < kGetters; ++g) {
            getters.push_back(std::make_unique<Getter>(io, pool, g));
            auto& getter = *getters.back();
            const std::vector<HostPort> where{tracker.address};
            const auto unreachable = co_await getter.peer.trackers->connect(where);
            CHECK(unreachable.empty());
            for (const auto& seed : seeds) {
                getter.fetches.push_back(fetch_into(getter.peer, seed, getter.out.path()));
                getter.fetches.back()->start();
            }
        }
        // Every process stays within its cap (plus handshakes in progress)
        // all along: sampled while the files travel.
        std::size_t most_open = 0;
        const auto all_done = [&] {
            for (const auto* p : {&seeder}) {
                std::size_t open = 0;
                for (const auto& [id, s] : p->node->swarms())
                    open += s->open_connections();
                most_open = std::max(most_open, open);
            }
            for (const auto& g : getters) {
                std::size_t open = 0;
                for (const auto& [id, s] : g->peer.node->swarms())
                    open += s->open_connections();
                most_open = std::max(most_open, open);
            }
            return std::all_of(getters.begin(), getters.end(),
                               [](const auto& g) { return g->complete() == kFiles; });
        };
        const bool done = co_await eventually(all_done, 150s);
        for (std::size_t g = 0; g < getters.size(); ++g)
            CHECK_MESSAGE(getters[g]->complete() == kFiles,
                          "getter " << g << " has " << getters[g]->complete() << " of " << kFiles);
        CHECK(done);
        CHECK(most_open <= kCap);
        // The cap bound (there were more connections wanted than room: some
        // gave way, or new ones were put off), and every file arrived, so
        // none was refused for good. (Evictions alone are not counted on:
        // two peers that both completed a file close their connection
        // themselves, so idle ones to evict may not pile up.)
        std::uint64_t bound = seeder.node->counters().connections_evicted +
                              seeder.node->counters().connections_refused;
        for (const auto& g : getters)
            bound += g->peer.node->counters().connections_evicted +
                     g->peer.node->counters().connections_refused;
        CHECK(bound > 0);
        for (auto& g : getters)
            co_await g->peer.stop();
        co_await seeder.stop();
    });
}

}  // namespace connection_cap_test
