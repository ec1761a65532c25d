#include "peer/transfer/download.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cerrno>
#include <cstring>

#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"
#include "common/net/offload.hpp"
#include "peer/discovery/address_book_file.hpp"
#include "peer/storage/seed_io.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// What the download finds where it is to write, looked up through the Env
// (on the pool: it blocks).
struct Destination {
    std::optional<std::string> failed;  // DIR could not be created
    std::optional<std::string> usage;   // DIR is not a directory
    bool created = false;               // DIR was made
    // NAME exists (a symlink counts): which file it is, and what.
    std::optional<FileIdentity> target;
    bool target_directory = false;
    bool target_same_size = false;  // a regular file (followed) of the seed's length
};

Destination inspect_destination(Env& env, const fs::path& dir, const fs::path& target,
                                std::uint64_t length) {
    Destination d;
    auto found = env.stat(dir);
    if (!found) {
        if (auto made = env.create_directories(dir); !made) {
            d.failed =
                fmt::format("cannot create {}: {}", dir.string(), std::strerror(made.error().code));
            return d;
        }
        d.created = true;
        found = env.stat(dir);
    }
    if (!found || found->type != FileType::kDirectory) {
        d.usage = fmt::format("{}: not a directory", dir.string());
        return d;
    }
    const auto named = env.lstat(target);
    if (!named) return d;
    d.target = FileIdentity{static_cast<dev_t>(named->device), static_cast<ino_t>(named->inode)};
    d.target_directory = named->type == FileType::kDirectory;
    const auto file = env.stat(target);
    d.target_same_size = file.ok() && file->type == FileType::kRegular && file->size == length;
    return d;
}

constexpr auto kGoodbyeGrace = 5000ms;
}  // namespace

Download::Download(Node& node, Trackers& trackers, DownloadOptions options, Logger log)
    : node_(node),
      trackers_(trackers),
      options_(std::move(options)),
      log_(std::move(log)),
      seed_(options_.seed) {}

fs::path Download::target() const {
    const Seed* s = seed();
    return s ? options_.out_dir / s->name : fs::path();
}

Download::Outcome Download::fail(Outcome o, std::string message) {
    message_ = std::move(message);
    return o;
}

Download::Outcome Download::stopped_outcome() {
    const auto started = swarm();
    if (timed_out_)
        return fail(Outcome::kTimedOut,
                    fmt::format("not done within the time limit{}",
                                started && started->verified_bytes() + resumed_bytes_ == 0
                                    ? " (no peer sent a verified chunk)"
                                    : ""));
    return fail(Outcome::kInterrupted, "interrupted");
}

void Download::stop() {
    stopped_ = true;
    *cancel_ = true;
    if (transfer_ && transfer_->started()) transfer_->stop(kGoodbyeGrace);
}

void Download::time_out() {
    timed_out_ = true;
    stop();
}

net::awaitable<Download::Outcome> Download::connect_trackers() {
    if (trackers_connected_) co_return Outcome::kComplete;
    const auto unreachable = co_await trackers_.connect(tracker_list_);
    if (unreachable.size() == tracker_list_.size()) {
        // No tracker: a convenience, not a necessity, when a peer is known
        // (named by the user, or remembered in the address book, which
        // other processes of this state directory may have written since).
        node_.refresh_book();
        const auto book = node_.book();
        const std::size_t remembered =
            seed_ && book ? book->holders(AddressBook::key(seed_->id()), address_book_now(),
                                          options_.peers.size() + 1)
                                .size()
                          : 0;
        if (!seed_ || (options_.peers.empty() && remembered == 0))
            co_return fail(Outcome::kTrackerUnreachable,
                           fmt::format("cannot reach {}", fmt::join(unreachable, "; ")));
        log_.warn("cannot reach {}; starting from {} (the trackers are retried in the background)",
                  fmt::join(unreachable, "; "),
                  options_.peers.empty() ? "the peers in the address book" : "the peers named");
        trackers_connected_ = true;
        co_return Outcome::kComplete;
    }
    for (const auto& u : unreachable)
        log_.warn("cannot reach {} (retrying in the background)", u);
    trackers_connected_ = true;
    co_return Outcome::kComplete;
}

