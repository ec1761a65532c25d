#include "peer/channel/subscriber.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <set>

#include "common/core/plural.hpp"
#include "common/net/join_all.hpp"
#include "common/net/offload.hpp"
#include "peer/channel/local_scan.hpp"
#include "peer/channel/local_status.hpp"
#include "peer/storage/storage.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using FetchOutcome = VersionGossip::FetchOutcome;

namespace {

constexpr auto kSubscriberLeaveGrace = 2000ms;
// Manifests up to this size are checked on the I/O thread; bigger ones on the pool.
constexpr std::size_t kParseInlineBytes = 64 << 10;
// Waiting for a peer of the channel that holds a version, before asking for
// a version's seeds: at most kHolderWaits x kHolderWait.
constexpr auto kHolderWait = 100ms;
constexpr int kHolderWaits = 20;
// --once: consecutive failed attempts to apply a version before giving up.
constexpr int kOnceAttempts = 5;
// STATE/heard is rewritten at most this often (staleness is shown in seconds
// to days: no need to write on every answer).
constexpr auto kHeardEvery = 10s;

// A free function: the transfer lives in the coroutine frame until its
// goodbye is done.
net::awaitable<void> leave_later(std::unique_ptr<FileTransfer> t) {
    co_await t->leave(kSubscriberLeaveGrace);
}

// A seed the store holds, for a channel peer that asks: read and checked on
// the pool (the store only keeps verified seeds, but the disk is not trusted).
net::awaitable<std::optional<std::string>> stored_seed_text(asio::thread_pool& pool, Env* env,
                                                            fs::path path, SeedId id) {
    auto job = [env, path, id]() -> std::optional<std::string> {
        auto text = env->read_file(path, limits::kMaxSeedBytes);
        if (!text) return std::nullopt;
        auto parsed = parse_seed(*text);
        if (!parsed || parsed->id() != id) return std::nullopt;
        return std::move(*text);
    };
    co_return co_await offload(pool, std::move(job));
}

}  // namespace

Subscriber::Subscriber(Node& node, Trackers& trackers, SubscriberOptions options, Logger log)
    : node_(node),
      trackers_(trackers),
      options_(std::move(options)),
      log_(std::move(log)),
      wake_(node.swarm_env().ex, node.clock()) {}

Subscriber::~Subscriber() {
    *alive_ = false;
    if (poll_wait_ != nullptr) poll_wait_->cancel();
}

void Subscriber::stop() {
    stopping_ = true;
    cancel_ = true;
    wake_.notify();
    if (poll_wait_ != nullptr) poll_wait_->cancel();
    if (holder_wait_ != nullptr) holder_wait_->cancel();
}

bool Subscriber::consider(Manifest m, std::shared_ptr<const std::string> text,
                          const std::string& from) {
    const auto& best = latest_ ? latest_ : applied_;
    // The manifests' own rule, hand-overs included: a version by a key that
    // handed over is refused, whatever its number.
    const auto f = best ? freshness(version_of(*best), version_of(m)) : Freshness::kNewer;
    if (best && !replaces_held(version_of(m), version_of(*best))) {
        if (f == Freshness::kHandedOver || f == Freshness::kForked)
            log_.warn("version {} of the channel (from {}) refused: {}", m.version, from,
                      f == Freshness::kHandedOver
                          ? "its key has handed publishing over to another"
                          : "its hand-overs fork from those of the version held, and lose to "
                            "them (where chains split, the lower chain id wins)");
        return false;
    }
    if (f == Freshness::kForked)
        log_.warn(
            "version {} of the channel (from {}) replaces version {}: their hand-overs fork (a "
            "key handed publishing over twice), and its chain wins (where chains split, the "
            "lower chain id)",
            m.version, from, best->version);
    log_.info("version {} of the channel known (from {}): {}", m.version, from,
              count_of(m.files.size(), "file"));
    latest_ = std::move(m);
    latest_text_ = std::move(text);
    wake_.notify();
    return true;
}

