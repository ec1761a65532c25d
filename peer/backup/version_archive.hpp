// The earlier versions of one channel that the backup peer keeps
// (--keep-versions N, N > 1), so a subscriber still bringing its directory
// to a recent version, or a `get` of a file of one, is served after the
// publisher and every subscriber moved on. What to keep and serve is decided
// by plan_retention() (version_retention.hpp, pure); this is the shell.
//
// Only what the version replacing it does not name is kept of a version: a
// file it shares with the next one is still in DIR (served by the
// subscriber) or kept with that next version, so each kept version is whole
// as long as every version after it is kept too, which is how
// plan_retention() drops them (oldest first). Keeping costs a link per
// changed file and no space until the subscriber replaces the file (it
// installs by rename, and a rename leaves the old file to its other names).
//
// On disk, beside the channel's directory (ROOT is DIR/channel-versions/ID):
//
//   ROOT/<version>/<seed id>        a kept file: a hard link to the file the
//                                   subscriber had installed
//   ROOT/<version>/<seed id>.seed   its seed, written (atomically) after it
//
// A file whose stamp differs from what the subscriber recorded (edited or
// gone) is not kept. Everything read back at a restart is checked: the seed
// parsed strictly and named by its id, its file a regular file of the seed's
// size; anything else in a version's directory (a file whose seed was never
// written, a seed that fails) is removed and said. Served files are still
// verified by every getter, chunk by chunk, as any peer's are.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/log.hpp"
#include "common/env/env.hpp"
#include "peer/backup/version_retention.hpp"
#include "peer/channel/version_keeper.hpp"
#include "peer/discovery/trackers.hpp"
#include "peer/node/node.hpp"
#include "peer/transfer/file_transfer.hpp"

namespace seedshare {

struct VersionArchiveOptions {
    std::filesystem::path root;  // DIR/channel-versions/<channel id>
    std::size_t keep = 2;        // versions in all, the one the subscriber holds among them
    std::vector<HostPort> trackers;
};

class VersionArchive final : public VersionKeeper {
  public:
    VersionArchive(Node& node, Trackers& trackers, VersionArchiveOptions options, Logger log,
                   Env& env = Env::posix());
    ~VersionArchive() override;

    net::awaitable<void> replacing(const Manifest& applied, const std::vector<RecordedFile>& files,
                                   const std::filesystem::path& dir, const Manifest& next) override;
    net::awaitable<void> applied(const Manifest& applied) override;
    // Stops serving; before the Node stops (every served file says goodbye).
    net::awaitable<void> leave();

    // The versions kept on disk, oldest first.
    std::vector<std::uint64_t> kept() const;
    // Bytes of the files kept.
    std::uint64_t kept_bytes() const;
    // Bytes of the files kept of one version (0: none kept).
    std::uint64_t bytes_of(std::uint64_t version) const;
    // Bytes of the versions kept now that go once `next` replaces the
    // version `applied` (kept then in their place); 0 unless next > applied.
    std::uint64_t bytes_going(std::uint64_t applied, std::uint64_t next) const;
    // Those versions go in replacing(), before `next`'s files are fetched,
    // rather than once it is applied: --max-size needs their room for it.
    void drop_first(std::uint64_t next) { drop_first_ = next; }
    // What an earlier run kept has been read back (kept_bytes() counts it).
    bool read_back() const { return read_back_; }
    // Whether a kept version holds this seed (served or not).
    bool holds(const SeedId& id) const;
    bool serves(const SeedId& id) const { return serving_.contains(id); }

    // One version kept on disk, as written or read back.
    struct Held {
        KeptVersion meta;
        std::map<SeedId, Seed> seeds;
    };

  private:
    // What an earlier run kept (once, at the first call).
    net::awaitable<void> load();
    net::awaitable<void> carry_out(const RetentionPlan& plan);
    std::vector<KeptVersion> metas() const;

    Node& node_;
    Trackers& trackers_;
    VersionArchiveOptions options_;
    Logger log_;
    Env* env_;
    std::map<std::uint64_t, Held> versions_;
    std::map<SeedId, std::unique_ptr<FileTransfer>> serving_;
    bool loaded_ = false;           // load() began
    bool read_back_ = false;        // load() ended
    std::uint64_t drop_first_ = 0;  // drop_first(): for this next version
};

}  // namespace seedshare
