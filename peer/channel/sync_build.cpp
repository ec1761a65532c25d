// The sync executor's file building (sync_executor_impl.hpp): a file built
// in STATE/tmp from its local chunks, from what the channel's peers sent of
// a small file, and through its file swarm for the rest.
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <set>

#include "common/core/limits.hpp"
#include "common/core/plural.hpp"
#include "common/crypto/sha256.hpp"
#include "common/net/join_all.hpp"
#include "common/net/offload.hpp"
#include "peer/channel/sync_executor_impl.hpp"
#include "peer/storage/seed_io.hpp"
#include "peer/swarm/file_hasher.hpp"

namespace seedshare::sync_detail {

// Ends a fetch's swarm once `cancel` is set or another build failed; returns
// when the fetch is over (`over` set by the fetch, after which `cancel` and
// `failed` may be gone).
net::awaitable<void> stop_on_cancel(std::weak_ptr<Swarm> weak, const std::atomic<bool>* cancel,
                                    const std::optional<SyncFailure>* failed,
                                    std::shared_ptr<bool> over) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    for (;;) {
        const bool slept = co_await net::sleep_for(timer, kCancelPoll);
        if (!slept || *over) co_return;
        if (!cancel->load() && !failed->has_value()) continue;
        const auto swarm = weak.lock();
        if (!swarm) co_return;
        co_await swarm->stop(0ms);
        co_return;
    }
}

// Copies every chunk of `step` that comes from disk into `storage`, each only
// once its bytes hash to the target seed's chunk hash. Blocking.
Copied copy_local_chunks(Env& env, const fs::path& dir, const Seed& seed, const SyncStep& step,
                         Storage& storage, Bitfield& have, const std::atomic<bool>& cancel) {
    Copied out;
    std::vector<Fd> sources(step.sources.size());
    std::vector<bool> opened(step.sources.size(), false);
    std::vector<std::uint8_t> buffer;
    for (std::uint32_t i = 0; i < seed.chunk_count() && i < step.chunks.size(); ++i) {
        if (cancel.load()) break;
        const ChunkIndex c{i};
        if (have.test(c)) continue;
        const ChunkFrom& from = step.chunks[i];
        buffer.resize(seed.chunk_length(c));
        if (from.kind == ChunkFrom::Kind::kLocal) {
            if (from.source >= sources.size()) continue;
            Fd& fd = sources[from.source];
            if (!opened[from.source]) {
                opened[from.source] = true;
                auto o = env.open(dir / step.sources[from.source],
                                  O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
                if (o) fd = std::move(*o);
            }
            if (!fd) continue;
            std::size_t done = 0;
            while (done < buffer.size()) {
                const ssize_t n = ::pread(fd.get(), buffer.data() + done, buffer.size() - done,
                                          static_cast<off_t>(from.offset + done));
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) break;
                done += static_cast<std::size_t>(n);
            }
            if (done != buffer.size()) {
                ++out.mismatched;
                continue;
            }
        } else if (from.kind == ChunkFrom::Kind::kEarlier) {
            if (from.earlier.value >= have.size() || !have.test(from.earlier)) continue;
            if (!storage.read(seed.chunk_offset(from.earlier), buffer).ok()) continue;
        } else {
            continue;
        }
        if (sha256(buffer) != seed.chunk_hashes[i]) {
            ++out.mismatched;
            continue;
        }
        if (auto w = storage.write(seed.chunk_offset(c), buffer); !w) {
            out.write_error = w.error().message;
            return out;
        }
        have.set(c);
        ++out.chunks;
    }
    return out;
}