net::awaitable<Download::Outcome> Download::obtain_seed() {
    tracker_list_ = options_.trackers;
    if (tracker_list_.empty())
        tracker_list_ = seed_ ? seed_->trackers : std::vector<HostPort>{kDefaultTracker};
    if (seed_) co_return Outcome::kComplete;

    if (auto o = co_await connect_trackers(); o != Outcome::kComplete) co_return o;
    const SeedId id = *options_.seed_id;
    std::optional<std::string> text;
    try {
        text = co_await trackers_.get_seed(id, tracker_list_);
    } catch (const std::exception& e) {
        co_return fail(Outcome::kFailed, fmt::format("asking for seed {}: {}", id.hex(), e.what()));
    }
    if (!text) co_return fail(Outcome::kFailed, fmt::format("no tracker knows seed {}", id.hex()));
    auto s = parse_seed(*text);
    if (!s)
        co_return fail(Outcome::kFailed, fmt::format("the tracker's seed {} is invalid: {}",
                                                     id.hex(), s.error().message));
    if (s->id() != id)
        co_return fail(Outcome::kFailed,
                       fmt::format("the tracker's seed text does not match id {}", id.hex()));
    seed_ = std::move(*s);
    log_.info("fetched seed {} ({}) from the tracker", id.hex(), seed_->name);
    co_return Outcome::kComplete;  // "obtained"
}

void Download::serve_complete(const fs::path& target) {
    auto opened = FileStorage::open_read(target, *options_.env);
    if (!opened) return;
    transfer_ =
        FileTransfer::share(node_, trackers_, tracker_list_, *seed_, std::move(*opened), log_);
    transfer_->start(false);
    if (options_.announce_complete) transfer_->announce_complete();
}

net::awaitable<Download::Outcome> Download::run() {
    if (stopped_) co_return stopped_outcome();  // stopped before it began
    if (auto o = co_await obtain_seed(); o != Outcome::kComplete) co_return o;
    const Seed& seed = *seed_;
    if (options_.claim)
        if (auto refused = options_.claim(seed)) co_return fail(Outcome::kFailed, *refused);
    auto& pool = node_.pool();

    // Everything that can be checked locally is checked before the first byte.
    const fs::path target = options_.out_dir / seed.name;
    const fs::path part_path = options_.out_dir / (seed.name + ".part");
    auto inspect = [env = options_.env, dir = options_.out_dir, target, length = seed.length] {
        return inspect_destination(*env, dir, target, length);
    };
    const Destination there = co_await offload(pool, std::move(inspect));
    if (stopped_) co_return stopped_outcome();
    if (there.failed) co_return fail(Outcome::kFailed, *there.failed);
    if (there.created) log_.info("created {}", options_.out_dir.string());
    if (there.usage) co_return fail(Outcome::kUsage, *there.usage);

    // Never replace a different file of that name without --force, and never
    // what cannot be replaced by a file.
    std::optional<FileIdentity> replace;  // the NAME --force may replace
    if (there.target) {
        if (there.target_directory)
            co_return fail(Outcome::kFailed,
                           fmt::format("{} is a directory; a file cannot replace it, even with "
                                       "--force (choose another -o)",
                                       target.string()));
        bool same = false;
        if (there.target_same_size) {
            auto digest = co_await hash_file(target, pool, cancel_, *options_.env);
            if (stopped_) co_return stopped_outcome();
            same = digest && *digest == seed.file_hash;
        }
        if (same) {
            serve_complete(target);
            co_return Outcome::kAlreadyComplete;
        }
        if (!options_.force)
            co_return fail(Outcome::kFailed,
                           fmt::format("{} exists and is not this file; use --force to replace it",
                                       target.string()));
        replace = there.target;
    }

    // NAME.part: ours, locked; if it was there, keep what verifies.
    const bool force = options_.force;
    Env* part_env = options_.env;
    auto open_part = [part_path, &seed, force, part_env] {
        return PartFile::open(part_path, seed, force, *part_env);
    };
    auto opened = co_await offload(pool, std::move(open_part));
    if (auto* f = std::get_if<PartFile::Failure>(&opened))
        co_return fail(Outcome::kFailed, f->message);
    PartFile& part = std::get<PartFile>(opened);
    std::shared_ptr<Storage> storage = part.storage();
    if (options_.wrap_storage) storage = options_.wrap_storage(storage);
    Bitfield have(seed.chunk_count());
    switch (part.found()) {
        case PartFile::Found::kCreated:
            break;
        case PartFile::Found::kComplete:
            have = Bitfield(seed.chunk_count(), true);
            log_.info("{} already holds the whole file", part_path.string());
            break;
        case PartFile::Found::kTakenOver:
            log_.warn("{} was not made by seedshare for this seed: taking it over (--force)",
                      part_path.string());
            [[fallthrough]];
        case PartFile::Found::kResumable:
            if (seed.chunk_count() == 0) break;
            log_.info("checking the {} already in {}", count_of(seed.chunk_count(), "chunk"),
                      part_path.string());
            have = co_await verify_chunks(
                seed, storage, pool, std::max(2u, std::thread::hardware_concurrency()), cancel_);
            log_.info("resuming: {} of {} verified, fetching the other {}", have.count(),
                      count_of(seed.chunk_count(), "chunk"), seed.chunk_count() - have.count());
            break;
    }
    resumed_chunks_ = have.count();
    for (std::uint32_t i = 0; i < have.size(); ++i)
        if (have.test(ChunkIndex{i})) resumed_bytes_ += seed.chunk_length(ChunkIndex{i});

    // The transfer holds NAME.part (and its lock) from here on.
    transfer_ = FileTransfer::fetch(node_, trackers_, tracker_list_, seed, std::move(part),
                                    std::move(storage), std::move(have), log_);

    const Outcome outcome = co_await fetch();
    if (outcome != Outcome::kComplete) {
        // Made by this run and nothing verified in it: nothing worth leaving
        // on the disk.
        const bool removed = co_await transfer_->discard_if_empty();
        if (removed) log_.debug("removed {}: it held no verified chunk", part_path.string());
        co_return outcome;
    }
    auto failure = co_await transfer_->finish(target, replace);
    if (failure) {
        finish_failed_ = true;
        co_return fail(Outcome::kFailed, failure->message);
    }
    if (!trackers_connected_ && options_.announce_complete) transfer_->announce_complete();
    co_return Outcome::kComplete;
}

