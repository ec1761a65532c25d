// Pictures of a sync's state for the planner's tests and the status's:
// target files, the applied version, the local scan, drawn from strings of
// chunk letters.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "peer/channel/sync_state.hpp"

namespace seedshare::sync_pictures {

// Pictures of state: a file's content is a string of chunk letters ("abcd":
// four chunks of kChunk bytes, chunk 'a' first); equal letters are equal
// chunk hashes. `last` is the last chunk's length.
inline constexpr std::uint64_t kChunk = 4;

inline Digest chunk_digest(char c) {
    Digest d;
    d.bytes[0] = 'c';
    d.bytes[1] = static_cast<std::uint8_t>(c);
    return d;
}

inline Digest whole_digest(std::string_view chunks, std::uint64_t length) {
    Digest d;
    d.bytes[0] = 'f';
    for (std::size_t i = 0; i < chunks.size() && i < 20; ++i)
        d.bytes[1 + i] = static_cast<std::uint8_t>(chunks[i]);
    for (int k = 0; k < 8; ++k)
        d.bytes[24 + k] = static_cast<std::uint8_t>(length >> (8 * k));
    return d;
}

inline std::uint64_t length_of(std::string_view chunks, std::uint64_t last) {
    return chunks.empty() ? 0 : (chunks.size() - 1) * kChunk + last;
}

inline Seed seed_of(std::string_view chunks, std::uint64_t last = kChunk) {
    Seed s;
    s.name.assign(1, 'f');  // not = "f": GCC 12 warns wrongly (-Wrestrict) at -O3
    s.chunk_size = kChunk;
    s.length = length_of(chunks, last);
    for (char c : chunks)
        s.chunk_hashes.push_back(chunk_digest(c));
    s.file_hash = whole_digest(chunks, s.length);
    return s;
}

class Pic {
  public:
    Pic& target(std::string path, std::string_view chunks, std::uint64_t last = kChunk) {
        state.target.push_back({std::move(path), seed_of(chunks, last)});
        return *this;
    }
    // A file of the applied version, on disk as it was verified.
    Pic& applied(const std::string& path, std::string_view chunks, std::uint64_t last = kChunk) {
        const FileStamp st = fresh(length_of(chunks, last));
        state.recorded.push_back({path, seed_of(chunks, last), st});
        put(path, EntryKind::kFile, st);
        return *this;
    }
    // A file of the applied version that is no longer on disk.
    Pic& applied_gone(const std::string& path, std::string_view chunks) {
        state.recorded.push_back({path, seed_of(chunks), fresh(length_of(chunks, kChunk))});
        return *this;
    }
    Pic& user_file(const std::string& path, std::uint64_t size) {
        put(path, EntryKind::kFile, fresh(size));
        return *this;
    }
    Pic& user_dir(const std::string& path) {
        put(path, EntryKind::kDirectory, fresh(0));
        return *this;
    }
    Pic& symlink(const std::string& path) {
        put(path, EntryKind::kOther, fresh(0));
        return *this;
    }
    // The file was written to in place: same inode, a new mtime.
    Pic& touch(const std::string& path) {
        ++entry(path).stamp.mtime_ns;
        return *this;
    }
    Pic& remove(const std::string& path) {
        std::erase_if(state.local, [&](const LocalEntry& e) { return e.path == path; });
        return *this;
    }
    Pic& rename(const std::string& from, const std::string& to) {
        LocalEntry e = entry(from);
        remove(from);
        put(to, e.kind, e.stamp);
        return *this;
    }
    // What hashing the file at `path` (as it is now) found.
    Pic& hashed(const std::string& path, std::string_view chunks, std::uint64_t last = kChunk) {
        const Seed s = seed_of(chunks, last);
        FileStamp st = entry(path).stamp;
        REQUIRE(st.size == s.length);
        state.hashed.push_back({path, st, kChunk, s.chunk_hashes, s.file_hash});
        return *this;
    }
    // The shell replaced `path` by a verified file (a new inode), and with
    // `journal` recorded it.
    Pic& installed(const std::string& path, std::string_view chunks, bool journal) {
        remove(path);
        const FileStamp st = fresh(length_of(chunks, kChunk));
        put(path, EntryKind::kFile, st);
        if (journal) {
            std::erase_if(state.recorded, [&](const RecordedFile& r) { return r.path == path; });
            state.recorded.push_back({path, seed_of(chunks), st});
        }
        return *this;
    }
    LocalEntry& entry(const std::string& path) {
        auto it = std::find_if(state.local.begin(), state.local.end(),
                               [&](const LocalEntry& e) { return e.path == path; });
        REQUIRE(it != state.local.end());
        return *it;
    }
    SyncPlan plan() const {
        auto p = plan_sync(state);
        REQUIRE_MESSAGE(p.ok(), (p.ok() ? std::string() : p.error().message));
        return p.value();
    }

    SyncState state;

  private:
    FileStamp fresh(std::uint64_t size) { return FileStamp{size, 1000, 1, next_ino_++}; }
    // Adds the entry and the directories it lies in.
    void put(const std::string& path, EntryKind kind, FileStamp st) {
        for (std::size_t i = path.find('/'); i != std::string::npos; i = path.find('/', i + 1)) {
            const std::string dir = path.substr(0, i);
            if (std::none_of(state.local.begin(), state.local.end(),
                             [&](const LocalEntry& e) { return e.path == dir; }))
                state.local.push_back({dir, EntryKind::kDirectory, fresh(0)});
        }
        state.local.push_back({path, kind, st});
    }
    std::uint64_t next_ino_ = 100;
};

}  // namespace seedshare::sync_pictures
