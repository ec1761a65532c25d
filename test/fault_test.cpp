// Faults, in-process: a file modified or truncated on disk while a `serve`
// (a Sharer) is sending it. No getter may end up with a wrong file, and the
// serving peer must share the new content under its new seed id.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <thread>

#include "peer/library/sharer.hpp"
#include "peer/transfer/download.hpp"
#include "test/support/cluster.hpp"
#include "test/support/hostile.hpp"
#include "test/support/temp_dir.hpp"

namespace fault_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kFileBytes = 16u << 20;

// A getter's part file on a slow disk: each write first sleeps, so the
// download lasts long enough to change the served file in the middle of it.
class SlowDisk final : public Storage {
  public:
    explicit SlowDisk(std::shared_ptr<Storage> inner) : inner_(std::move(inner)) {}
    std::uint64_t size() const override { return inner_->size(); }
    Status read(std::uint64_t offset, std::span<std::uint8_t> out) override {
        return inner_->read(offset, out);
    }
    Status write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
        std::this_thread::sleep_for(15ms);
        return inner_->write(offset, data);
    }
    Status sync() override { return inner_->sync(); }

  private:
    std::shared_ptr<Storage> inner_;
};

SwarmOptions fast_retries() {
    SwarmOptions o;
    o.stall_timeout = 2000ms;
    o.rediscover = 300ms;
    // Few chunks in flight: the slow disk paces the download.
    o.fetch_budget_bytes = 2u << 20;
    return o;
}

struct Getter {
    TestPeer peer;
    std::unique_ptr<Download> download;
    std::optional<Download::Outcome> outcome;
    Getter(asio::io_context& io, asio::thread_pool& pool, DownloadOptions o, bool slow)
        : peer(io, pool, "getter", fast_retries()) {
        if (slow) {
            o.wrap_storage = [](std::shared_ptr<Storage> s) -> std::shared_ptr<Storage> {
                return std::make_shared<SlowDisk>(std::move(s));
            };
        }
        download = std::make_unique<Download>(*peer.node, *peer.trackers, o, peer.log);
    }
    net::awaitable<void> run() { outcome = co_await download->run(); }
    std::uint64_t verified() const {
        auto s = download->swarm();
        return s ? s->verified_bytes() : 0;
    }
};

// Changes the served file the way a user might: bytes overwritten in place
// (same size, new mtime), or cut short.
void change(const fs::path& p, bool truncate) {
    if (truncate) {
        fs::resize_file(p, kFileBytes / 2);
        return;
    }
    const int fd = ::open(p.c_str(), O_WRONLY);
    REQUIRE(fd >= 0);
    const std::string junk(64 * 1024, 'X');
    for (std::size_t at = 0; at < kFileBytes; at += kFileBytes / 8)
        REQUIRE(::pwrite(fd, junk.data(), junk.size(), static_cast<off_t>(at)) ==
                static_cast<ssize_t>(junk.size()));
    ::close(fd);
}

}  // namespace

TEST_CASE(
    "faults: a served file changed on disk mid-download: no getter ends with a wrong file, and "
    "the serving peer re-seeds it") {
    for (const bool truncate : {false, true}) {
        CAPTURE(truncate);
        TempDir shared, spare, out, out2, logs;
        LogCapture server_log(logs / "server.log");
        const std::string original = pattern_bytes(kFileBytes, 0xfa017);
        write_file(shared / "data.bin", original);
        write_file(spare / "data.bin", original);
        asio::io_context io;
        asio::thread_pool pool(2);
        TestTracker tracker(io);
        SeedMakerOptions policy;  // the default chunk size, as `serve` uses
        policy.trackers = {tracker.address};
        const auto made = make_seed(shared / "data.bin", policy);
        REQUIRE(made);
        const Seed seed = *made;
        const fs::path served = shared / "data.bin";

        run_within(io, 90s, [&]() -> net::awaitable<void> {
            TestPeer server(io, pool, server_log.logger("server"), fast_retries());
            SharerOptions so;
            so.dir = shared.path();
            so.trackers = {tracker.address};
            so.rescan = 200ms;
            Sharer sharer(*server.node, *server.trackers, so, server.log);
            net::spawn(io.get_executor(), sharer.run(), Logger("test"), "sharer");
            auto shares = [&](const SeedId& id) {
                return [&sharer, &served, id] {
                    auto it = sharer.shared().find(served);
                    return it != sharer.shared().end() && it->second.id == id;
                };
            };
            const auto shares_original = shares(seed.id());
            REQUIRE(co_await wait_for(shares_original, 10000ms));

            DownloadOptions o;
            o.seed = seed;
            o.out_dir = out.path();
            Getter getter(io, pool, o, /*slow=*/true);
            net::spawn(io.get_executor(), getter.run(), Logger("test"), "getter");
            auto a_quarter = [&] { return getter.verified() >= kFileBytes / 4; };
            REQUIRE(co_await wait_for(a_quarter, 20000ms));
            CHECK(getter.verified() < kFileBytes);

            change(served, truncate);
            const auto remade = make_seed(served, policy);
            REQUIRE(remade);
            const SeedId new_id = remade->id();
            REQUIRE(new_id != seed.id());

            // The serving peer noticed, re-seeded, and tells the tracker.
            const auto shares_new = shares(new_id);
            CHECK(co_await wait_for(shares_new, 15000ms));
            const UserId server_user = server.node->user();
            auto tracker_knows = [&] {
                bool old_listed = false;
                for (const auto& p : tracker.store->get_peers(seed.id(), UserId{}, 200))
                    old_listed |= p.user == server_user;
                bool new_listed = false;
                for (const auto& p : tracker.store->get_peers(new_id, UserId{}, 200))
                    new_listed |= p.user == server_user;
                return !old_listed && new_listed;
            };
            CHECK(co_await wait_for(tracker_knows, 10000ms));
            CHECK(server_log.has_line({"changed"}));

            // The getter of the old content cannot finish from it.
            CHECK_FALSE(getter.outcome.has_value());
            CHECK_FALSE(fs::exists(out / "data.bin"));

            // With a holder of the original, it finishes: the original bytes.
            TestPeer keeper(io, pool, "keeper", fast_retries());
            auto kept = FileStorage::open_read(spare / "data.bin");
            REQUIRE(kept);
            const std::shared_ptr<Storage> kept_storage(std::move(*kept));
            co_await keeper.share(seed, kept_storage, tracker.address);
            auto finished = [&] { return getter.outcome.has_value(); };
            REQUIRE(co_await wait_for(finished, 30000ms));
            CHECK(*getter.outcome == Download::Outcome::kComplete);
            CHECK(same_file(out / "data.bin", spare / "data.bin"));
            CHECK_FALSE(fs::exists(out / "data.bin.part"));

            // A getter of the new id gets the new content, seed fetched by id.
            DownloadOptions o2;
            o2.seed_id = new_id;
            o2.out_dir = out2.path();
            o2.trackers = {tracker.address};
            Getter second(io, pool, o2, /*slow=*/false);
            co_await second.run();
            CHECK(second.outcome == Download::Outcome::kComplete);
            CHECK(same_file(out2 / "data.bin", served));

            sharer.stop();
            co_await second.peer.stop();
            co_await getter.peer.stop();
            co_await keeper.stop();
            co_await server.stop();
        });
    }
}

}  // namespace fault_test
