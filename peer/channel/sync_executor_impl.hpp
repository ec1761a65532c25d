// The sync executor's inside (sync_executor.hpp), shared by its two files:
// sync_executor.cpp (rounds, plans, moves, installs, deletions) and
// sync_build.cpp (files built: local chunks, small files from the channel's
// peers, the file swarms). Private to them.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/env/env.hpp"
#include "peer/channel/sync_executor.hpp"
#include "peer/storage/part_file.hpp"

namespace seedshare::sync_detail {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Uploads in flight a swarm left after a failure may finish within this.
inline constexpr auto kFailedSwarmGrace = 1000ms;
// How often a fetch looks at the cancel flag.
inline constexpr auto kCancelPoll = 50ms;
// A .part still held by a stopped swarm of this process: tries, and the pause between.
inline constexpr int kBusyRetries = 30;
inline constexpr auto kBusyPause = 100ms;
// A one-chunk file's swarm dials the holders the channel named first; the
// trackers are asked only if it is still downloading after this (such a file
// is done long before: 10,000 tracker lookups answered after their files were
// fetched held 20 MB in one subscriber, and kept the tracker busy). A file of
// several chunks asks them at once: the other subscribers fetching it, which
// the trackers name, can trade its chunks (the holders named are those of
// the whole version, often only the publisher).
inline constexpr auto kTrackersAfterHolders = 1000ms;
// Files built at once (each its own swarm when it needs the network).
inline constexpr std::size_t kParallelBuilds = 4;
// Small files asked of the channel's peers at a time (their content is held
// in memory until built).
inline constexpr std::size_t kSmallBatchFiles = 1024;
inline constexpr std::uint64_t kSmallBatchBytes = 8u << 20;
// Chunks of a resumed .part verified at once.
inline constexpr unsigned kVerifyParallel = 2;

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

JobResult replan(std::string why);
JobResult failed(SyncFailure f, std::string why);
// The file name a target file is built under in STATE/tmp: by seed and path,
// so that it is the same after a crash and two paths with one seed differ.
std::string build_name(const TargetFile& t);
// The stamp an entry was planned with still holds (a directory: the same
// one, whatever it holds now).
bool still(const FileInfo& now, const FileStamp& expected);
std::string_view what_happened(LocalChange c);
IoStatus sync_directory(Env& env, const fs::path& dir);

// Ends a fetch's swarm once `cancel` is set or another build failed; returns
// when the fetch is over (`over` set by the fetch, after which `cancel` and
// `failed` may be gone).
net::awaitable<void> stop_on_cancel(std::weak_ptr<Swarm> weak, const std::atomic<bool>* cancel,
                                    const std::optional<SyncFailure>* failed,
                                    std::shared_ptr<bool> over);

// What copying the local chunks of one file did.
struct Copied {
    std::uint64_t chunks = 0;
    std::uint64_t mismatched = 0;  // a source no longer held the planned bytes
    std::optional<std::string> write_error;
};

// Copies every chunk of `step` that comes from disk into `storage`, each only
// once its bytes hash to the target seed's chunk hash. Blocking.
Copied copy_local_chunks(Env& env, const fs::path& dir, const Seed& seed, const SyncStep& step,
                         Storage& storage, Bitfield& have, const std::atomic<bool>& cancel);

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

}  // namespace seedshare::sync_detail