net::awaitable<Download::Outcome> Download::fetch() {
    if (stopped_) co_return stopped_outcome();
    const Seed& seed = transfer_->seed();
    // Nothing to fetch: the swarm checks the whole file and finishes at once,
    // with or without a tracker.
    const bool local = transfer_->have().all();
    if (!local) {
        if (auto o = co_await connect_trackers(); o != Outcome::kComplete) co_return o;
        if (stopped_) co_return stopped_outcome();
    }
    if (local) {
        log_.info("nothing to fetch: checking the whole file");
    } else {
        log_.info("fetching {} ({}, {}), id {}", seed.name, format_bytes(seed.length),
                  count_of(seed.chunk_count(), "chunk"), transfer_->id().hex());
        net::spawn(node_.swarm_env().ex, say_while_waiting(transfer_->swarm()), log_, "waiting");
    }
    if (!local && !options_.peers.empty())
        transfer_->swarm()->add_candidates(options_.peers, PeerList::Source::kBootstrap);
    transfer_->start(!local);
    co_await transfer_->wait_done();

    const auto& swarm = *transfer_->swarm();
    if (swarm.complete()) co_return Outcome::kComplete;
    if (stopped_) co_return stopped_outcome();
    if (swarm.integrity_failure()) co_return fail(Outcome::kIntegrity, swarm.failure());
    co_return fail(Outcome::kFailed, swarm.failure());
}

// Says so when no peer is connected for a while: waiting in silence looks
// like a hang. Ends with the swarm's download.
net::awaitable<void> Download::say_while_waiting(std::weak_ptr<Swarm> weak) {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer tick(ex);
    Logger log = log_;
    std::string name;
    if (auto swarm = weak.lock()) name = swarm->seed().name;
    int idle_seconds = 0;
    int next_note = 5;
    for (;;) {
        if (!co_await net::sleep_for(tick, 1000ms)) co_return;
        // Held only between sleeps: a finished download lets its file go.
        const auto swarm = weak.lock();
        if (!swarm || swarm->state() != Swarm::State::kDownloading) co_return;
        if (swarm->connection_count() > 0) {
            idle_seconds = 0;
            next_note = 5;
            continue;
        }
        if (++idle_seconds < next_note) continue;
        log.info(
            "waiting for a peer that holds {}: none connected for {} s; still asking the "
            "trackers (Ctrl-C stops, a rerun resumes; --timeout gives up by itself)",
            name, idle_seconds);
        next_note = std::min(idle_seconds * 4, idle_seconds + 300);
    }
}

}  // namespace seedshare
