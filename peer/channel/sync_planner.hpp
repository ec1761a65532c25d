// The channel sync planner: what to do to bring DIR from what is on disk to a
// target version. Pure: the state in (sync_state.hpp), a plan out; the
// subscriber's shell executes it, and plans again after every rescan, hashing
// round or crash.
//
// Rounds. When some file's content cannot be known without reading it (its
// stamp changed since it was recorded, or an unrecorded file of the right
// size sits where a target file goes), the plan is only kHash steps: the
// shell hashes those files and plans again with the results. A path whose
// result is supplied is never asked for again; a file that changed while it
// was hashed (stamp no longer the scan's) counts as modified: moved aside,
// never deleted, never used as a chunk source.
//
// Order of a plan without kHash (safe against a crash at any point; a chunk
// source is never destroyed before every fetch reading it is done):
//   1. kKeep        nothing to do (the shell serves these)
//   2. kMoveAside   entries in the way and edited published files, renamed
//                   within their directory (never deleted)
//   3. kFetch, kRestore  build each file into a temporary file (chunks copied
//                   from local sources or downloaded), verify it; nothing in
//                   DIR is replaced yet
//   4. kInstall     replace each path by its verified temporary file,
//                   atomically, only if the path still holds `expected`
//   5. kDelete      files of the previous version not in the target, unmodified
//   6. kRemoveDirectory  directories the channel made that are now empty,
//                   deepest first. "Made by the channel": some recorded file
//                   lies under it, no target file does, and everything in it
//                   is deleted by this plan; a directory holding anything of
//                   the user's (or an entry moved aside) stays.
// Idempotence: every step is decided from what is on disk, so planning again
// after a crash gives only what remains: an installed file is recognised
// (recorded, or hashed once and found to be the target), a moved or deleted
// entry is no longer there. What a crash can cost (never data): a restored
// file whose edited copy was already moved aside is reported kDeleted the
// second time and fetched from the network (the copy is not recorded, so its
// content is unknown); an obsolete file moved out of the way (kObsolete) but
// not yet deleted stays at its aside name, a chunk source still (its stamp is
// recorded) but never deleted, as it is not recorded at that path.
//
// Paths in steps are where the entry is when the step runs: an entry inside
// a directory moved aside in step 2 is named by its new path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/core/result.hpp"
#include "common/model/seed.hpp"
#include "peer/channel/sync_state.hpp"

namespace seedshare {

enum class SyncAction : std::uint8_t {
    kKeep,             // a target file already right on disk
    kHash,             // hash `path` with `chunk_size`, then plan again
    kMoveAside,        // rename `path` to `aside`
    kFetch,            // build a target file (new, or a new version of an unmodified file)
    kRestore,          // build a published file the user edited or removed (warn: `change`)
    kInstall,          // replace `path` by what kFetch/kRestore built (making its directories)
    kDelete,           // remove the file at `path` (if still `expected`)
    kRemoveDirectory,  // remove the directory `path` (if empty)
};

// How a published file differs on disk from what was applied: the reason of a
// kRestore, and what `local_changes` reports.
enum class LocalChange : std::uint8_t {
    kEdited,               // a regular file whose content (or stamp, for status) changed
    kDeleted,              // nothing there
    kReplacedByDirectory,  // a directory where the file was
    kReplacedByOther,      // a symlink, FIFO, socket or device where the file was
    kInTheWay,             // not published, where a published file or directory must go
};

// Why an entry is moved aside; the aside name says it too (aside_name.hpp).
enum class AsideReason : std::uint8_t {
    kEdited,    // a published file with the user's changes: NAME.seedshare-edited-N
    kInTheWay,  // local data where a target file or directory goes: NAME.seedshare-moved-N
    kObsolete,  // only channel content of the previous version, in the way: moved, then
                // deleted by later steps (NAME.seedshare-moved-N, gone at the end)
};

// Where the bytes of one chunk of a file being built come from.
struct ChunkFrom {
    enum class Kind : std::uint8_t {
        kNetwork,  // downloaded from the swarm
        kLocal,    // copied from sources[source] at byte `offset` (same hash and length)
        kEarlier,  // the same bytes as chunk `earlier` of this file (downloaded once)
    };
    Kind kind = Kind::kNetwork;
    std::uint32_t source = 0;
    std::uint64_t offset = 0;
    ChunkIndex earlier;
    bool operator==(const ChunkFrom&) const = default;
};

// One step. Which fields mean something depends on the action (said per field).
struct SyncStep {
    SyncAction action = SyncAction::kKeep;
    std::string path;
    // kKeep, kFetch, kRestore, kInstall: the file's index in SyncState::target.
    std::size_t target = 0;
    // kHash: the chunk size to hash with.
    std::uint64_t chunk_size = 0;
    // kMoveAside, kDelete: the entry's stamp from the scan; the shell stops
    // and plans again if `path` no longer holds it (for a directory compare
    // device and inode only: its mtime moves with what it holds). kInstall:
    // what `path` must hold when replaced, or nullopt: `path` must not exist
    // (rename without replacing).
    std::optional<FileStamp> expected;
    // kMoveAside: the new path, free when planned (rename without replacing).
    std::string aside;
    AsideReason aside_reason = AsideReason::kInTheWay;
    // kRestore.
    LocalChange change = LocalChange::kDeleted;
    // kFetch, kRestore: local files read (at the paths they have in step 3;
    // the file's own previous bytes first when used), and one ChunkFrom per
    // chunk of the target seed.
    std::vector<std::string> sources;
    std::vector<ChunkFrom> chunks;
    std::uint32_t local_chunks = 0;    // kLocal and kEarlier
    std::uint32_t network_chunks = 0;  // kNetwork
};

// For logs and `peer status`. Bytes are the chunks' lengths.
struct SyncSummary {
    std::size_t to_hash = 0;
    std::size_t kept = 0;
    std::size_t fetched = 0;
    std::size_t restored = 0;
    std::size_t deleted = 0;
    std::size_t moved_aside = 0;  // entries left aside (kObsolete ones are deleted)
    std::size_t directories_removed = 0;
    std::uint64_t local_chunks = 0;
    std::uint64_t network_chunks = 0;
    std::uint64_t local_bytes = 0;
    std::uint64_t network_bytes = 0;
    bool operator==(const SyncSummary&) const = default;
};

struct SyncPlan {
    std::vector<SyncStep> steps;  // in the order above
    SyncSummary summary;
    // True when the steps are kHash only: hash, then plan again.
    bool needs_hashing() const { return summary.to_hash != 0; }
    // Nothing to do but keep (DIR holds the target version).
    bool done() const { return summary.to_hash == 0 && summary.kept == steps.size(); }
};

// Fails (a sentence) on a state the planner cannot trust: a duplicate path, a
// target path that is a directory of another, a path that is not relative
// and clean, a seed or hash whose chunk count does not fit its length.
Result<SyncPlan> plan_sync(const SyncState& state);

}  // namespace seedshare
