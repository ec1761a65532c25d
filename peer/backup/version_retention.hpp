// Which earlier versions of a channel the backup peer keeps, and which seeds
// it serves from them (--keep-versions N): pure, no I/O. The shell
// (version_archive.hpp) keeps each version the subscriber moves on from, then
// asks plan_retention() what to drop and what to serve.
#pragma once

#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

#include "common/core/ids.hpp"

namespace seedshare {

// An earlier version kept on disk: its number and the seeds of the files
// kept of it (a file edited or gone before it could be kept is not among them).
struct KeptVersion {
    std::uint64_t version = 0;
    std::set<SeedId> seeds;
    bool operator==(const KeptVersion&) const = default;
};

struct RetentionPlan {
    std::vector<std::uint64_t> drop;  // kept versions no longer wanted, oldest first
    std::set<SeedId> serve;           // seeds the kept versions serve
    bool operator==(const RetentionPlan&) const = default;
};

// `keep` counts versions in all, the current one (`current`, held in DIR and
// served by the subscriber) among them: the newest keep - 1 kept versions
// older than `current` stay. A kept version numbered `current` stays too,
// unserved and uncounted: it is what a stop in the middle of installing the
// next version left (DIR recorded as `current`, some of its files already
// replaced), needed when that version is applied again. One numbered higher
// is dropped (only the archive saw it). What stays serves every seed of it
// that `live` (the seeds of the current version, or of the one replacing
// it) does not name.
RetentionPlan plan_retention(const std::vector<KeptVersion>& kept, std::uint64_t current,
                             const std::set<SeedId>& live, std::size_t keep);

}  // namespace seedshare
