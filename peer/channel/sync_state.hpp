// What the sync planner is told: the version to reach, what the subscriber
// last applied, what is on disk now, and what was hashed for it. Plain values,
// gathered by the subscriber's shell (scan, state file, hasher); nothing here
// reads a disk or a clock.
//
// Paths are relative to the channel's directory DIR, '/'-separated, with no
// "." or ".." component, no leading or trailing '/' (the manifest's rules).
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <vector>

#include "common/core/ids.hpp"
#include "common/model/seed.hpp"

namespace seedshare {

// What lstat says of an entry. Two equal stamps are taken to mean the same
// content (the assumption rsync's quick check and the seed cache make): a
// file's bytes are hashed only when its stamp changed. Renaming keeps a stamp
// (same device, inode, size, mtime), so a file the user renamed is still
// recognised; a copy is a new inode and is not.
struct FileStamp {
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t dev = 0;
    std::uint64_t ino = 0;
    auto operator<=>(const FileStamp&) const = default;
};

// One file of the version to reach. Its seed was fetched and checked against
// the manifest's seed id.
struct TargetFile {
    std::string path;
    Seed seed;
};

// A file the subscriber's state says it verified on disk: the previously
// applied version's files, with the stamp each had once verified. A shell that
// also records each file it replaces during a sync (path, new seed, stamp
// after the rename) saves the hashing of those files after a crash; without
// that record they are hashed once and kept.
struct RecordedFile {
    std::string path;
    Seed seed;
    FileStamp stamp;
};

enum class EntryKind : std::uint8_t {
    kFile,       // a regular file
    kDirectory,  // a real directory (never a symlink to one)
    kOther,      // a symlink (whatever it points at), FIFO, socket, device
};

// One entry under DIR, as the scan found it without following symlinks: the
// scan lists a symlink as kOther and never what lies behind it. The state
// directory is not listed, and must not lie inside a directory the channel
// publishes into. An entry whose parent is not listed as a directory is
// ignored (a scan that raced with a rename).
struct LocalEntry {
    std::string path;
    EntryKind kind = EntryKind::kFile;
    FileStamp stamp;  // size meaningful for files only
};

// The result of hashing one file the previous plan asked for.
struct HashedFile {
    std::string path;
    FileStamp stamp;  // the file's stamp while it was hashed (the same before and after)
    std::uint64_t chunk_size = 0;
    std::vector<Digest> chunk_hashes;  // chunk_count_for(stamp.size, chunk_size) of them
    Digest file_hash;
};

struct SyncState {
    std::vector<TargetFile> target;
    std::vector<RecordedFile> recorded;  // empty on the first sync
    std::vector<LocalEntry> local;
    // Every result of hashing during this sync, kept across rounds (a path
    // whose result is dropped may be asked for again); cleared once the
    // version is applied and recorded.
    std::vector<HashedFile> hashed;
};

}  // namespace seedshare
