// What the backup peer fetches next: pure, no I/O, no clock. The shell
// (backup.cpp) polls the trackers' listings, looks up who holds new seeds,
// and hands everything it knows to plan_backup(), which says which seeds to
// look up, which to fetch now, which to skip and why, and whether the disk is
// too full to go on. A hostile sharer is bounded here: seeds in all, seeds per
// source (the peer address holding them), the rate of new seeds (the caller's
// allowance) and fetches at once (limits in common/core/limits.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/core/ids.hpp"
#include "common/core/limits.hpp"

namespace seedshare {

// One seed as the trackers list it.
struct ListedSeed {
    SeedId id;
    std::string name;
    std::uint64_t length = 0;
    std::uint32_t complete_holders = 0;
    bool operator==(const ListedSeed&) const = default;
};

// Why a listed seed is not fetched (said once per seed and reason).
enum class BackupSkip {
    kBeyondQuota,  // it does not fit in what --max-size leaves
    kSeedLimit,    // the backup holds limits::kMaxBackupSeeds already
    kSourceLimit,  // each of its holders has limits::kMaxBackupSeedsPerSource here already
};

// "beyond --max-size", ... (for the log line).
const char* describe(BackupSkip skip);

struct BackupLimits {
    std::uint64_t max_size = 0;  // bytes held and being fetched, channels too; 0: no quota
    std::size_t max_seeds = limits::kMaxBackupSeeds;
    std::size_t max_per_source = limits::kMaxBackupSeedsPerSource;
    std::size_t max_fetches = limits::kMaxBackupFetches;
    std::uint64_t disk_reserve = limits::kBackupDiskReserve;
};

struct BackupState {
    std::vector<ListedSeed> listed;            // what the trackers list now
    std::map<SeedId, std::uint64_t> held;      // complete, served: its length
    std::map<SeedId, std::uint64_t> fetching;  // being fetched: its length
    // Bytes under DIR that are not seeds of the listing: the channels the
    // backup follows (their versions, and one being applied), which
    // --max-size counts too.
    std::uint64_t others = 0;
    // Who held each seed when it was looked up (peer addresses). A seed not
    // here has not been looked up yet.
    std::map<SeedId, std::vector<std::string>> sources;
    std::set<SeedId> resting;  // failed or had no holder lately: not now
    // Bytes free on DIR's file system (a fetch preallocates its file, so the
    // fetches under way are already counted); nullopt: unknown.
    std::optional<std::uint64_t> free_disk;
    std::size_t new_allowance = 0;  // new seeds that may be looked up now (the rate)
};

struct BackupPlan {
    // Ask the trackers who holds these (new seeds; skipped ones too, for
    // the directory role: their holders are named to getters who ask).
    std::vector<SeedId> lookup;
    std::vector<ListedSeed> fetch;  // start fetching these now
    std::vector<std::pair<ListedSeed, BackupSkip>> skipped;
    // Fetching stopped: the next seed would leave less than the reserve free.
    bool disk_full = false;
    std::size_t waiting = 0;  // wanted, not now (fetch slots busy, rate, disk)
    bool operator==(const BackupPlan&) const = default;
};

// Seeds neither held nor being fetched, with a complete holder, rarest first (fewest complete
// holders), then by name and id; each either skipped, looked up, fetched or
// left waiting. Seeds held stay held whatever the listing says (that is the
// point of a backup).
BackupPlan plan_backup(const BackupState& state, const BackupLimits& limits);

}  // namespace seedshare
