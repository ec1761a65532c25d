// What `peer status DIR` says differs locally from the version applied,
// without reading any file: pure, from the recorded stamps and a scan.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.hpp"
#include "peer/channel/sync_planner.hpp"
#include "peer/channel/sync_state.hpp"

namespace seedshare {

struct LocalDifference {
    std::string path;
    // kEdited: the stamp changed (the content may be the same: only a sync
    // hashes it); kDeleted, kReplacedByDirectory, kReplacedByOther: what is at
    // the path now; kInTheWay: an entry that is not a directory where one a
    // published file needs must be.
    LocalChange change = LocalChange::kEdited;
    bool operator==(const LocalDifference&) const = default;
};

// A few words for people: "edited", "deleted", "replaced by a directory"...
std::string_view describe(LocalChange change);

// Sorted by path, each path once. Fails on a path that is not clean or listed
// twice.
Result<std::vector<LocalDifference>> local_changes(const std::vector<RecordedFile>& applied,
                                                   const std::vector<LocalEntry>& local);

}  // namespace seedshare