// Builds every file of the plan, up to kParallelBuilds at once (a file's
// swarm spends most of its time waiting for peers). Two files of one seed
// never build together: the second waits for a second pass, then copies the
// first. Small files to fetch go first, a batch at a time: asked of the
// channel's peers, then built from what came (what did not comes through its
// swarm as any other file).
net::awaitable<Next> Executor::build_all(const SyncPlan& plan) {
    std::vector<const SyncStep*> small;
    std::vector<const SyncStep*> first;
    std::vector<const SyncStep*> again;
    std::set<SeedId> seeds;
    for (const auto& step : plan.steps) {
        if (step.action != SyncAction::kFetch && step.action != SyncAction::kRestore) continue;
        const Seed& seed = state_.target[step.target].seed;
        const bool fresh = seeds.insert(seed.id()).second;
        if (!fresh) {
            again.push_back(&step);
        } else if (ctx_.small_files && small_file(step)) {
            small.push_back(&step);
        } else {
            first.push_back(&step);
        }
    }
    for (std::size_t from = 0; from < small.size();) {
        std::size_t to = from;
        std::uint64_t bytes = 0;
        std::map<SeedId, SyncContext::SmallFile> wanted;
        for (; to < small.size() && to - from < kSmallBatchFiles && bytes < kSmallBatchBytes;
             ++to) {
            const Seed& seed = state_.target[small[to]->target].seed;
            wanted.emplace(seed.id(), SyncContext::SmallFile{
                                          static_cast<std::uint32_t>(seed.length), seed.file_hash});
            bytes += seed.length;
        }
        if (cancel_.load()) {
            fail(SyncFailure::kCancelled, "cancelled");
            co_return Next::kFailed;
        }
        const std::size_t asked = wanted.size();
        small_ = co_await ctx_.small_files(std::move(wanted), &cancel_);
        if (cancel_.load()) {
            fail(SyncFailure::kCancelled, "cancelled");
            co_return Next::kFailed;
        }
        if (small_.empty())
            ctx_.log.debug("none of {} small files from the channel's peers", asked);
        else
            ctx_.log.info("{} of {} small files from the channel's peers{}", small_.size(), asked,
                          small_.size() == asked ? "" : "; the others through their swarms");
        const std::vector<const SyncStep*> batch(small.begin() + static_cast<std::ptrdiff_t>(from),
                                                 small.begin() + static_cast<std::ptrdiff_t>(to));
        const Next built = co_await build_pass(batch);
        small_.clear();
        if (built != Next::kDone) co_return built;
        from = to;
    }
    for (const auto* pass : {&first, &again}) {
        const Next built = co_await build_pass(*pass);
        if (built != Next::kDone) co_return built;
    }
    co_return Next::kDone;
}

bool Executor::small_file(const SyncStep& step) const {
    const Seed& seed = state_.target[step.target].seed;
    return seed.chunk_count() == 1 && seed.length >= 1 &&
           seed.length <= limits::kMaxMeshFileBytes && step.network_chunks == 1;
}

net::awaitable<Next> Executor::build_pass(const std::vector<const SyncStep*>& steps) {
    std::size_t next = 0;
    std::vector<net::awaitable<void>> workers;
    builders_ = std::max<std::size_t>(1, std::min(kParallelBuilds, steps.size()));
    for (std::size_t i = 0; i < builders_; ++i)
        workers.push_back(build_worker(&steps, &next));
    const auto errors = co_await net::join_all(std::move(workers));
    for (const auto& e : errors) {
        if (!e) continue;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& x) {
            fail(SyncFailure::kFetch, x.what());
        }
    }
    co_return out_.failure ? Next::kFailed : Next::kDone;
}

net::awaitable<void> Executor::build_worker(const std::vector<const SyncStep*>* steps,
                                            std::size_t* next) {
    while (*next < steps->size() && !out_.failure) {
        if (cancel_.load()) {
            fail(SyncFailure::kCancelled, "cancelled");
            co_return;
        }
        const SyncStep* step = (*steps)[(*next)++];
        const Next built = co_await build(*step);
        if (built == Next::kFailed) co_return;
    }
}