bool Subscriber::latest_pending() const {
    return latest_ && (!applied_ || replaces_held(version_of(*latest_), version_of(*applied_)));
}

bool Subscriber::admitted(const Manifest& m) {
    if (!options_.admit) return true;
    const auto refusal = options_.admit(m);
    if (!refusal) return true;
    if (refused_version_ != m.version)
        log_.warn("version {} of the channel ({}) not applied: {}", m.version,
                  count_of(m.files.size(), "file"), *refusal);
    refused_version_ = m.version;
    return false;
}

net::awaitable<void> Subscriber::wait(std::chrono::milliseconds d) {
    // A version heard while we applied, repaired or asked ends it at once.
    co_await wake_.sleep(d);
}

void Subscriber::heard() {
    const auto now = node_.clock().now();
    if (!store_ || (heard_written_ && now - *heard_written_ < kHeardEvery)) return;
    heard_written_ = now;
    const auto at = std::chrono::system_clock::to_time_t(node_.clock().system_now());
    if (auto kept = store_->set_last_heard(static_cast<std::int64_t>(at)); !kept)
        log_.warn("cannot record when the channel was last heard: {}", kept.error().text());
}

net::awaitable<void> Subscriber::ask_trackers() {
    const auto alive = alive_;
    try {
        const auto texts = co_await trackers_.get_manifests(options_.channel, options_.trackers);
        if (!*alive) co_return;
        trackers_answered_ = true;
        for (const auto& t : texts) {
            auto m = parse_verified_manifest(t, options_.channel);
            if (!m) {
                log_.warn("a tracker holds an invalid manifest for the channel: {}",
                          m.error().message);
                continue;
            }
            heard();
            auto text = std::make_shared<const std::string>(t);
            const auto v = ref_of(*m);
            if (consider(std::move(*m), text, "a tracker") && mesh_) mesh_->hold(v, text);
        }
    } catch (const std::exception& e) {
        if (!*alive) co_return;
        log_.debug("asking the trackers for the channel's version: {}", e.what());
    }
    try {
        const auto peers = co_await trackers_.channel_peers(options_.channel, options_.trackers,
                                                            limits::kDefaultNumWant);
        if (!*alive) co_return;
        std::vector<PeerAddress> addresses;
        for (const auto& p : peers)
            addresses.push_back(PeerAddress{p.address, p.port});
        if (mesh_ && !addresses.empty())
            mesh_->add_candidates(addresses, PeerList::Source::kTracker);
    } catch (const std::exception& e) {
        if (!*alive) co_return;
        log_.debug("asking the trackers for the channel's peers: {}", e.what());
    }
}

net::awaitable<void> Subscriber::tracker_loop() {
    const auto alive = alive_;
    while (*alive && !stopping_) {
        co_await ask_trackers();
        if (!*alive || stopping_) co_return;
        ++tracker_polls_;
        net::ClockTimer t(node_.swarm_env().ex, node_.clock());
        poll_wait_ = &t;
        co_await net::sleep_for(t, options_.tracker_poll);
        if (!*alive) co_return;
        poll_wait_ = nullptr;
    }
}

