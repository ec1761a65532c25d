// What keeps a channel's earlier versions after a subscriber has moved on
// (the backup peer's --keep-versions, peer/backup/version_archive.hpp). A
// Subscriber with one tells it before a version replaces the applied one
// (DIR still holds the applied version's files) and after a version is
// applied and served (also at start, with the version found applied). Both
// are called from the subscriber's own coroutine, never at once.
#pragma once

#include <filesystem>
#include <vector>

#include "common/model/manifest.hpp"
#include "common/net/net.hpp"
#include "peer/channel/sync_state.hpp"

namespace seedshare {

class VersionKeeper {
  public:
    virtual ~VersionKeeper() = default;

    // `applied` is in `dir` as `files` record it, and `next` is about to
    // replace it: keep what must outlive it, and let go of every seed `next`
    // names (the subscriber may have to fetch them, and a Node has one swarm
    // per seed). Called before `next`'s files are fetched; the keeper may
    // also drop what it keeps (the backup's archive, to make room).
    virtual net::awaitable<void> replacing(const Manifest& applied,
                                           const std::vector<RecordedFile>& files,
                                           const std::filesystem::path& dir,
                                           const Manifest& next) = 0;
    // `applied` is in DIR and its files are served.
    virtual net::awaitable<void> applied(const Manifest& applied) = 0;
};

}  // namespace seedshare
