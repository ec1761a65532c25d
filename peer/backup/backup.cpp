#include "peer/backup/backup.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"
#include "common/net/offload.hpp"
#include "peer/discovery/address_book_file.hpp"
#include "peer/storage/storage.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kRestAfterFailure = 30s;
constexpr auto kRestWithoutHolder = 10s;
constexpr auto kRestBadSeed = 300s;
constexpr std::uint16_t kLookupPeers = 8;

// A file DIR/files/ID/NAME the cache says is that seed's, unchanged, and
// opened to be served (or why it could not be).
struct Found {
    SharedFile file;
    Seed seed;
    std::unique_ptr<FileStorage> storage;
    std::string open_error;
};

// Blocking: run on the pool (the scan, and the opens). At most `max` files.
std::vector<Found> find_held(const fs::path& files, const SeedCache& cache, std::size_t max,
                             Env& env) {
    std::vector<Found> out;
    const auto ids = env.list_dir(files);
    if (!ids) return out;
    for (const auto& d : *ids) {
        if (out.size() >= max) break;
        const auto id = SeedId::from_hex_string(d.name);
        if (!id) continue;
        const auto dir = files / d.name;
        // A directory of its own, not a link to one.
        if (const auto st = env.lstat(dir); !st || st->type != FileType::kDirectory) continue;
        const auto names = env.list_dir(dir);
        if (!names) continue;
        for (const auto& f : *names) {
            const auto& name = f.name;
            if (name.ends_with(".part")) continue;
            auto file = stat_shared(dir / name, env);
            if (!file) continue;
            auto seed = cache.find(*file);
            if (!seed || seed->name != name || seed->id() != *id) continue;
            Found found{std::move(*file), std::move(*seed), nullptr, {}};
            if (auto opened = FileStorage::open_read(found.file.path, env); !opened)
                found.open_error = opened.error().message;
            else if ((*opened)->changed_since(found.file.size, found.file.mtime_ns,
                                              found.file.inode))
                found.open_error = found.file.path.string() + ": changed since the scan";
            else
                found.storage = std::move(*opened);
            out.push_back(std::move(found));
            break;
        }
    }
    return out;
}

// Gives up a fetch that verified nothing for `stall` (Download::time_out).
// Holds only a weak pointer: it ends with the download.
net::awaitable<void> watch_stall(std::weak_ptr<Download> weak, std::chrono::milliseconds stall) {
    asio::steady_timer tick(co_await asio::this_coro::executor);
    const auto step = std::clamp<std::chrono::milliseconds>(stall / 4, 10ms, 1000ms);
    std::uint64_t last = 0;
    auto since = SteadyClock::now();
    for (;;) {
        const bool slept = co_await net::sleep_for(tick, step);
        if (!slept) co_return;
        const auto download = weak.lock();
        if (!download) co_return;
        const auto swarm = download->swarm();
        if (swarm && swarm->state() != Swarm::State::kDownloading) co_return;
        const std::uint64_t bytes = swarm ? swarm->verified_bytes() : 0;
        if (bytes > last) {
            last = bytes;
            since = SteadyClock::now();
        } else if (SteadyClock::now() - since >= stall) {
            download->time_out();
            co_return;
        }
    }
}

}  // namespace

Backup::Backup(Node& node, Trackers& trackers, BackupOptions options, Logger log)
    : node_(node),
      trackers_(trackers),
      options_(std::move(options)),
      log_(std::move(log)),
      cache_(options_.dir / ".backup", node.env()),
      tokens_(options_.new_seeds_burst),
      tokens_at_(node.clock().now()),
      wake_(node.swarm_env().ex, node.clock()),
      tasks_done_(node.swarm_env().ex) {}

Backup::~Backup() = default;

fs::path Backup::path_of(const Seed& seed) const {
    return options_.dir / "files" / seed.id().hex() / seed.name;
}

std::uint64_t Backup::held_bytes() const {
    std::uint64_t n = 0;
    for (const auto& [id, h] : held_)
        n += h.length;
    return n;
}

