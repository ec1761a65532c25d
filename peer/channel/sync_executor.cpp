#include "peer/channel/sync_executor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <thread>

#include "common/core/limits.hpp"
#include "common/core/plural.hpp"
#include "common/crypto/sha256.hpp"
#include "common/net/join_all.hpp"
#include "common/net/offload.hpp"
#include "peer/channel/local_scan.hpp"
#include "peer/channel/local_view.hpp"
#include "peer/library/seed_maker.hpp"
#include "peer/storage/seed_io.hpp"
#include "peer/swarm/file_hasher.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Uploads in flight a swarm left after a failure may finish within this.
constexpr auto kFailedSwarmGrace = 1000ms;
// How often a fetch looks at the cancel flag.
constexpr auto kCancelPoll = 50ms;
// A .part still held by a stopped swarm of this process: tries, and the pause between.
constexpr int kBusyRetries = 30;
constexpr auto kBusyPause = 100ms;
// A one-chunk file's swarm dials the holders the channel named first; the
// trackers are asked only if it is still downloading after this (such a file
// is done long before: 10,000 tracker lookups answered after their files were
// fetched held 20 MB in one subscriber, and kept the tracker busy). A file of
// several chunks asks them at once: the other subscribers fetching it, which
// the trackers name, can trade its chunks (the holders named are those of
// the whole version, often only the publisher).
constexpr auto kTrackersAfterHolders = 1000ms;
// Files built at once (each its own swarm when it needs the network).
constexpr std::size_t kParallelBuilds = 4;
// Small files asked of the channel's peers at a time (their content is held
// in memory until built).
constexpr std::size_t kSmallBatchFiles = 1024;
constexpr std::uint64_t kSmallBatchBytes = 8u << 20;
// Chunks of a resumed .part verified at once.
constexpr unsigned kVerifyParallel = 2;

enum class Next : std::uint8_t {
    kDone,    // the step is done (or there was nothing left to do)
    kReplan,  // DIR is not as planned: scan and plan again
    kFailed,  // SyncOutcome::failure says why
};

// What a job on the pool found.
struct JobResult {
    Next next = Next::kDone;
    SyncFailure failure = SyncFailure::kDisk;
    std::string message;  // kFailed: for people; kReplan: for the debug log
};

JobResult replan(std::string why) {
    return {Next::kReplan, SyncFailure::kDisk, std::move(why)};
}
JobResult failed(SyncFailure f, std::string why) {
    return {Next::kFailed, f, std::move(why)};
}

// The file name a target file is built under in STATE/tmp: by seed and path,
// so that it is the same after a crash and two paths with one seed differ.
std::string build_name(const TargetFile& t) {
    return fmt::format("{}-{}", t.seed.id().hex(), sha256(t.path).hex().substr(0, 16));
}

// The stamp an entry was planned with still holds (a directory: the same
// one, whatever it holds now).
bool still(const FileInfo& now, const FileStamp& expected) {
    if (now.type == FileType::kDirectory)
        return now.device == expected.dev && now.inode == expected.ino;
    return stamp_of(now) == expected;
}

std::string_view what_happened(LocalChange c) {
    switch (c) {
        case LocalChange::kEdited:
            return "was edited";
        case LocalChange::kDeleted:
            return "was deleted";
        case LocalChange::kReplacedByDirectory:
            return "was replaced by a directory";
        case LocalChange::kReplacedByOther:
            return "was replaced by a symlink or special file";
        case LocalChange::kInTheWay:
            return "had something else in its place";
    }
    return "changed";
}

IoStatus sync_directory(Env& env, const fs::path& dir) {
    auto fd = env.open(dir, O_RDONLY | O_DIRECTORY);
    if (!fd) return fd.error();
    // fsync of one open descriptor, like its pwrite: not an Env call.
    if (::fsync(fd->get()) != 0) return IoError{errno, "fsync", dir, 0};
    return Ok{};
}

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