net::awaitable<Next> Executor::build(const SyncStep& step) {
    if (built_.contains(step.target)) co_return Next::kDone;  // in an earlier round
    const TargetFile& t = state_.target[step.target];
    if (step.action == SyncAction::kRestore) {
        const auto aside = asides_.find(t.path);
        if (aside != asides_.end())
            ctx_.log.warn(
                "{} {} here: the published version is restored, and the local copy "
                "kept as {}",
                t.path, what_happened(step.change), aside->second);
        else
            ctx_.log.warn("{} {} here: the published version is restored", t.path,
                          what_happened(step.change));
    }
    const std::string name = build_name(t);
    const fs::path part_path = ctx_.store.temp_dir() / (name + ".part");
    const fs::path built = ctx_.store.temp_dir() / name;
    Env* env = &env_;
    const Seed* seed = &t.seed;
    // A file built by a run that stopped before installing it becomes the
    // .part again: PartFile::open checks its whole hash and takes it whole.
    auto open = [env, part_path, built, seed]() -> std::variant<PartFile, PartFile::Failure> {
        if (auto st = env->lstat(built); st && st->type == FileType::kRegular)
            (void)env->rename(built, part_path);
        auto opened = PartFile::open(part_path, *seed, false, *env);
        auto* f = std::get_if<PartFile::Failure>(&opened);
        if (f == nullptr || f->problem != PartFile::Problem::kForeign) return opened;
        // Not ours for this seed (nothing else writes in STATE/tmp): a leftover.
        (void)env->remove(part_path);
        return PartFile::open(part_path, *seed, false, *env);
    };
    auto opened = co_await offload(pool(), open);
    // The store's lock keeps other processes out of STATE/tmp: a busy .part
    // is this process's, held by a swarm of an earlier, stopped fetch that is
    // still winding down (its last reference lets go of the file soon).
    asio::steady_timer pause(co_await asio::this_coro::executor);
    for (int tries = 0; tries < kBusyRetries; ++tries) {
        const auto* f = std::get_if<PartFile::Failure>(&opened);
        if (f == nullptr || f->problem != PartFile::Problem::kBusy) break;
        const bool slept = co_await net::sleep_for(pause, kBusyPause);
        if (!slept || cancel_.load()) break;
        opened = co_await offload(pool(), open);
    }
    if (auto* f = std::get_if<PartFile::Failure>(&opened))
        co_return fail(
            f->problem == PartFile::Problem::kBusy ? SyncFailure::kBusy : SyncFailure::kDisk,
            f->message);
    PartFile& part = std::get<PartFile>(opened);
    std::shared_ptr<Storage> storage = part.storage();
    Bitfield have(t.seed.chunk_count());
    if (part.found() == PartFile::Found::kComplete) {
        have = Bitfield(t.seed.chunk_count(), true);
    } else if (part.found() != PartFile::Found::kCreated && t.seed.chunk_count() != 0) {
        const Cancel cancel(std::shared_ptr<void>(), &cancel_);
        have = co_await verify_chunks(t.seed, storage, pool(), kVerifyParallel, cancel);
    }
    out_.report.resumed_chunks += have.count();

    // A file of the same seed verified by this call is the first source
    // (the planner did not know it), then the plan's sources.
    SyncStep same;
    if (const auto v = verified_.find(t.seed.id()); v != verified_.end()) {
        same.sources.push_back(v->second.string());  // absolute: dir / it is it
        for (std::uint32_t i = 0; i < t.seed.chunk_count(); ++i)
            same.chunks.push_back(ChunkFrom{ChunkFrom::Kind::kLocal, 0,
                                            t.seed.chunk_offset(ChunkIndex{i}), ChunkIndex{}});
    }
    Bitfield* held = &have;
    const SyncStep* s = &step;
    const SyncStep* first = &same;
    const fs::path dir = ctx_.dir;
    const std::atomic<bool>* cancel = &cancel_;
    auto copy = [env, dir, seed, first, s, storage, held, cancel] {
        Copied out = copy_local_chunks(*env, dir, *seed, *first, *storage, *held, *cancel);
        if (out.write_error) return out;
        const Copied planned = copy_local_chunks(*env, dir, *seed, *s, *storage, *held, *cancel);
        out.chunks += planned.chunks;
        out.mismatched += planned.mismatched;
        out.write_error = planned.write_error;
        return out;
    };
    const Copied copied = co_await offload(pool(), std::move(copy));
    out_.report.local_chunks += copied.chunks;
    if (copied.write_error) co_return fail(SyncFailure::kDisk, *copied.write_error);
    if (copied.mismatched != 0)
        ctx_.log.info("{}: {} local chunks changed since they were planned; fetching them", t.path,
                      copied.mismatched);
    if (cancel_.load()) co_return fail(SyncFailure::kCancelled, "cancelled");
    ++(step.action == SyncAction::kRestore ? out_.report.restored : out_.report.fetched);

    if (!have.all()) {
        if (const auto got = small_.find(t.seed.id()); got != small_.end()) {
            const Bytes* content = &got->second;  // small_ outlives the job
            auto write = [storage, content] { return storage->write(0, *content); };
            const Status written = co_await offload(pool(), std::move(write));
            if (!written) co_return fail(SyncFailure::kDisk, written.error().message);
            have.set(ChunkIndex{0});
            ++out_.report.network_chunks;
            out_.report.network_bytes += content->size();
            ++out_.report.small_files;
        }
    }
    if (!have.all()) {
        const Next fetched = co_await fetch(step, std::move(part), std::move(have), built);
        co_return fetched;
    }
    // Every chunk is here: the whole file is checked without a swarm.
    PartFile* p = &part;
    auto finish = [p, seed, built]() -> std::optional<std::string> {
        FileHasher hasher(*seed, *p->storage());
        for (std::uint32_t i = 0; i < seed->chunk_count(); ++i)
            hasher.mark_written(ChunkIndex{i});
        auto digest = hasher.finish();
        if (!digest) return digest.error().message;
        if (*digest != seed->file_hash)
            return fmt::format(
                "{}: every chunk verified but the whole file's hash differs "
                "from the seed's",
                p->path().string());
        if (auto f = p->finish(built, std::nullopt)) return f->message;
        return std::nullopt;
    };
    const auto finished = co_await offload(pool(), std::move(finish));
    if (finished) co_return fail(SyncFailure::kFetch, *finished);
    built_[step.target] = built;
    verified_[t.seed.id()] = built;
    co_return Next::kDone;
}