// The seed of every file of `m`: from the store, then from the channel's
// peers (those that hold a version hold its seeds), then from the trackers;
// each checked against its id, and kept in the store. nullopt when one cannot
// be had now (the caller tries again later).
net::awaitable<std::optional<std::vector<TargetFile>>> Subscriber::seeds_of(const Manifest& m) {
    std::map<SeedId, Seed> known;
    std::map<SeedId, std::string> missing;  // id -> a path that names it (for messages)
    for (const auto& f : m.files) {
        if (known.contains(f.seed) || missing.contains(f.seed)) continue;
        auto stored = store_->seed(f.seed);
        if (auto* s = std::get_if<std::optional<Seed>>(&stored); s && *s)
            known.emplace(f.seed, std::move(**s));
        else
            missing.emplace(f.seed, f.path);
    }
    // `id` is the seed's, already checked (Seed::id() hashes the whole text:
    // not again here, on the I/O thread, for every seed of a version).
    const auto keep = [&](const SeedId& id, Seed seed) {
        if (auto put = store_->put_seed(seed); !put)
            log_.warn("cannot keep the seed of {}: {}", missing.at(id), put.error().text());
        known.emplace(id, std::move(seed));
        missing.erase(id);
    };
    if (!missing.empty() && mesh_) {
        // Learnt from a tracker, a version may come before any peer of the
        // channel is connected: give the mesh a moment to dial them.
        net::ClockTimer pause(node_.swarm_env().ex, node_.clock());
        holder_wait_ = &pause;  // stop() ends it
        struct Forget {
            net::ClockTimer*& wait;
            ~Forget() { wait = nullptr; }
        } forget{holder_wait_};
        const VersionRef version = ref_of(m);
        for (int i = 0; i < kHolderWaits && mesh_->holders(version).empty() && !stopping_; ++i)
            co_await net::sleep_for(pause, kHolderWait);
        std::vector<SeedId> ids;
        ids.reserve(missing.size());
        for (const auto& [id, path] : missing)
            ids.push_back(id);
        const std::size_t wanted = ids.size();
        auto got = co_await mesh_->fetch_seeds(std::move(ids), options_.seed_patience);
        if (stopping_) co_return std::nullopt;
        if (!got.empty())
            log_.info("{} of {} seeds of version {} from the channel's peers", got.size(), wanted,
                      m.version);
        for (auto& [id, seed] : got)
            keep(id, std::move(seed));
    }
    while (!missing.empty()) {
        if (stopping_) co_return std::nullopt;
        const SeedId id = missing.begin()->first;
        const std::string path = missing.begin()->second;
        std::optional<std::string> text;
        try {
            text = co_await trackers_.get_seed(id, options_.trackers);
        } catch (const std::exception& e) {
            log_.warn("the seed of {} cannot be had now: {}", path, e.what());
            co_return std::nullopt;
        }
        if (!text) {
            log_.warn("no peer or tracker knows the seed of {} ({}) yet", path, id.hex());
            co_return std::nullopt;
        }
        auto parsed = parse_seed(*text);
        if (!parsed || parsed->id() != id) {
            log_.warn("a tracker's seed for {} is not the seed {} the manifest names", path,
                      id.hex());
            co_return std::nullopt;
        }
        keep(id, std::move(*parsed));
    }
    std::vector<TargetFile> target;
    target.reserve(m.files.size());
    for (const auto& f : m.files) {
        const Seed& seed = known.at(f.seed);
        if (seed.length != f.length) {
            log_.warn("the seed of {} says {} bytes, the manifest {}: refused", f.path, seed.length,
                      f.length);
            co_return std::nullopt;
        }
        target.push_back(TargetFile{f.path, seed});
    }
    co_return target;
}

net::awaitable<std::vector<LocalDifference>> Subscriber::local_differences() {
    const fs::path dir = options_.dir;
    Env* env = &store_->env();
    auto job = [dir, env] { return scan_local(dir, *env); };
    auto scan = co_await offload(node_.pool(), std::move(job));
    if (!scan) {
        log_.warn("cannot scan {}: {}", dir.string(), scan.error().message);
        co_return std::vector<LocalDifference>{};
    }
    auto changes = local_changes(store_->recorded(), *scan);
    if (!changes) co_return std::vector<LocalDifference>{};
    co_return std::move(*changes);
}

net::awaitable<void> Subscriber::stop_serving(const std::vector<std::string>& paths) {
    for (const auto& p : paths) {
        auto it = serving_.find(p);
        if (it == serving_.end()) continue;
        auto transfer = std::move(it->second);
        serving_.erase(it);
        co_await transfer->leave(kSubscriberLeaveGrace);
    }
}

