// DIR/NAME.part: a download in progress, owned by one process at a time.
//
// Layout: the seed's bytes at their offsets (preallocated), then a trailer
// that names the seed, "\nseedshare-part 1 <seed id, 64 hex>\n" (83 bytes).
// A .part is resumed only by a download of the seed its trailer names; any
// other file of that name is someone else's and is taken over only when told
// to (--force). At the end the trailer is cut off, the file synced, and only
// then renamed to NAME, never over an existing file unless told to.
//
// While a process works on it, the .part holds an exclusive lock (an open
// file description lock: released when the descriptor is closed, however the
// process ends), so a second process is refused at once rather than sharing
// the file. A lock guards a file, not a name: open() checks after locking that
// the name still leads to the locked file, and only the lock holder renames
// or removes it, after the same check. Everything here blocks on the disk:
// call it on the thread pool.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "common/core/result.hpp"
#include "common/env/env.hpp"
#include "common/model/seed.hpp"
#include "peer/storage/storage.hpp"

namespace seedshare {

// Which file a name led to (device and inode), to tell it from one that
// replaced it.
struct FileIdentity {
    dev_t dev = 0;
    ino_t ino = 0;
    static std::optional<FileIdentity> of(const std::filesystem::path& p,
                                          Env& env = Env::posix());  // lstat
};

class PartFile {
  public:
    // Why a .part cannot be used; steers the caller, the message is for people.
    enum class Problem {
        kBusy,        // another process holds its lock
        kForeign,     // it exists and is not ours for this seed (needs force)
        kNotRegular,  // a directory, FIFO, ...
        kExists,      // finish(): the target appeared meanwhile (needs force)
        kIo,          // the disk said no
    };
    struct Failure {
        Problem problem;
        std::string message;
    };
    // What open() found.
    enum class Found {
        kCreated,    // new (or an empty file): nothing to keep
        kResumable,  // ours for this seed: its verified chunks are kept
        kTakenOver,  // someone else's, taken over with force: chunks that verify are kept
        kComplete,   // the whole file, its trailer already cut (a stop just before the rename)
    };

    static constexpr std::size_t kTrailerBytes = 83;
    static std::string trailer(const SeedId& id);

    // Opens (or creates) `path` for `seed`, locked, sized and marked for it.
    // Names are opened, looked up, renamed and removed through `env`, which
    // must outlive the PartFile; the bytes go through the FileStorage.
    static std::variant<PartFile, Failure> open(const std::filesystem::path& path, const Seed& seed,
                                                bool force, Env& env = Env::posix());

    Found found() const { return found_; }
    const std::filesystem::path& path() const { return path_; }
    // The seed's bytes (trailer excluded). Keeping it alive keeps the lock.
    std::shared_ptr<FileStorage> storage() const { return storage_; }

    // Cuts the trailer, syncs, renames to `target`, syncs the directory, and
    // checks that `target` now leads to the file that was verified. Replaces
    // an existing `target` only when it is the file `replace` names (the one
    // the user was asked about); never one that appeared meanwhile.
    std::optional<Failure> finish(const std::filesystem::path& target,
                                  std::optional<FileIdentity> replace);
    // Removes the .part (it holds nothing worth keeping). Best effort.
    void discard();

  private:
    PartFile(std::filesystem::path path, std::shared_ptr<FileStorage> storage, Found found,
             Env& env)
        : path_(std::move(path)), storage_(std::move(storage)), found_(found), env_(&env) {}

    std::filesystem::path path_;
    std::shared_ptr<FileStorage> storage_;
    Found found_;
    bool finished_ = false;
    Env* env_;  // a pointer: a PartFile is moved
};

}  // namespace seedshare
