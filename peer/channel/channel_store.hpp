// What a subscriber keeps about one channel directory DIR, in DIR/.seedshare
// (STATE; hidden, so no scan lists it and no manifest can name it):
//
//   STATE/lock          held (flock, Env::lock) while a ChannelStore is open:
//                       one process works on a directory at a time; released
//                       however the process ends
//   STATE/state         channel id, generation, the manifest text fully
//                       applied, the files recorded with it (seed id, stamp,
//                       path); rewritten whole, atomically
//   STATE/journal       files installed or deleted since STATE/state was
//                       written (appended, fsynced line by line), so that a
//                       crash mid-sync costs no re-hashing; it names the
//                       generation it extends and is ignored for any other.
//                       One that reaches its size limit, or whose append
//                       failed halfway, is folded into STATE/state first.
//   STATE/seeds/ID.seed every seed a recorded file uses (seeds/FORMAT.md)
//   STATE/tmp/          files being built by a sync (sync_executor.hpp)
//   STATE/heard         when the subscriber last heard the channel's head
//                       confirmed (a tracker answered with it, or a peer of
//                       the channel was connected): one line,
//                       "seedshare-channel-heard 1 <unix seconds>\n";
//                       rewritten atomically; `peer status` shows its age
//
// STATE/state, byte for byte ('\n' ends every line; numbers in decimal):
//   seedshare-channel-state 1
//   channel <64 hex> | channel -
//   generation <n>
//   manifest <bytes>            then exactly that many bytes, then '\n';
//                               "manifest -" when no version was applied
//   files <count>
//   <seed id, 64 hex> <size> <mtime ns> <dev> <ino> <path>     (count lines)
// STATE/journal:
//   seedshare-channel-journal 1 <generation>
//   + <seed id> <size> <mtime ns> <dev> <ino> <path>   (installed)
//   - <path>                                          (deleted)
// A journal's last line without its '\n' is a write the crash cut: ignored.
// Anything else that does not parse is refused, naming the file and line.
//
// Every read is bounded (limits::kMaxChannelStateBytes, kMaxSeedBytes) and
// checked before reading. Everything here blocks on the disk: call it on the
// thread pool. Not thread-safe: one caller at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/core/ids.hpp"
#include "common/env/env.hpp"
#include "common/model/seed.hpp"
#include "peer/channel/sync_state.hpp"

namespace seedshare {

struct StoreError {
    enum class Kind : std::uint8_t {
        kBusy,      // another ChannelStore (this process or another) has DIR open
        kCorrupt,   // a state file that does not parse, or a seed not matching its id
        kTooLarge,  // a state file over its size limit (not read)
        kIo,        // the disk said no
    };
    Kind kind = Kind::kIo;
    std::string message;  // names the file
};

class ChannelStore {
  public:
    static constexpr const char* kStateDirName = ".seedshare";

    // Makes DIR/.seedshare (and its tmp/ and seeds/), takes the lock, loads
    // the state strictly (with the seeds of the recorded files). `env`
    // outlives the store.
    static std::variant<ChannelStore, StoreError> open(std::filesystem::path dir, Env& env);

    // What DIR's state says, read without taking the lock (`peer status`,
    // while a subscriber runs): the state file is replaced atomically, so a
    // reader sees one whole version of it. A directory with no state: empty.
    struct View {
        std::optional<ChannelId> channel;
        std::optional<std::string> manifest;
        std::vector<RecordedFile> recorded;
        // STATE/heard (unix seconds); nullopt when never written. One that
        // does not parse is an error (kCorrupt), as every state file.
        std::optional<std::int64_t> last_heard;
    };
    static std::variant<View, StoreError> inspect(const std::filesystem::path& dir, Env& env);
    // A seed stored in DIR's state, read without the lock (`peer status
    // --verify`): as seed() below.
    static std::variant<std::optional<Seed>, StoreError> inspect_seed(
        const std::filesystem::path& dir, const SeedId& id, Env& env);

    ChannelStore(ChannelStore&&) = default;
    ChannelStore& operator=(ChannelStore&&) = default;

    std::filesystem::path dir() const { return dir_; }
    Env& env() const { return *env_; }
    std::filesystem::path state_dir() const { return dir_ / kStateDirName; }
    // Where files being built live (same file system as DIR, mostly).
    std::filesystem::path temp_dir() const { return state_dir() / "tmp"; }

    const std::optional<ChannelId>& channel() const { return channel_; }
    IoStatus set_channel(const ChannelId& id);
    // STATE/heard := `unix_seconds` (>= 0), atomically.
    IoStatus set_last_heard(std::int64_t unix_seconds);

    // The manifest text of the version fully applied, as given to set_applied.
    const std::optional<std::string>& applied_manifest() const { return manifest_; }
    // The files of the applied version, and those installed or deleted since
    // (the planner's SyncState::recorded).
    const std::vector<RecordedFile>& recorded() const { return recorded_; }

    // During a sync: `file` is in place and verified; durable on return
    // (its seed stored first). Replaces any record of the same path.
    IoStatus record_installed(const RecordedFile& file);
    // During a sync: the file at `path` was deleted; durable on return.
    IoStatus forget(const std::string& path);
    // The end of a sync: the version applied and its files, in one atomic
    // write (the journal is then obsolete and removed).
    IoStatus set_applied(std::string manifest_text, std::vector<RecordedFile> files);

    // A stored seed: nullopt when none is stored under `id`; an error when
    // the file is corrupt or not the seed of `id`.
    std::variant<std::optional<Seed>, StoreError> seed(const SeedId& id) const;
    IoStatus put_seed(const Seed& seed);
    // Where the seed of `id` is kept (the file may not exist): read off the
    // I/O thread by a subscriber serving seeds to its channel's peers.
    std::filesystem::path seed_path(const SeedId& id) const;

  private:
    ChannelStore(std::filesystem::path dir, Env& env, FileLock lock)
        : dir_(std::move(dir)), env_(&env), lock_(std::move(lock)) {}

    std::optional<StoreError> load();
    std::optional<StoreError> load_journal();
    // recorded_ with `file` (replacing its path's entry), or without
    // `path`; index_recorded() after recorded_ is replaced whole.
    void put_recorded(RecordedFile file);
    void drop_recorded(const std::string& path);
    void index_recorded();
    std::string state_text() const;
    IoStatus write_state();
    IoStatus compact();
    IoStatus append_journal(const std::string& line);
    IoStatus store_seed_once(const Seed& seed);

    std::filesystem::path dir_;
    Env* env_;
    FileLock lock_;
    std::optional<ChannelId> channel_;
    std::uint64_t generation_ = 0;
    std::optional<std::string> manifest_;
    std::vector<RecordedFile> recorded_;
    // Where each path is in recorded_: recording a path again replaces its
    // entry in place, forgetting one moves the last entry into its place
    // (the order carries no meaning), so a sync of 10,000 files is not
    // quadratic.
    std::unordered_map<std::string, std::size_t> recorded_at_;
    std::set<SeedId> stored_seeds_;  // known to be in STATE/seeds
    bool journal_open_ = false;      // STATE/journal exists for generation_
    bool journal_broken_ = false;    // its last append failed: may end in a cut line
    std::uint64_t journal_bytes_ = 0;
};

}  // namespace seedshare