net::awaitable<void> Subscriber::serve_applied(
    std::vector<std::unique_ptr<FileTransfer>> downloaded) {
    std::map<SeedId, std::unique_ptr<FileTransfer>> fresh;
    for (auto& t : downloaded)
        fresh[t->id()] = std::move(t);
    std::map<std::string, std::unique_ptr<FileTransfer>> next;
    std::vector<std::unique_ptr<FileTransfer>> leaving;
    for (const auto& r : store_->recorded()) {
        const SeedId id = r.seed.id();
        if (auto it = serving_.find(r.path); it != serving_.end() && it->second->id() == id) {
            next[r.path] = std::move(it->second);
            serving_.erase(it);
            continue;
        }
        if (auto it = fresh.find(id); it != fresh.end()) {
            next[r.path] = std::move(it->second);
            fresh.erase(it);
            continue;
        }
    }
    // What no longer belongs to the version leaves before its seeds are
    // shared anew (one swarm per seed in a Node).
    for (auto& [path, t] : serving_)
        leaving.push_back(std::move(t));
    for (auto& [id, t] : fresh)
        leaving.push_back(std::move(t));
    serving_.clear();
    // Gone from the Node before anything is shared anew: a file that only
    // moved keeps its seed, and a Node holds one swarm per seed.
    std::vector<net::awaitable<void>> leaves;
    for (auto& t : leaving)
        leaves.push_back(leave_later(std::move(t)));
    co_await net::join_all(std::move(leaves));
    for (const auto& r : store_->recorded()) {
        if (next.contains(r.path)) continue;
        const SeedId id = r.seed.id();
        if (node_.find(id)) continue;  // the same content at another path: served once
        auto opened = FileStorage::open_read(options_.dir / r.path, node_.env());
        if (!opened) {
            log_.warn("cannot serve {}: {}", r.path, opened.error().message);
            continue;
        }
        if ((*opened)->changed_since(r.stamp.size, r.stamp.mtime_ns, r.stamp.ino)) continue;
        auto t = FileTransfer::share(node_, trackers_, options_.trackers, r.seed,
                                     std::move(*opened), log_);
        t->start();
        next[r.path] = std::move(t);
    }
    serving_ = std::move(next);
    if (options_.keeper && applied_) co_await options_.keeper->applied(*applied_);
}

net::awaitable<bool> Subscriber::apply(
    const Manifest& m, std::shared_ptr<const std::string> text,
    const std::function<void(const Manifest&, const SyncReport&)>& said) {
    auto target = co_await seeds_of(m);
    if (!target) co_return false;
    if (options_.keeper && applied_)
        co_await options_.keeper->replacing(*applied_, store_->recorded(), options_.dir, m);
    // Files whose stamps changed are not served while DIR is brought back:
    // their seeds may have to be fetched, and a Node has one swarm per seed.
    const auto changed = co_await local_differences();
    std::vector<std::string> paths;
    for (const auto& d : changed)
        paths.push_back(d.path);
    co_await stop_serving(paths);

    SyncContext ctx{node_,
                    trackers_,
                    options_.trackers,
                    log_,
                    *store_,
                    options_.dir,
                    mesh_ ? mesh_->holders(ref_of(m)) : std::vector<PeerAddress>{}};
    if (mesh_) {
        ctx.small_files =
            [mesh = mesh_, patience = options_.seed_patience](
                std::map<SeedId, SyncContext::SmallFile> wanted,
                const std::atomic<bool>* cancel) -> net::awaitable<std::map<SeedId, Bytes>> {
            std::map<SeedId, ChannelMesh::FileCheck> checks;
            for (const auto& [id, f] : wanted)
                checks.emplace(id, ChannelMesh::FileCheck{f.length, f.hash});
            co_return co_await mesh->fetch_files(std::move(checks), patience, cancel);
        };
    }
    auto outcome = co_await sync_to(ctx, std::move(*target), cancel_);
    if (!outcome.ok()) {
        if (!stopping_) log_.warn("version {} not applied yet: {}", m.version, outcome.message);
        co_return false;
    }
    if (auto done = store_->set_applied(*text, std::move(outcome.applied)); !done) {
        message_ = fmt::format("cannot record version {}: {}", m.version, done.error().text());
        log_.error("{}", message_);
        co_return false;
    }
    applied_ = m;
    co_await serve_applied(std::move(outcome.serving));
    trackers_.follow(options_.channel, m.version, options_.trackers);
    if (said) said(m, outcome.report);
    co_return true;
}