// What copying the local chunks of one file did.
struct Copied {
    std::uint64_t chunks = 0;
    std::uint64_t mismatched = 0;  // a source no longer held the planned bytes
    std::optional<std::string> write_error;
};

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

class Executor {
  public:
    Executor(SyncContext& ctx, std::vector<TargetFile> target, std::atomic<bool>& cancel)
        : ctx_(ctx), env_(ctx.store.env()), cancel_(cancel) {
        state_.target = std::move(target);
    }

    net::awaitable<SyncOutcome> run();

  private:
    // The first failure is the one reported (builds run side by side).
    Next fail(SyncFailure f, std::string message) {
        if (!out_.failure) {
            out_.failure = f;
            out_.message = std::move(message);
        }
        return Next::kFailed;
    }
    Next take(const JobResult& r) {
        if (r.next == Next::kFailed) return fail(r.failure, r.message);
        if (r.next == Next::kReplan) ctx_.log.debug("planning again: {}", r.message);
        return r.next;
    }
    asio::thread_pool& pool() { return ctx_.node.pool(); }
    fs::path at(std::string_view path) const { return ctx_.dir / path; }

    net::awaitable<Next> scan_and_plan(SyncPlan& plan);
    net::awaitable<Next> hash(const SyncPlan& plan);
    net::awaitable<Next> execute(const SyncPlan& plan);
    net::awaitable<Next> move_aside(const SyncStep& step);
    net::awaitable<Next> build_all(const SyncPlan& plan);
    net::awaitable<void> build_worker(const std::vector<const SyncStep*>* steps, std::size_t* next);
    net::awaitable<Next> build(const SyncStep& step);
    bool small_file(const SyncStep& step) const;
    net::awaitable<Next> build_pass(const std::vector<const SyncStep*>& steps);
    net::awaitable<Next> connect_trackers(const std::string& path);
    net::awaitable<Next> fetch(const SyncStep& step, PartFile part, Bitfield have, fs::path built);
    net::awaitable<Next> install(const SyncStep& step);
    net::awaitable<Next> remove_file(const SyncStep& step, const std::string& original);
    net::awaitable<Next> remove_directory(const SyncStep& step);
    net::awaitable<void> clean_temp_dir();

    SyncContext& ctx_;
    Env& env_;
    std::atomic<bool>& cancel_;
    SyncState state_;
    SyncOutcome out_;
    std::map<std::size_t, fs::path> built_;  // target index -> its verified file in STATE/tmp
    std::size_t builders_ = 1;               // files being built at once in this pass
    std::map<SeedId, Bytes> small_;          // the batch of small files from the peers
    std::map<std::string, std::string, std::less<>> asides_;  // this plan's moves: path -> aside
    // Where a file verified by this call is (STATE/tmp, then DIR once
    // installed), by seed: a second target with the same content is copied.
    std::map<SeedId, fs::path> verified_;
    bool trackers_connected_ = false;
    bool connecting_ = false;
};

net::awaitable<SyncOutcome> Executor::run() {
    for (;;) {
        if (cancel_.load()) {
            fail(SyncFailure::kCancelled, "cancelled");
            break;
        }
        if (out_.report.rounds == limits::kMaxSyncRounds) {
            fail(SyncFailure::kTooManyRounds,
                 fmt::format("{} kept changing while it was brought to the version: gave up "
                             "after {} rounds",
                             ctx_.dir.string(), limits::kMaxSyncRounds));
            break;
        }
        ++out_.report.rounds;
        SyncPlan plan;
        const Next planned = co_await scan_and_plan(plan);
        if (planned == Next::kFailed) break;
        if (plan.done()) {
            // The scan is sorted by path.
            for (const auto& t : state_.target) {
                const auto e = std::lower_bound(
                    state_.local.begin(), state_.local.end(), t.path,
                    [](const LocalEntry& l, const std::string& p) { return l.path < p; });
                if (e == state_.local.end() || e->path != t.path) continue;  // kept: cannot be
                out_.applied.push_back(RecordedFile{t.path, t.seed, e->stamp});
            }
            co_await clean_temp_dir();
            break;
        }
        // One co_await per statement, its result named (GCC 12, ARCHITECTURE.md).
        Next next = Next::kDone;
        if (plan.needs_hashing()) {
            next = co_await hash(plan);
        } else {
            next = co_await execute(plan);
        }
        if (next == Next::kFailed) break;
    }
    co_return std::move(out_);
}

