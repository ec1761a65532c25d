#include "peer/download.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cerrno>
#include <cstring>

#include "common/numbers.hpp"
#include "peer/seed_io.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {
constexpr auto kGoodbyeGrace = 5000ms;
}  // namespace

Download::Download(Node& node, Trackers& trackers, DownloadOptions options, Logger log)
    : node_(node),
      trackers_(trackers),
      options_(std::move(options)),
      log_(std::move(log)),
      seed_(options_.seed) {
    if (!options_.open_storage) {
        options_.open_storage = [](const fs::path& p, std::uint64_t size,
                                   bool* created) -> Result<std::shared_ptr<Storage>> {
            auto s = FileStorage::open_part(p, size, created);
            if (!s) return s.error();
            return std::shared_ptr<Storage>(std::move(*s));
        };
    }
}

fs::path Download::target() const {
    const Seed* s = seed();
    return s ? options_.out_dir / s->name : fs::path();
}

Download::Outcome Download::fail(Outcome o, std::string message) {
    message_ = std::move(message);
    return o;
}

void Download::stop() {
    stopped_ = true;
    if (swarm_) net::spawn(node_.swarm_env().ex, swarm_->stop(kGoodbyeGrace), log_, "stopping");
}

net::awaitable<Download::Outcome> Download::prepare() {
    std::error_code ec;
    if (!fs::is_directory(options_.out_dir, ec))
        co_return fail(Outcome::kUsage,
                       fmt::format("{}: not a directory", options_.out_dir.string()));

    tracker_list_ = options_.trackers;
    if (tracker_list_.empty())
        tracker_list_ = seed_ ? seed_->trackers : std::vector<HostPort>{kDefaultTracker};
    const auto unreachable = co_await trackers_.connect(tracker_list_);
    if (unreachable.size() == tracker_list_.size())
        co_return fail(Outcome::kTrackerUnreachable,
                       fmt::format("cannot reach {}", fmt::join(unreachable, "; ")));
    for (const auto& u : unreachable)
        log_.warn("cannot reach {} (retrying in the background)", u);

    if (!seed_) {
        const SeedId id = *options_.seed_id;
        std::optional<std::string> text;
        try {
            text = co_await trackers_.get_seed(id, tracker_list_);
        } catch (const std::exception& e) {
            co_return fail(Outcome::kFailed,
                           fmt::format("asking for seed {}: {}", id.hex(), e.what()));
        }
        if (!text)
            co_return fail(Outcome::kFailed, fmt::format("no tracker knows seed {}", id.hex()));
        auto s = parse_seed(*text);
        if (!s)
            co_return fail(Outcome::kFailed, fmt::format("the tracker's seed {} is invalid: {}",
                                                         id.hex(), s.error().message));
        if (s->id() != id)
            co_return fail(Outcome::kFailed,
                           fmt::format("the tracker's seed text does not match id {}", id.hex()));
        seed_ = std::move(*s);
        log_.info("fetched seed {} ({}) from the tracker", id.hex(), seed_->name);
    }
    co_return Outcome::kComplete;  // "prepared"
}

net::awaitable<Download::Outcome> Download::run() {
    if (auto o = co_await prepare(); o != Outcome::kComplete) co_return o;
    const Seed& seed = *seed_;
    auto& pool = node_.pool();

    // Never replace a different file of that name without --force.
    const fs::path target = options_.out_dir / seed.name;
    const fs::path part = options_.out_dir / (seed.name + ".part");
    std::error_code ec;
    if (fs::exists(fs::symlink_status(target, ec))) {
        bool same = false;
        if (fs::is_regular_file(target, ec) && fs::file_size(target, ec) == seed.length) {
            auto digest = co_await hash_file(target, pool);
            same = digest && *digest == seed.file_hash;
        }
        if (same) {
            auto opened = FileStorage::open_read(target);
            if (opened) {
                swarm_ = std::make_shared<Swarm>(node_.swarm_env(), seed, std::move(*opened),
                                                 Bitfield(seed.chunk_count(), true),
                                                 node_.swarm_options());
                node_.add(swarm_);
                swarm_->start();
                trackers_.hold(seed, tracker_list_, true);
            }
            co_return Outcome::kAlreadyComplete;
        }
        if (!options_.force)
            co_return fail(Outcome::kFailed,
                           fmt::format("{} exists and is not this file; use --force to replace it",
                                       target.string()));
    }

    // NAME.part, preallocated; if one is there, keep what verifies.
    bool created = false;
    auto opened = options_.open_storage(part, seed.length, &created);
    if (!opened) co_return fail(Outcome::kFailed, opened.error().message);
    std::shared_ptr<Storage> storage = std::move(*opened);
    Bitfield have(seed.chunk_count());
    if (!created && seed.chunk_count() > 0) {
        log_.info("checking the {} chunks already in {}", seed.chunk_count(), part.string());
        have = co_await verify_chunks(seed, storage, pool,
                                      std::max(2u, std::thread::hardware_concurrency()));
        resumed_chunks_ = have.count();
        for (std::uint32_t i = 0; i < have.size(); ++i)
            if (have.test(ChunkIndex{i})) resumed_bytes_ += seed.chunk_length(ChunkIndex{i});
        log_.info("resuming: {} of {} chunks verified, fetching the other {}", have.count(),
                  seed.chunk_count(), seed.chunk_count() - have.count());
    }
    if (stopped_) co_return fail(Outcome::kInterrupted, "interrupted");

    swarm_ = std::make_shared<Swarm>(node_.swarm_env(), seed, storage, have, node_.swarm_options());
    const SeedId id = swarm_->id();
    Trackers& trackers = trackers_;
    const auto where = tracker_list_;
    swarm_->find_peers = [&trackers, id, where](std::uint16_t numwant) {
        return trackers.find_peers(id, where, numwant);
    };
    const Seed& kept = swarm_->seed();
    swarm_->on_holding = [&trackers, &kept, where](bool complete) {
        trackers.hold(kept, where, complete);
    };
    if (have.count() > 0) trackers_.hold(kept, where, have.all());
    node_.add(swarm_);
    log_.info("fetching {} ({}, {} chunks), id {}", seed.name, format_bytes(seed.length),
              seed.chunk_count(), id.hex());
    swarm_->start();
    co_await swarm_->wait_done();

    if (swarm_->complete()) {
        if (::rename(part.c_str(), target.c_str()) != 0)
            co_return fail(Outcome::kFailed,
                           fmt::format("cannot rename {} to {}: {}", part.string(), target.string(),
                                       std::strerror(errno)));
        co_return Outcome::kComplete;
    }
    if (stopped_) co_return fail(Outcome::kInterrupted, "interrupted");
    if (swarm_->integrity_failure()) co_return fail(Outcome::kIntegrity, swarm_->failure());
    co_return fail(Outcome::kFailed, swarm_->failure());
}

}  // namespace seedshare
