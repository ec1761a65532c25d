// The sync executor (sync_executor.hpp): rounds of scan and plan, and the
// steps other than building a file (sync_build.cpp).
#include "peer/channel/sync_executor.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <thread>

#include "common/core/limits.hpp"
#include "common/crypto/sha256.hpp"
#include "common/net/offload.hpp"
#include "peer/channel/local_scan.hpp"
#include "peer/channel/local_view.hpp"
#include "peer/channel/sync_executor_impl.hpp"
#include "peer/library/seed_maker.hpp"

namespace seedshare {

using namespace std::chrono_literals;

namespace sync_detail {

JobResult replan(std::string why) {
    return {Next::kReplan, SyncFailure::kDisk, std::move(why)};
}
JobResult failed(SyncFailure f, std::string why) {
    return {Next::kFailed, f, std::move(why)};
}

std::string build_name(const TargetFile& t) {
    return fmt::format("{}-{}", t.seed.id().hex(), sha256(t.path).hex().substr(0, 16));
}

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
            o.env = env;
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

}  // namespace sync_detail

net::awaitable<SyncOutcome> sync_to(SyncContext& ctx, std::vector<TargetFile> target,
                                    std::atomic<bool>& cancel) {
    sync_detail::Executor executor(ctx, std::move(target), cancel);
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
