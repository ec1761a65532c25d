// The files `peer serve DIR` shares, and where their seeds come from.
//
// scan_directory finds them; SeedCache remembers seeds made earlier by path,
// size, mtime and inode, so a restart does not hash everything again; a
// `NAME.seed` next to a file is used too when it describes that file and is
// newer than it. Everything here is blocking file-system work: run it on the
// thread pool.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/log.hpp"
#include "common/result.hpp"
#include "common/seed.hpp"

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

// Regular files under `dir`, recursively. Skipped: hidden names (any path
// component starting with '.'), partial downloads (*.part), `X.seed` when X is
// next to it, names that cannot be a seed's name, and symlinks whose target
// lies outside `dir`. `skipped` (optional) gets one line per skipped symlink.
std::vector<SharedFile> scan_directory(const std::filesystem::path& dir,
                                       std::vector<std::string>* skipped = nullptr);

// Stats one path as scan_directory would; nullopt if it is not a regular file.
std::optional<SharedFile> stat_shared(const std::filesystem::path& path);

// A seed next to the file (`path.seed`) that describes it and is not older.
std::optional<Seed> sidecar_seed(const SharedFile& file);

class SeedCache {
  public:
    // No directory: remembers nothing.
    explicit SeedCache(std::optional<std::filesystem::path> state_dir);

    std::optional<Seed> find(const SharedFile& file) const;
    // Best effort: a cache that cannot be written only costs hashing later.
    void remember(const SharedFile& file, const Seed& seed);
    const std::optional<std::filesystem::path>& dir() const { return dir_; }

  private:
    struct Entry {
        std::uint64_t size;
        std::int64_t mtime_ns;
        std::uint64_t inode;
        std::string seed_id;
    };
    void load();
    void save() const;

    std::optional<std::filesystem::path> dir_;
    std::map<std::string, Entry> entries_;  // by absolute path
};

// $XDG_STATE_HOME/seedshare, else ~/.local/state/seedshare, else nullopt.
std::optional<std::filesystem::path> default_state_dir();

}  // namespace seedshare
