// The files `peer serve DIR` shares, and where their seeds come from.
//
// scan_directory finds them; SeedCache remembers seeds made earlier by path,
// size, mtime and inode, so a restart does not hash everything again; a
// `NAME.seed` next to a file is used too when it describes that file and is
// newer than it. SkipLog (pure) decides which skips to report. Everything
// else here is blocking file-system work: run it on the
// thread pool.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/core/log.hpp"
#include "common/core/result.hpp"
#include "common/env/env.hpp"
#include "common/model/seed.hpp"

namespace seedshare {

struct SharedFile {
    std::filesystem::path path;  // as found under DIR
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t inode = 0;
    bool same_as(const SharedFile& o) const {
        return size == o.size && mtime_ns == o.mtime_ns && inode == o.inode;
    }
};

// Why a file under DIR is not shared as it is (said once per file by serve).
enum class SkipReason {
    kBadName,          // cannot be a seed's name (control character, not UTF-8, too long)
    kDanglingSymlink,  // a symlink whose target does not exist (or loops)
    kSymlinkOutside,   // a symlink whose target lies outside DIR
    kNotRegular,       // a FIFO, socket, device: never opened
    kUnreadable,       // a regular file that cannot be opened for reading
    kSidecarMismatch,  // NAME.seed next to NAME does not describe it (another seed is used)
    kCannotShare,      // seeding or opening it failed
};

struct Skip {
    std::filesystem::path path;
    SkipReason reason;
    std::string detail;  // what exactly (a FIFO, the name's fault, an errno text, ...)
};

// The one line that says why, e.g. "DIR/pipe: a FIFO, not a regular file; skipped".
// Control characters in the path are shown escaped (\xNN).
std::string describe(const Skip& skip);

// A path for a message: bytes below 0x20 and 0x7f shown as \xNN.
std::string shown_path(const std::filesystem::path& path);

// Decides which skips to report: each (path, reason) once while it lasts.
// Pure: the caller notes every skip it sees in a round (a scan and the
// shares after it), then ends the round; a skip not noted in a round is
// forgotten, so it is reported again if it comes back later.
class SkipLog {
  public:
    // True when this skip was not seen in the previous round (report it).
    bool note(const Skip& skip);
    void end_round();

  private:
    using Key = std::pair<std::string, SkipReason>;
    std::set<Key> previous_;
    std::set<Key> current_;
};

struct ScanResult {
    std::vector<SharedFile> files;  // sorted by path
    std::vector<Skip> skipped;      // the ones worth a word (not hidden, *.part, ...)
};

// Regular files under `dir`, recursively. Skipped silently: hidden names (any
// path component starting with '.'), partial downloads (*.part), `X.seed`
// when X is next to it, and everything under `exclude` (seedshare's own
// state directory: what seedshare writes is never served). Skipped with a
// reason: names that cannot be a seed's name, dangling symlinks, symlinks
// whose target lies outside `dir`, anything not a regular file (never opened),
// and files that cannot be opened for reading (opened with O_NONBLOCK, so
// nothing here ever blocks on a FIFO swapped in meanwhile). The walk (list,
// lstat, stat, open) goes through `env`; a directory it cannot list is passed
// over. Symlink targets are resolved with std::filesystem (the Env has no
// realpath).
ScanResult scan_directory(const std::filesystem::path& dir,
                          const std::vector<std::filesystem::path>& exclude = {},
                          Env& env = Env::posix());

// Stats one path as scan_directory would; nullopt if it is not a regular file.
std::optional<SharedFile> stat_shared(const std::filesystem::path& path, Env& env = Env::posix());

// The seed next to a file (`path.seed`): none there, one that describes the
// file and is not older (use it), or one that does not (why, as a Skip).
struct SidecarCheck {
    std::optional<Seed> seed;
    std::optional<Skip> rejected;
};
SidecarCheck check_sidecar(const SharedFile& file, Env& env = Env::posix());

// The seed from check_sidecar, if any.
std::optional<Seed> sidecar_seed(const SharedFile& file, Env& env = Env::posix());

// Its files (STATE/seeds/ID.seed and STATE/index) are read and written
// through `env`, which must outlive the cache.
class SeedCache {
  public:
    // No directory (or one that cannot be made): remembers nothing.
    explicit SeedCache(std::optional<std::filesystem::path> state_dir, Env& env = Env::posix());

    std::optional<Seed> find(const SharedFile& file) const;
    // Best effort: a cache that cannot be written only costs hashing later.
    // What was remembered before stays usable; write_error() says why not.
    void remember(const SharedFile& file, const Seed& seed);
    const std::optional<std::filesystem::path>& dir() const { return dir_; }
    // Why the last remember() could not write the cache; nullopt once one could.
    const std::optional<IoError>& write_error() const { return write_error_; }

  private:
    struct Entry {
        std::uint64_t size;
        std::int64_t mtime_ns;
        std::uint64_t inode;
        std::string seed_id;
    };
    void load();
    IoStatus save() const;

    std::optional<std::filesystem::path> dir_;
    Env* env_;
    std::map<std::string, Entry> entries_;  // by absolute path
    std::optional<IoError> write_error_;
};

// $XDG_STATE_HOME/seedshare, else ~/.local/state/seedshare, else nullopt.
std::optional<std::filesystem::path> default_state_dir();

}  // namespace seedshare
