#include "peer/library/sharer.hpp"

#include <fmt/format.h>

#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"
#include "common/net/offload.hpp"
#include "peer/library/seed_maker.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {
constexpr auto kDropGrace = 1000ms;
}  // namespace

Sharer::Sharer(Node& node, Trackers& trackers, SharerOptions options, Logger log)
    : node_(node),
      trackers_(trackers),
      options_(std::move(options)),
      log_(std::move(log)),
      cache_(options_.state_dir, node.env()),
      rescan_signal_(node.swarm_env().ex, node.clock()) {}

void Sharer::stop() {
    stopping_ = true;
    cancel_hashing_ = true;
    rescan_signal_.notify();
}

net::awaitable<void> Sharer::run(std::function<void()> on_ready) {
    if (!options_.trackers.empty()) {
        for (const auto& u : co_await trackers_.connect(options_.trackers))
            log_.warn("cannot reach {} (retrying in the background)", u);
    }
    bool first = true;
    while (!stopping_) {
        co_await rescan();
        if (first) {
            first = false;
            log_.debug("sharing {} from {} on port {}", count_of(shared_.size(), "file"),
                       options_.dir.string(), node_.port());
            if (on_ready) on_ready();
        }
        if (stopping_) break;
        // A change seen while the rescan ran ends this at once.
        co_await rescan_signal_.sleep(options_.rescan);
    }
}

void Sharer::report(const Skip& skip, std::string_view then) {
    if (!skip_log_.note(skip)) return;
    const bool trouble =
        skip.reason == SkipReason::kUnreadable || skip.reason == SkipReason::kCannotShare;
    const std::string line =
        then.empty() ? describe(skip) : fmt::format("{}; {}", describe(skip), then);
    if (trouble)
        log_.warn("{}", line);
    else
        log_.info("{}", line);
}

net::awaitable<void> Sharer::rescan() {
    const fs::path dir = options_.dir;
    // What seedshare writes (the state directory) is never served.
    std::vector<fs::path> exclude;
    if (options_.state_dir) exclude.push_back(*options_.state_dir);
    if (cache_.dir()) exclude.push_back(*cache_.dir());
    Env* env = &node_.env();  // outlives the Node
    auto scan = [dir, exclude, env] { return scan_directory(dir, exclude, *env); };
    auto found = co_await offload(node_.pool(), std::move(scan));
    for (const auto& s : found.skipped)
        report(s);
    std::map<fs::path, SharedFile> now;
    for (auto& f : found.files)
        now.emplace(f.path, f);
    // A skip found while sharing lasts while its file is there.
    std::erase_if(share_skips_, [&](const auto& kv) {
        const auto& file = kv.second.reason == SkipReason::kCannotShare
                               ? kv.first
                               : kv.first.parent_path() / kv.first.stem();
        return !now.contains(file);
    });
    for (const auto& [path, skip] : share_skips_)
        report(skip);

    std::set<fs::path> rehash;  // changed under a read without a new mtime: hash again
    for (auto it = shared_.begin(); it != shared_.end() && !stopping_;) {
        const auto n = now.find(it->first);
        if (n != now.end() && n->second.same_as(it->second.file) &&
            !changed_.contains(it->second.id)) {
            ++it;
            continue;
        }
        log_.info("{}: {}", it->first.string(),
                  n == now.end() ? "gone, no longer shared" : "changed, seeding it again");
        if (changed_.erase(it->second.id) != 0) rehash.insert(it->first);
        const auto transfer = it->second.transfer;
        it = shared_.erase(it);
        co_await transfer->leave(kDropGrace);
    }
    // A duplicate is shared again (and maybe becomes the one served) when
    // it changed, went away, or the file it duplicated is no longer shared.
    std::erase_if(duplicates_, [&](const auto& kv) {
        const auto n = now.find(kv.first);
        return n == now.end() || !n->second.same_as(kv.second.file) ||
               node_.find(kv.second.id) == nullptr;
    });
    for (const auto& [path, file] : now) {
        if (stopping_) break;
        if (!shared_.contains(path) && !duplicates_.contains(path))
            co_await share(file, rehash.contains(path));
    }
    skip_log_.end_round();
    ++scans_;
    if (options_.after_scan && !stopping_) options_.after_scan();
}

net::awaitable<void> Sharer::share(const SharedFile& file, bool rehash) {
    const fs::path path = file.path;
    const fs::path sidecar = fs::path(path.string() + ".seed");
    share_skips_.erase(path);
    share_skips_.erase(sidecar);
    const auto cannot = [&](std::string why) {
        Skip skip{path, SkipReason::kCannotShare, std::move(why)};
        report(skip);
        share_skips_[path] = std::move(skip);
    };
    // Opened first, without blocking, and checked to be what the scan saw.
    auto opened = FileStorage::open_read(path, node_.env());
    if (!opened) {
        cannot(opened.error().message);
        co_return;
    }
    if ((*opened)->changed_since(file.size, file.mtime_ns, file.inode)) {
        log_.info("{} changed since the scan; seeding it at the next one", path.string());
        co_return;
    }
    std::optional<Seed> seed;
    if (!rehash) {
        auto check = check_sidecar(file, node_.env());
        seed = std::move(check.seed);
        if (!seed) seed = cache_.find(file);
        if (check.rejected) {
            report(*check.rejected,
                   seed ? "using the seed remembered for the file" : "making a seed from the file");
            share_skips_[sidecar] = std::move(*check.rejected);
        }
    }
    if (!seed) {
        SeedMakerOptions o;
        o.trackers =
            options_.trackers.empty() ? std::vector<HostPort>{kDefaultTracker} : options_.trackers;
        o.cancel = &cancel_hashing_;
        o.env = &node_.env();
        log_.info("seeding {} ({})", path.string(), format_bytes(file.size));
        auto hash = [path, o] { return make_seed(path, o); };
        auto made = co_await offload(node_.pool(), std::move(hash));
        if (!made) {
            if (!stopping_) cannot(made.error().message);
            co_return;
        }
        seed = std::move(*made);
        ++seeds_made_;
        cache_.remember(file, *seed);
    }
    // The file must still be what was hashed; if not, the next scan sees it.
    const auto after = stat_shared(path, node_.env());
    if (!after || !after->same_as(file)) {
        log_.info("{} changed while being seeded; seeding it again at the next scan",
                  path.string());
        co_return;
    }
    const SeedId id = seed->id();
    const auto where = options_.trackers.empty() ? seed->trackers : options_.trackers;
    if (node_.find(id)) {
        log_.info("{} has the same content as a file already shared; sharing it once",
                  path.string());
        duplicates_[path] = Entry{file, id, where, nullptr};
        co_return;
    }
    std::shared_ptr<FileTransfer> transfer =
        FileTransfer::share(node_, trackers_, where, *seed, std::move(*opened), log_);
    transfer->swarm()->on_storage_changed = [this, id] {
        changed_.insert(id);
        rescan_signal_.notify();
    };
    for (const auto& u : co_await trackers_.connect(where))
        log_.warn("cannot reach {} (retrying in the background)", u);
    transfer->start();
    shared_[path] = Entry{file, id, where, std::move(transfer)};
    log_.info("sharing {} (id {})", path.string(), id.hex());
}

}  // namespace seedshare