std::uint64_t Backup::reserved_bytes() const {
    std::uint64_t n = held_bytes();
    for (const auto& [id, length] : fetching_lengths_)
        n += length;
    return n;
}

Backup::Footprint Backup::footprint() const {
    return Footprint{listed_.size(),
                     sources_.size(),
                     resting_.size(),
                     said_.size(),
                     skipped_.size(),
                     held_.size(),
                     std::max(fetching_lengths_.size(), fetching_.size())};
}

void Backup::stop() {
    stopping_ = true;
    wake_.notify();
    // A download winds down by itself (goodbye to its peers, .part kept);
    // every other await of a task is cancelled.
    for (auto& [id, download] : fetching_)
        download->stop();
    for (const auto& signal : signals_)
        signal->emit(asio::cancellation_type::terminal);
}

void Backup::spawn_task(net::awaitable<void> task, const char* what) {
    // Stopping: not started at all (a signal emitted before co_spawn binds
    // its slot would be lost).
    if (stopping_) return;
    auto signal = std::make_shared<asio::cancellation_signal>();
    const auto it = signals_.insert(signals_.end(), signal);
    ++tasks_;
    auto ex = node_.swarm_env().ex;
    auto done = [this, it, ex, what](std::exception_ptr e) {
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const asio::system_error& se) {
                if (se.code() != asio::error::operation_aborted)
                    log_.warn("{}: {}", what, se.what());
            } catch (const std::exception& ex) {
                log_.warn("{}: {}", what, ex.what());
            }
        }
        // Counted out once its frames are gone (after this handler returns):
        // the signal is dropped then too.
        asio::post(ex, [this, it] {
            signals_.erase(it);
            --tasks_;
            tasks_done_.cancel();
        });
    };
    asio::co_spawn(ex, std::move(task), asio::bind_cancellation_slot(signal->slot(), done));
}

void Backup::rest(const SeedId& id, std::chrono::milliseconds how_long) {
    resting_[id] = node_.clock().now() + how_long;
}

std::size_t Backup::allowance() {
    const auto now = node_.clock().now();
    const double elapsed = std::chrono::duration<double>(now - tokens_at_).count();
    tokens_ = std::min(options_.new_seeds_burst, tokens_ + options_.new_seeds_per_second * elapsed);
    tokens_at_ = now;
    return tokens_ < 1 ? 0 : static_cast<std::size_t>(std::floor(tokens_));
}

net::awaitable<void> Backup::restore() {
    const fs::path files = options_.dir / "files";
    const SeedCache* cache = &cache_;
    const std::size_t max = options_.limits.max_seeds;
    Env* env = &node_.env();  // stateless or thread-safe, outlives the Node
    auto scan = [files, cache, max, env] { return find_held(files, *cache, max, *env); };
    auto found = co_await offload(node_.pool(), std::move(scan));
    for (auto& f : found) {
        if (!f.storage) {
            log_.warn("{}; fetching it again if listed", f.open_error);  // names the file
            continue;
        }
        auto transfer = FileTransfer::share(node_, trackers_, options_.trackers, f.seed,
                                            std::move(f.storage), log_);
        transfer->start(false);
        transfer->announce_complete();
        held_[f.seed.id()] = Held{f.seed.length, nullptr, std::move(transfer)};
        ++restored_;
    }
    if (restored_ > 0)
        log_.info("serving the {} already held ({})", count_of(restored_, "file"),
                  format_bytes(held_bytes()));
}