// Connects the trackers once for the whole sync; builds running side by
// side wait for the one connecting.
net::awaitable<Next> Executor::connect_trackers(const std::string& path) {
    asio::steady_timer wait(co_await asio::this_coro::executor);
    while (connecting_) {
        const bool slept = co_await net::sleep_for(wait, 10ms);
        if (!slept) co_return fail(SyncFailure::kCancelled, "cancelled");
    }
    if (trackers_connected_) co_return Next::kDone;
    if (ctx_.trackers_where.empty())
        co_return fail(SyncFailure::kTrackers,
                       fmt::format("{}: chunks must be fetched, and no tracker is given", path));
    connecting_ = true;
    const auto unreachable = co_await ctx_.trackers.connect(ctx_.trackers_where);
    connecting_ = false;
    if (unreachable.size() == ctx_.trackers_where.size()) {
        if (ctx_.peers.empty())
            co_return fail(SyncFailure::kTrackers, fmt::format("cannot reach any tracker: {}",
                                                               fmt::join(unreachable, "; ")));
        ctx_.log.warn("cannot reach any tracker ({}); fetching from the channel's {}",
                      fmt::join(unreachable, "; "), count_of(ctx_.peers.size(), "peer"));
        trackers_connected_ = true;
        co_return Next::kDone;
    }
    for (const auto& u : unreachable)
        ctx_.log.warn("cannot reach {} (retrying in the background)", u);
    trackers_connected_ = true;
    co_return Next::kDone;
}

net::awaitable<Next> Executor::fetch(const SyncStep& step, PartFile part, Bitfield have,
                                     fs::path built) {
    const TargetFile& t = state_.target[step.target];
    const SeedId id = t.seed.id();
    if (ctx_.node.find(id))
        co_return fail(SyncFailure::kBusy,
                       fmt::format("{}: this process already has a swarm for seed {} (a copy "
                                   "it serves, changed or elsewhere); leave it before syncing",
                                   t.path, id.hex()));
    const Next connected = co_await connect_trackers(t.path);
    if (connected != Next::kDone) co_return connected;
    const Bitfield before = have;
    std::shared_ptr<Storage> storage = part.storage();
    // The files this sync builds at once share one fetch budget (not the
    // process: each sync of a backup's channels has its own): 4 swarms of
    // 100 MiB files with 40 MiB of chunk buffers each took a subscriber to
    // 186 MiB.
    SwarmOptions options = ctx_.node.swarm_options();
    options.fetch_budget_bytes /= builders_;
    auto transfer =
        FileTransfer::fetch(ctx_.node, ctx_.trackers, ctx_.trackers_where, t.seed, std::move(part),
                            std::move(storage), std::move(have), ctx_.log, options);
    ctx_.log.info("fetching {}: {} of {} chunks from the swarm", t.path,
                  t.seed.chunk_count() - before.count(), t.seed.chunk_count());
    if (!ctx_.peers.empty() && t.seed.chunk_count() == 1)
        transfer->swarm()->defer_trackers(kTrackersAfterHolders);
    transfer->start(true);
    if (!ctx_.peers.empty())
        transfer->swarm()->add_candidates(ctx_.peers, PeerList::Source::kPeerExchange);
    auto over = std::make_shared<bool>(false);
    const std::weak_ptr<Swarm> weak = transfer->swarm();
    net::spawn(ctx_.node.swarm_env().ex, stop_on_cancel(weak, &cancel_, &out_.failure, over),
               ctx_.log, "watching for cancel");
    co_await transfer->wait_done();
    *over = true;
    const Bitfield& after = transfer->have();
    for (std::uint32_t i = 0; i < after.size(); ++i) {
        const ChunkIndex c{i};
        if (after.test(c) && !before.test(c)) {
            ++out_.report.network_chunks;
            out_.report.network_bytes += t.seed.chunk_length(c);
        }
    }
    if (!transfer->complete()) {
        const std::string why = transfer->swarm()->failure();
        co_await transfer->leave(kFailedSwarmGrace);
        if (cancel_.load()) co_return fail(SyncFailure::kCancelled, "cancelled");
        co_return fail(SyncFailure::kFetch, fmt::format("{}: {}", t.path, why));
    }
    auto failure = co_await transfer->finish(built, std::nullopt);
    if (failure) {
        co_await transfer->leave(kFailedSwarmGrace);
        co_return fail(SyncFailure::kDisk, failure->message);
    }
    built_[step.target] = built;
    verified_[id] = built;
    out_.serving.push_back(std::move(transfer));
    co_return Next::kDone;
}

}  // namespace seedshare::sync_detail