net::awaitable<Subscriber::Outcome> Subscriber::run(
    std::function<void(const Manifest&, const SyncReport&)> on_applied) {
    {
        const fs::path dir = options_.dir;
        Env* env = &node_.env();  // outlives the Node
        auto job = [dir, env] { return ChannelStore::open(dir, *env); };
        auto opened = co_await offload(node_.pool(), std::move(job));
        if (auto* e = std::get_if<StoreError>(&opened)) {
            message_ = e->message;
            co_return e->kind == StoreError::Kind::kBusy ? Outcome::kBusy : Outcome::kFailed;
        }
        store_.emplace(std::move(std::get<ChannelStore>(opened)));
    }
    if (store_->channel() && *store_->channel() != options_.channel) {
        message_ = fmt::format("{} follows channel {}, not {}", options_.dir.string(),
                               store_->channel()->hex(), options_.channel.hex());
        co_return Outcome::kOtherChannel;
    }
    if (!store_->channel()) {
        if (auto set = store_->set_channel(options_.channel); !set) {
            message_ = set.error().text();
            co_return Outcome::kFailed;
        }
    }
    if (const auto& text = store_->applied_manifest()) {
        auto m = parse_verified_manifest(*text, options_.channel);
        if (!m) {
            message_ = fmt::format("{}: the version recorded as applied does not check: {}",
                                   store_->state_dir().string(), m.error().message);
            co_return Outcome::kFailed;
        }
        applied_ = std::move(*m);
        log_.info("{} holds version {} of the channel", options_.dir.string(), applied_->version);
    }

    auto verify =
        [this](VersionRef asked,
               std::shared_ptr<const std::string> text) -> net::awaitable<ChannelMesh::Verdict> {
        // Parsing and checking a big manifest (up to 16 MiB) is CPU work:
        // on the pool, as the tracker does.
        Result<Manifest> m = Error{""};
        if (text->size() > kParseInlineBytes) {
            auto job = [text, channel = options_.channel] {
                return parse_verified_manifest(*text, channel);
            };
            m = co_await offload(node_.pool(), std::move(job));
        } else {
            m = parse_verified_manifest(*text, options_.channel);
        }
        if (!m) co_return ChannelMesh::Verdict{FetchOutcome::kForged, m.error().message};
        if (ref_of(*m) != asked)
            co_return ChannelMesh::Verdict{FetchOutcome::kForged, "not the version announced"};
        heard();
        if (!consider(std::move(*m), text, "a peer"))
            co_return ChannelMesh::Verdict{FetchOutcome::kStale, {}};
        co_return ChannelMesh::Verdict{FetchOutcome::kAccepted, {}};
    };
    mesh_ = ChannelMesh::create(node_, options_.channel, std::move(verify), options_.mesh, log_);
    mesh_->set_seed_source([this](SeedId id) {
        // Not a coroutine: what it needs is copied into the one it returns.
        return stored_seed_text(node_.pool(), &store_->env(), store_->seed_path(id), id);
    });
    if (applied_)
        mesh_->hold(ref_of(*applied_),
                    std::make_shared<const std::string>(*store_->applied_manifest()));
    mesh_->start();

    for (const auto& u : co_await trackers_.connect(options_.trackers))
        log_.warn("cannot reach {} (retrying in the background)", u);
    trackers_.follow(options_.channel, applied_ ? applied_->version : 0, options_.trackers);
    if (applied_) {
        std::vector<std::unique_ptr<FileTransfer>> none;
        co_await serve_applied(std::move(none));
    }
    net::spawn(node_.swarm_env().ex, tracker_loop(), log_, "channel trackers");

    const auto started = node_.clock().now();  // as the waits below
    Outcome result = Outcome::kStopped;
    bool repair = applied_.has_value();  // check DIR against the applied version at once
    int failures = 0;                    // attempts at the latest version that failed in a row
    const std::function<void(const Manifest&, const SyncReport&)> quiet;
    while (!stopping_) {
        if (latest_ && (!applied_ || latest_pending()) && admitted(*latest_)) {
            const Manifest target = *latest_;
            const auto text = latest_text_;
            const bool done = co_await apply(target, text, on_applied);
            if (done) {
                repair = false;
                failures = 0;
                continue;  // a newer one may have come meanwhile
            }
            if (stopping_) break;
            if (options_.once && ++failures >= kOnceAttempts) {
                message_ = fmt::format("version {} could not be applied ({} attempts)",
                                       target.version, failures);
                result = Outcome::kFailed;
                break;
            }
            co_await wait(options_.retry);
            continue;
        }
        if (repair && applied_) {
            repair = false;
            const auto changes = co_await local_differences();
            if (!changes.empty()) {
                // (The sync says what it restores, and where an edited copy
                // went, once it has hashed: a touched file may be unchanged.)
                for (const auto& c : changes)
                    log_.debug("{}: {} since version {} was applied; checking", c.path,
                               describe(c.change), applied_->version);
                const Manifest current = *applied_;
                auto text = std::make_shared<const std::string>(*store_->applied_manifest());
                const bool restored = co_await apply(current, text, quiet);
                if (restored)
                    repairs_ += changes.size();
                else if (!stopping_)
                    repair = true;
            }
        }
        // Connected to a peer of the channel: any newer version would be
        // announced, so what is held is the head as far as anyone can tell.
        if (!mesh_->peer_versions().empty()) heard();
        const bool waited_long = node_.clock().now() - started > options_.find_timeout;
        if (options_.once && applied_ && trackers_answered_ && !latest_pending()) {
            result = Outcome::kUpToDate;
            break;
        }
        if (options_.once && waited_long && !applied_ && !latest_) {
            message_ = trackers_answered_ ? "no tracker or peer knows a version of the channel"
                                          : "no tracker answered, and no peer knows a version";
            result = Outcome::kNoVersion;
            break;
        }
        if (options_.once && waited_long && applied_ && !trackers_answered_ && !latest_pending()) {
            // No tracker answered: what the peers said is all there is to know.
            log_.warn("no tracker answered; {} holds version {}, the latest its peers know",
                      options_.dir.string(), applied_->version);
            result = Outcome::kUpToDate;
            break;
        }
        ++rounds_;
        co_await wait(options_.once ? std::chrono::milliseconds(200) : options_.rescan);
        if (!options_.once) repair = true;
    }
    co_await mesh_->stop(kSubscriberLeaveGrace);
    if (options_.once) {
        // Done with DIR: its swarms leave the Node, so that whoever works on
        // DIR next in this process (a publisher that recovered it) may share
        // the same seeds.
        std::vector<net::awaitable<void>> leaves;
        for (auto& [path, t] : serving_)
            leaves.push_back(leave_later(std::move(t)));
        serving_.clear();
        co_await net::join_all(std::move(leaves));
    } else {
        for (auto& [path, t] : serving_)
            t->stop(kSubscriberLeaveGrace);
    }
    store_.reset();  // DIR's lock released
    co_return result;
}

}  // namespace seedshare