net::awaitable<void> Backup::run(std::function<void()> on_ready) {
    if (const auto made = node_.env().create_directories(options_.dir / "files"); !made)
        log_.warn("cannot make {}", made.error().text());
    co_await restore();
    if (on_ready) on_ready();
    spawn_task(follow(), "backup");
    // Every task was cancelled by stop() (or ended by itself): wait for the
    // last one, however long a tracker would have kept it.
    while (tasks_ > 0) {
        tasks_done_.expires_at(SteadyClock::time_point::max());
        asio::error_code ec;
        co_await tasks_done_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

net::awaitable<void> Backup::follow() {
    for (const auto& u : co_await trackers_.connect(options_.trackers))
        log_.warn("cannot reach {} (retrying in the background)", u);
    while (!stopping_) {
        co_await poll();
        if (options_.after_poll) options_.after_poll();
        if (stopping_) break;
        // A fetch that ended during the poll (its slot free) ends this at once.
        co_await wake_.sleep(options_.poll);
    }
}

net::awaitable<void> Backup::poll() {
    bool listed = true;
    std::vector<tracker_proto::FileInfo> files;
    try {
        files = co_await trackers_.list_files(options_.trackers, limits::kMaxBackupListing);
    } catch (const std::exception& e) {
        listed = false;
        if (!listing_failed_ && !stopping_)
            log_.warn("no tracker listed its seeds: {}; still serving", e.what());
    }
    if (listed && listing_failed_) log_.info("the trackers answer again");
    listing_failed_ = !listed;
    if (listed) {
        listed_.clear();
        for (auto& f : files)
            if (!options_.also_held || !options_.also_held(f.id))
                listed_.push_back(
                    ListedSeed{f.id, std::move(f.name), f.length, f.complete_holders});
    }
    const auto lookups = co_await plan_and_start();
    if (lookups.empty() || stopping_) co_return;
    tokens_ -= static_cast<double>(lookups.size());
    // The seeds whose holders were just found start now, not a poll later.
    if (co_await lookup(lookups) && !stopping_) (void)co_await plan_and_start();
}

net::awaitable<std::vector<SeedId>> Backup::plan_and_start() {
    BackupState state;
    state.listed = listed_;
    for (const auto& [id, h] : held_)
        state.held[id] = h.length;
    state.fetching = fetching_lengths_;
    const auto now = node_.clock().now();
    std::erase_if(resting_, [now](const auto& r) { return r.second <= now; });
    for (const auto& [id, until] : resting_)
        state.resting.insert(id);
    // Only the sources of seeds still listed, held or fetched are kept.
    std::set<SeedId> live;
    for (const auto& l : listed_)
        live.insert(l.id);
    std::erase_if(sources_, [&](const auto& s) {
        return !live.contains(s.first) && !held_.contains(s.first) &&
               !fetching_lengths_.contains(s.first);
    });
    state.sources = sources_;
    const fs::path dir = options_.dir;
    auto space = [dir, &env = node_.env()]() -> std::optional<std::uint64_t> {
        auto free = env.free_space(dir);
        if (!free) return std::nullopt;
        return *free;
    };
    state.free_disk = co_await offload(node_.pool(), std::move(space));
    // After the wait: a channel version admitted meanwhile is counted.
    if (options_.others) state.others = options_.others();
    // A fetch that has not begun its transfer (asking for its seed, opening
    // its .part) has not reserved its space yet: the disk does not show it.
    std::uint64_t unreserved = 0;
    for (const auto& [id, length] : fetching_lengths_) {
        const auto d = fetching_.find(id);
        if (d == fetching_.end() || !d->second->swarm()) unreserved += length;
    }
    if (state.free_disk) *state.free_disk -= std::min(*state.free_disk, unreserved);
    state.new_allowance = allowance();

    const auto plan = plan_backup(state, options_.limits);
    if (said_.size() > limits::kMaxBackupListing) said_.clear();
    // A file beyond the quota is named; seeds beyond a limit (a hostile
    // sharer's thousands) are counted in one line per poll.
    std::map<BackupSkip, std::size_t> limited;
    for (const auto& [l, why] : plan.skipped) {
        if (!said_.emplace(l.id, why).second) continue;
        if (why == BackupSkip::kBeyondQuota) {
            log_.warn("skipped {} ({}, id {}): {}", l.name, format_bytes(l.length), l.id.hex(),
                      describe(why));
        } else {
            log_.debug("skipped {} (id {}): {}", l.name, l.id.hex(), describe(why));
            ++limited[why];
        }
        if (skipped_.size() < limits::kMaxBackupListing) skipped_.emplace_back(l.name, why);
    }
    for (const auto& [why, n] : limited)
        log_.warn("skipped {} more: {}", count_of(n, "seed"), describe(why));
    if (plan.disk_full != disk_full_) {
        if (plan.disk_full)
            log_.warn("the disk of {} is full: fetching stopped, still serving {}",
                      options_.dir.string(), count_of(held_.size(), "file"));
        else
            log_.info("room on the disk again: fetching");
        disk_full_ = plan.disk_full;
    }
    for (const auto& l : plan.fetch) {
        if (stopping_) break;  // spawn_task would not start it
        fetching_lengths_[l.id] = l.length;
        spawn_task(fetch(l), "backup fetch");
    }
    co_return plan.lookup;
}

net::awaitable<bool> Backup::lookup(std::vector<SeedId> ids) {
    bool found = false;
    for (const auto& id : ids) {
        if (stopping_) co_return found;
        std::vector<PeerAddress> holders;
        try {
            holders = co_await trackers_.find_peers(id, options_.trackers, kLookupPeers);
        } catch (const std::exception& e) {
            log_.debug("asking who holds {}: {}", id.hex(), e.what());
        }
        if (holders.empty()) {
            rest(id, kRestWithoutHolder);
            continue;
        }
        found = true;
        auto& sources = sources_[id];
        sources.clear();
        // Into the address book too: a getter asking this peer for a seed
        // it does not hold is told these holders (Node's handshake, note 003).
        const auto now = address_book_now();
        for (const auto& h : holders) {
            sources.push_back(h.str());
            node_.book()->learn(AddressBook::key(id), h, now);
        }
    }
    co_return found;
}

net::awaitable<void> Backup::fetch(ListedSeed listed) {
    const SeedId id = listed.id;
    std::optional<std::string> text;
    try {
        text = co_await trackers_.get_seed(id, options_.trackers);
    } catch (const std::exception& e) {
        log_.debug("asking for seed {}: {}", id.hex(), e.what());
    }
    std::optional<Seed> seed;
    if (text) {
        auto parsed = parse_seed(*text);
        if (!parsed || parsed->id() != id || parsed->length != listed.length) {
            log_.warn("the trackers' seed {} ({}) is not what they listed; not fetched", id.hex(),
                      listed.name);
            rest(id, kRestBadSeed);
        } else {
            seed = std::move(*parsed);
        }
    } else {
        rest(id, kRestAfterFailure);
    }
    if (!seed || stopping_) {
        fetching_lengths_.erase(id);
        co_return;
    }
    // From here stop() ends the download through Download::stop() (its
    // goodbyes and .part kept), not by cancelling whatever it awaits.
    co_await asio::this_coro::reset_cancellation_state(
        [](asio::cancellation_type) { return asio::cancellation_type::none; });
    DownloadOptions o;
    o.seed = *seed;
    o.out_dir = options_.dir / "files" / id.hex();
    o.trackers = options_.trackers;
    o.force = true;  // DIR/files is the backup's own: a stale NAME there is replaced
    o.announce_complete = true;
    o.env = &node_.env();
    auto download = std::make_shared<Download>(node_, trackers_, std::move(o), log_);
    fetching_[id] = download;
    spawn_task(watch_stall(download, options_.fetch_stall), "stall");
    const auto outcome = co_await download->run();
    fetching_.erase(id);
    fetching_lengths_.erase(id);
    if (const auto swarm = download->swarm()) fetched_bytes_ += swarm->verified_bytes();
    using O = Download::Outcome;
    if (outcome == O::kComplete || outcome == O::kAlreadyComplete) {
        if (const auto file = stat_shared(download->target(), node_.env()))
            cache_.remember(*file, *seed);
        log_.info("holding {} ({}), id {}", seed->name, format_bytes(seed->length), id.hex());
        held_[id] = Held{seed->length, std::move(download), nullptr};
    } else if (!stopping_) {
        log_.warn("fetching {} failed: {}; trying again later", seed->name, download->message());
        rest(id, kRestAfterFailure);
    }
    wake_.notify();  // a fetch slot is free: plan again now
}

}  // namespace seedshare
