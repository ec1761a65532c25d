// A channel's publisher says in its Hello that its upload is scarce
// (kHelloSpare, docs/PROTOCOL.md "Backup peers"): a getter that can take a
// chunk from another holder does, so each chunk leaves the publisher about
// once and the subscribers pass it on. In one io_context on 127.0.0.1, no
// tracker: the getter is given both holders.
#include <doctest/doctest.h>

#include "peer/transfer/download.hpp"
#include "test/support/cluster.hpp"
#include "test/support/discovery_support.hpp"
#include "test/support/temp_dir.hpp"

namespace publisher_spared_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace seedshare::test::discovery;
using namespace std::chrono_literals;

namespace {

// A complete holder of `seed`; `spare`: its Hello asks to be spared.
struct Holder {
    TestPeer peer;
    std::shared_ptr<FileTransfer> transfer;
    Holder(asio::io_context& io, asio::thread_pool& pool, const char* name, bool spare)
        : peer(io, pool, Logger(name, LogLevel::kWarn), [spare] {
              NodeOptions o = node_options(fast_swarm());
              o.spare_upload = spare;
              return o;
          }()) {}
    void share(const Seed& seed, const std::filesystem::path& file) {
        transfer =
            FileTransfer::share(*peer.node, *peer.trackers, {}, seed, open_shared(file), peer.log);
        transfer->start(false);
    }
    std::uint64_t uploaded() const { return peer.node->counters().bytes_up; }
};

}  // namespace

TEST_CASE("publisher spared: a getter takes from another holder what it has, not the publisher") {
    TempDir src, out1, out2;
    asio::io_context io;
    asio::thread_pool pool(2);
    const HostPort dead = dead_address(io);
    constexpr std::size_t kSize = 4u << 20;  // 64 chunks of 64 KiB
    const Seed seed = make_seeded_file(src, "f.bin", kSize, dead);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Holder publisher(io, pool, "publisher", true);
        Holder other(io, pool, "subscriber", false);
        publisher.share(seed, src / "f.bin");
        other.share(seed, src / "f.bin");
        // Both complete, both as fast: without the flag the getter takes
        // about half from each.
        Get g(io, pool, seed, out1.path(), {dead}, {at(publisher.peer), at(other.peer)});
        g.start(io);
        CHECK(co_await g.ended_within(30s));
        CHECK(g.outcome == Download::Outcome::kComplete);
        CHECK(read_file(out1 / "f.bin") == read_file(src / "f.bin"));
        MESSAGE("the publisher gave " << publisher.uploaded() << " of " << kSize << " bytes");
        CHECK(publisher.uploaded() * 5 < kSize);  // under 20%
        CHECK(other.uploaded() > kSize / 2);
        co_await g.peer.stop();

        // The other holder gone, the publisher serves everything.
        co_await other.peer.stop();
        const auto before = publisher.uploaded();
        Get alone(io, pool, seed, out2.path(), {dead}, {at(publisher.peer)});
        alone.start(io);
        CHECK(co_await alone.ended_within(30s));
        CHECK(alone.outcome == Download::Outcome::kComplete);
        CHECK(read_file(out2 / "f.bin") == read_file(src / "f.bin"));
        CHECK(publisher.uploaded() - before >= kSize);
        co_await alone.peer.stop();
        co_await publisher.peer.stop();
    });
}

}  // namespace publisher_spared_test
