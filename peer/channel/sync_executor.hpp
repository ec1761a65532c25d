// The shell that carries out sync plans (sync_planner.hpp): brings a channel
// directory DIR to a target version, from whatever state a previous version,
// the user or a crash left it in.
//
// Rounds: scan DIR (local_scan.hpp), plan; a plan of kHash steps is hashed
// (make_seed, on the Node's thread pool) and planned again; any other plan is
// run step by step in its order. A step that finds its path no longer holding
// the stamp it was planned with stops the plan: DIR is scanned and planned
// again. At most limits::kMaxSyncRounds rounds; the sync ends when a plan has
// nothing left to do but keep.
//
// Steps:
//  - kMoveAside: rename without replacing, once the stamp is checked.
//  - kFetch, kRestore: the file is built in STATE/tmp/<seed id>-<path key>.part
//    (PartFile: locked, marked; a .part a crash left is resumed: its chunks
//    are verified and kept). Every kLocal chunk is read from its source,
//    hashed, and written only when it matches the target seed (the source may
//    have changed); a kEarlier chunk is copied from the chunk it repeats when
//    that one is already held (resumed), otherwise the swarm fetches it too.
//    A small file (one chunk, at most limits::kMaxMeshFileBytes) with
//    nothing local is first asked of the channel's peers
//    (SyncContext::small_files: ChannelMesh::fetch_files), a batch of files
//    at a time before they are built, and written from what came.
//    What is still missing is fetched through the file's ordinary swarm
//    (FileTransfer::fetch, the trackers of SyncContext::trackers_where). A
//    file all of whose chunks are local never joins a swarm: its whole-file
//    hash is checked here. The verified file is renamed to STATE/tmp/<key>
//    (a crash after that is picked up by the next run: the whole file is
//    hashed once and used). kRestore logs a warning naming the file, what the
//    user did to it, and where their copy was kept. A plan's files are built
//    a few at once (kParallelBuilds), never two of one seed together: the
//    second is copied from the first once that one is verified.
//  - kInstall: the built file renamed over `path` only if `path` still holds
//    `expected` (or, when nullopt, does not exist), its directories made
//    first, the directory fsynced, then ChannelStore::record_installed.
//  - kDelete: removed if the stamp still holds; ChannelStore::forget.
//  - kRemoveDirectory: rmdir if still an empty directory (else left).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/log.hpp"
#include "common/net/net.hpp"
#include "peer/channel/channel_store.hpp"
#include "peer/channel/sync_planner.hpp"
#include "peer/channel/sync_state.hpp"
#include "peer/discovery/trackers.hpp"
#include "peer/node/node.hpp"
#include "peer/transfer/file_transfer.hpp"

namespace seedshare {

struct SyncContext {
    Node& node;
    Trackers& trackers;
    // Asked for peers of the files to fetch (connected by sync_to when a
    // chunk must come from the network).
    std::vector<HostPort> trackers_where;
    Logger log;
    ChannelStore& store;  // open on `dir`: its lock held for the whole sync
    std::filesystem::path dir;
    // Peers of the channel that hold the target version, so every file of it
    // (ChannelMesh::holders): every file's swarm dials them at once, beside
    // what the trackers answer, and with them a sync goes on when no tracker
    // can be reached.
    std::vector<PeerAddress> peers = {};
    // Asks the channel's peers for small files (ChannelMesh::fetch_files):
    // by seed id, each file's length and SHA-256; answers those that came,
    // checked, and ends soon after the flag is set (the sync's cancel).
    // Empty: every file comes through its swarm.
    struct SmallFile {
        std::uint32_t length = 0;
        Digest hash;
    };
    using SmallFiles = std::function<net::awaitable<std::map<SeedId, Bytes>>(
        std::map<SeedId, SmallFile> wanted, const std::atomic<bool>* cancel)>;
    SmallFiles small_files = {};
};

// Why a sync stopped short. DIR is left consistent: every step done is safe
// on its own, and the next sync_to resumes (built files and .parts included).
enum class SyncFailure : std::uint8_t {
    kCancelled,      // `cancel` was set
    kPlan,           // the planner refused the state (a bad target, say)
    kScan,           // DIR could not be scanned (or is too large)
    kHash,           // a local file could not be hashed
    kTrackers,       // none of the trackers could be reached
    kFetch,          // a file's swarm failed (integrity, disk) or a peer source is gone
    kBusy,           // a .part or a swarm of the same seed is in use elsewhere
    kDisk,           // a rename, remove or write in DIR or the store failed
    kTooManyRounds,  // DIR kept changing: limits::kMaxSyncRounds rounds
};

// What was done, counted as it happened (a re-planned plan counts once).
struct SyncReport {
    std::size_t rounds = 0;  // plans made
    std::size_t hashed = 0;  // files hashed
    std::size_t fetched = 0;
    std::size_t restored = 0;
    std::size_t installed = 0;
    std::size_t deleted = 0;
    std::size_t moved_aside = 0;
    std::size_t directories_removed = 0;
    std::uint64_t local_chunks = 0;    // copied from files on disk
    std::uint64_t network_chunks = 0;  // verified from the swarm or the channel's peers
    std::uint64_t resumed_chunks = 0;  // already verified in a .part or built file
    std::uint64_t network_bytes = 0;
    std::size_t small_files = 0;  // of `fetched`/`restored`: whole from the channel's peers
};

struct SyncOutcome {
    std::optional<SyncFailure> failure;
    std::string message;  // for people: names the file and the reason
    SyncReport report;
    // On success: the target files as they are now on disk, verified (path,
    // seed, stamp). The caller makes them the applied version:
    // store.set_applied(manifest_text, std::move(applied)).
    std::vector<RecordedFile> applied;
    // On success: the swarms of the files this call downloaded, still
    // registered in the Node and serving their (now installed) file, told
    // "complete" to the trackers, so that other subscribers fetch from us
    // while we fetch the rest. The caller keeps them while it serves, or
    // leave()s them when it shares the installed files anew (FileTransfer::
    // share of a FileStorage::open_read, which notices a later edit). Files
    // built only from local chunks have none. On failure: empty (they left).
    std::vector<std::unique_ptr<FileTransfer>> serving;

    bool ok() const { return !failure.has_value(); }
};

// Brings ctx.dir to `target`. `cancel` is polled between steps and while
// fetching; it must outlive the call.
//
// Before: ctx.store is open on ctx.dir (its lock held); every seed of
// `target` was checked against its id in the manifest. No swarm of a seed
// that must be downloaded may be in the Node (a fetch of it fails kBusy): the
// caller leaves the swarms of files it serves from DIR whose stamps changed
// (local_changes says which) before syncing; unchanged ones may keep serving.
// After success: store.set_applied(manifest text, outcome.applied), then
// serve the target files (outcome.serving already serves those downloaded).
// After a failure: nothing to undo; the next sync_to resumes.
net::awaitable<SyncOutcome> sync_to(SyncContext& ctx, std::vector<TargetFile> target,
                                    std::atomic<bool>& cancel);

}  // namespace seedshare