net::awaitable<Next> Executor::scan_and_plan(SyncPlan& plan) {
    state_.recorded = ctx_.store.recorded();
    Env* env = &env_;
    const fs::path dir = ctx_.dir;
    auto scan = [env, dir] { return scan_local(dir, *env); };
    auto scanned = co_await offload(pool(), std::move(scan));
    if (!scanned) co_return fail(SyncFailure::kScan, scanned.error().message);
    state_.local = std::move(scanned).value();
    auto planned = plan_sync(state_);
    if (!planned) co_return fail(SyncFailure::kPlan, planned.error().message);
    plan = std::move(planned).value();
    co_return Next::kDone;
}

// Hashes the files the plan asks for. A file gone meanwhile is left out; one
// that changed while hashed is reported with its stamp from before (the
// planner then treats it as modified), or left out when its length changed
// (it is asked for again).
net::awaitable<Next> Executor::hash(const SyncPlan& plan) {
    Env* env = &env_;
    const std::atomic<bool>* cancel = &cancel_;
    for (const auto& step : plan.steps) {
        if (cancel_.load()) co_return fail(SyncFailure::kCancelled, "cancelled");
        const fs::path path = at(step.path);
        const std::string rel = step.path;
        const std::uint64_t chunk_size = step.chunk_size;
        auto job = [env, path, rel, chunk_size,
                    cancel]() -> std::variant<std::optional<HashedFile>, std::string> {
            auto before = env->lstat(path);
            if (!before) {
                if (before.error().code == ENOENT) return std::optional<HashedFile>();
                return before.error().text();
            }
            SeedMakerOptions o;
            o.chunk_size = chunk_size;
            o.threads = std::min(2u, std::max(1u, std::thread::hardware_concurrency()));
            o.cancel = cancel;
            auto seed = make_seed(path, o);
            auto after = env->lstat(path);
            if (!after) return std::optional<HashedFile>();  // gone
            if (!seed) {
                if (stamp_of(*after) != stamp_of(*before)) return std::optional<HashedFile>();
                return seed.error().message;
            }
            if (seed->length != before->size) return std::optional<HashedFile>();
            return std::optional<HashedFile>(HashedFile{rel, stamp_of(*before), chunk_size,
                                                        std::move(seed->chunk_hashes),
                                                        seed->file_hash});
        };
        auto hashed = co_await offload(pool(), std::move(job));
        if (cancel_.load()) co_return fail(SyncFailure::kCancelled, "cancelled");
        if (auto* error = std::get_if<std::string>(&hashed))
            co_return fail(SyncFailure::kHash, *error);
        auto& result = std::get<std::optional<HashedFile>>(hashed);
        if (!result) continue;
        ++out_.report.hashed;
        std::erase_if(state_.hashed, [&](const HashedFile& h) { return h.path == result->path; });
        state_.hashed.push_back(std::move(*result));
    }
    co_return Next::kDone;
}

