// The whole-file SHA-256 of a download, computed while chunks arrive. A
// verified chunk that extends the hashed prefix is hashed at once from
// memory; chunks verified out of order are read back from storage later by
// drain(), in pieces of at most kReadBytes, so no chunk-sized buffer is held
// for it. Called from worker threads; at most one of them hashes at a time.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "common/core/ids.hpp"
#include "common/core/result.hpp"
#include "common/crypto/sha256.hpp"
#include "common/model/seed.hpp"
#include "peer/storage/storage.hpp"

namespace seedshare {

class FileHasher {
  public:
    static constexpr std::size_t kReadBytes = 1u << 20;

    FileHasher(const Seed& seed, Storage& storage);

    // Chunk c was already in storage, verified (a resumed download). Call
    // before any chunk_written.
    void mark_written(ChunkIndex c) { written_[c.value] = true; }
    // Chunk c was verified and written; `data` holds its bytes and is hashed
    // now if c is next in order and no other thread is hashing. Once per
    // chunk. Returns true when written chunks wait to be read back: call
    // drain() (from a job that holds no chunk buffer).
    bool chunk_written(ChunkIndex c, std::span<const std::uint8_t> data);
    // Hashes, reading back from storage, every written chunk that extends the
    // prefix. Returns at once if another thread is hashing (it drains too).
    void drain();
    // Once every chunk was written: waits for hashing in flight, hashes what
    // is left, and returns the digest. Call once.
    Result<Digest> finish();

    // Chunks hashed so far (for logs); a racy read.
    std::uint32_t hashed() const { return next_; }

  private:
    bool drain_needed() const { return next_ < written_.size() && written_[next_]; }
    Status drain_locked(std::unique_lock<std::mutex>& lock);

    // The file's geometry, copied: a drain job may outlive the Swarm (and
    // its Seed) that started it; it holds this hasher and the storage.
    const std::uint64_t length_;
    const std::uint64_t chunk_size_;
    Storage& storage_;
    std::mutex mu_;
    std::condition_variable idle_;
    std::vector<bool> written_;
    std::uint32_t next_ = 0;
    bool busy_ = false;
    std::optional<Error> error_;
    Sha256 sha_;                         // touched only by the busy_ owner
    std::vector<std::uint8_t> scratch_;  // read-back pieces, owner only
};

}  // namespace seedshare