net::awaitable<Next> Executor::execute(const SyncPlan& plan) {
    // Entries moved aside by this plan (aside -> original path), so that a
    // file deleted at its aside name is forgotten under its recorded name.
    std::map<std::string, std::string, std::less<>> moved;
    asides_.clear();
    bool built_all = false;
    for (const auto& step : plan.steps) {
        if (cancel_.load()) co_return fail(SyncFailure::kCancelled, "cancelled");
        Next next = Next::kDone;
        switch (step.action) {
            case SyncAction::kKeep:
            case SyncAction::kHash:
                break;
            case SyncAction::kMoveAside:
                next = co_await move_aside(step);
                if (next == Next::kDone) {
                    moved.emplace(step.aside, step.path);
                    asides_.emplace(step.path, step.aside);
                }
                break;
            case SyncAction::kFetch:
            case SyncAction::kRestore:
                // All of them at the first (they are contiguous in a plan).
                if (!built_all) next = co_await build_all(plan);
                built_all = true;
                break;
            case SyncAction::kInstall:
                next = co_await install(step);
                break;
            case SyncAction::kDelete: {
                std::string original = step.path;
                for (const auto& [aside, from] : moved)
                    if (is_within(step.path, aside))
                        original = from + step.path.substr(aside.size());
                next = co_await remove_file(step, original);
                break;
            }
            case SyncAction::kRemoveDirectory:
                next = co_await remove_directory(step);
                break;
        }
        if (next != Next::kDone) co_return next;
    }
    co_return Next::kDone;
}

net::awaitable<Next> Executor::move_aside(const SyncStep& step) {
    Env* env = &env_;
    const fs::path from = at(step.path);
    const fs::path to = at(step.aside);
    const FileStamp expected = step.expected.value_or(FileStamp{});
    auto job = [env, from, to, expected]() -> JobResult {
        auto now = env->lstat(from);
        if (!now) return replan(now.error().text());
        if (!still(*now, expected)) return replan(fmt::format("{} changed", from.string()));
        auto moved = env->rename_no_replace(from, to);
        if (!moved) {
            const int code = moved.error().code;
            if (code == EEXIST || code == ENOENT) return replan(moved.error().text());
            return failed(SyncFailure::kDisk,
                          fmt::format("cannot move {} aside to {}: {}", from.string(), to.string(),
                                      moved.error().text()));
        }
        return {};
    };
    const JobResult r = co_await offload(pool(), std::move(job));
    if (r.next == Next::kDone) {
        if (step.aside_reason != AsideReason::kObsolete) {
            ++out_.report.moved_aside;
            ctx_.log.info("moved {} aside to {}", step.path, step.aside);
        }
    }
    co_return take(r);
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
        auto opened = PartFile::open(part_path, *seed, false);
        auto* f = std::get_if<PartFile::Failure>(&opened);
        if (f == nullptr || f->problem != PartFile::Problem::kForeign) return opened;
        // Not ours for this seed (nothing else writes in STATE/tmp): a leftover.
        (void)env->remove(part_path);
        return PartFile::open(part_path, *seed, false);
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

net::awaitable<Next> Executor::install(const SyncStep& step) {
    const auto b = built_.find(step.target);
    const TargetFile& t = state_.target[step.target];
    if (b == built_.end())
        co_return fail(SyncFailure::kDisk, fmt::format("{}: nothing was built to install", t.path));
    Env* env = &env_;
    ChannelStore* store = &ctx_.store;
    const fs::path from = b->second;
    const fs::path to = at(step.path);
    const std::optional<FileStamp> expected = step.expected;
    RecordedFile record{step.path, t.seed, {}};
    auto job = [env, store, from, to, expected, record]() mutable -> JobResult {
        const fs::path parent = to.parent_path();
        if (auto made = env->create_directories(parent); !made) {
            const int code = made.error().code;
            if (code == EEXIST || code == ENOTDIR) return replan(made.error().text());
            return failed(SyncFailure::kDisk, made.error().text());
        }
        IoStatus renamed = Ok{};
        if (expected) {
            // Replaces only the planned file; a window remains between this
            // check and the rename (no rename-if-unchanged exists).
            auto now = env->lstat(to);
            if (!now || now->type != FileType::kRegular || stamp_of(*now) != *expected)
                return replan(fmt::format("{} changed", to.string()));
            renamed = env->rename(from, to);
        } else {
            renamed = env->rename_no_replace(from, to);
        }
        if (!renamed) {
            if (renamed.error().code == EEXIST) return replan(renamed.error().text());
            return failed(SyncFailure::kDisk, fmt::format("cannot install {}: {}", to.string(),
                                                          renamed.error().text()));
        }
        if (auto synced = sync_directory(*env, parent); !synced)
            return failed(SyncFailure::kDisk, synced.error().text());
        auto now = env->lstat(to);
        if (!now) return replan(now.error().text());
        record.stamp = stamp_of(*now);
        if (auto kept = store->record_installed(record); !kept)
            return failed(SyncFailure::kDisk, kept.error().text());
        return {};
    };
    const JobResult r = co_await offload(pool(), std::move(job));
    if (r.next == Next::kDone) {
        built_.erase(step.target);
        verified_[t.seed.id()] = to;
        ++out_.report.installed;
    }
    co_return take(r);
}

net::awaitable<Next> Executor::remove_file(const SyncStep& step, const std::string& original) {
    Env* env = &env_;
    ChannelStore* store = &ctx_.store;
    const fs::path path = at(step.path);
    const std::string rel = step.path;
    const std::string recorded_as = original;
    const FileStamp expected = step.expected.value_or(FileStamp{});
    auto job = [env, store, path, rel, recorded_as, expected]() -> JobResult {
        auto now = env->lstat(path);
        if (now) {
            if (now->type != FileType::kRegular || stamp_of(*now) != expected)
                return replan(fmt::format("{} changed", path.string()));
            if (auto removed = env->remove(path); !removed && removed.error().code != ENOENT)
                return failed(SyncFailure::kDisk, fmt::format("cannot delete {}: {}", path.string(),
                                                              removed.error().text()));
        } else if (now.error().code != ENOENT) {
            return failed(SyncFailure::kDisk, now.error().text());
        }
        for (const std::string* p : {&rel, &recorded_as})
            if (auto forgot = store->forget(*p); !forgot)
                return failed(SyncFailure::kDisk, forgot.error().text());
        return {};
    };
    const JobResult r = co_await offload(pool(), std::move(job));
    if (r.next == Next::kDone) ++out_.report.deleted;
    co_return take(r);
}

net::awaitable<Next> Executor::remove_directory(const SyncStep& step) {
    Env* env = &env_;
    const fs::path path = at(step.path);
    auto job = [env, path]() -> bool {
        auto now = env->lstat(path);
        if (!now || now->type != FileType::kDirectory) return false;
        return env->remove(path).ok();  // fails when not empty: then it stays
    };
    const bool removed = co_await offload(pool(), std::move(job));
    if (removed)
        ++out_.report.directories_removed;
    else
        ctx_.log.debug("left the directory {} (not empty, or gone)", step.path);
    co_return Next::kDone;
}

// Once DIR holds the version, nothing in STATE/tmp is of use: leftovers of
// versions given up (a crash, a newer version before this one was done).
net::awaitable<void> Executor::clean_temp_dir() {
    Env* env = &env_;
    const fs::path tmp = ctx_.store.temp_dir();
    auto job = [env, tmp] {
        auto listed = env->list_dir(tmp);
        if (!listed) return;
        for (const auto& e : *listed)
            if (auto st = env->lstat(tmp / e.name); st && st->type == FileType::kRegular)
                (void)env->remove(tmp / e.name);
    };
    co_await offload(pool(), std::move(job));
}

}  // namespace

net::awaitable<SyncOutcome> sync_to(SyncContext& ctx, std::vector<TargetFile> target,
                                    std::atomic<bool>& cancel) {
    Executor executor(ctx, std::move(target), cancel);
    SyncOutcome outcome = co_await executor.run();
    if (!outcome.ok()) {
        // Their files may be in STATE/tmp, where the next run takes them up:
        // their swarms must have let go of them (and of their seeds' ids).
        for (auto& t : outcome.serving)
            co_await t->leave(0ms);
        outcome.serving.clear();
    }
    co_return outcome;
}

}  // namespace seedshare
