// Checks and stores the whole chunks of a download: the chunk's SHA-256
// against the seed, the write at its offset, and the whole-file hash fed as
// chunks arrive (FileHasher). The calls block (hashing, disk), so they run on
// the thread pool; the swarm acts on the Verdict on the I/O thread. Decisions
// are on the Outcome; the error is for people.
//
// Lifetime: shared. A read-back job (drain) may outlive the swarm that
// started it, so the verifier keeps its own copy of the chunk hashes and its
// storage.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "common/core/ids.hpp"
#include "common/core/result.hpp"
#include "common/model/bitfield.hpp"
#include "common/model/seed.hpp"
#include "peer/storage/storage.hpp"
#include "peer/swarm/file_hasher.hpp"

namespace seedshare {

class Verifier {
  public:
    enum class Outcome {
        kOk,           // the hash matched and the chunk is written
        kBadHash,      // the bytes are not the chunk: nothing written
        kWriteFailed,  // the hash matched but the write failed (`error` says why)
    };
    struct Verdict {
        Outcome outcome = Outcome::kOk;
        std::optional<Error> error;  // kWriteFailed
        // Written chunks wait to be read back for the whole-file hash: run
        // drain() from a job that holds no chunk buffer.
        bool drain = false;
    };

    // `have`: the chunks storage already holds, verified (a resumed download).
    Verifier(const Seed& seed, std::shared_ptr<Storage> storage, const Bitfield& have);

    // Chunk c's bytes arrived: checks them against the seed and, if they are
    // the chunk, writes them and feeds the whole-file hash. Once per chunk
    // that passes; from any thread.
    Verdict check_and_write(ChunkIndex c, std::span<const std::uint8_t> data);
    // Reads back and hashes the written chunks that extend the hashed prefix.
    void drain() { hasher_.drain(); }
    // Once every chunk is written: the whole file's SHA-256, the data synced
    // to disk. Call once.
    Result<Digest> finish();

    // Chunks hashed into the whole-file hash so far (for logs); a racy read.
    std::uint32_t hashed() const { return hasher_.hashed(); }
    // Chunks and bytes that passed and were written (not counting `have`).
    std::uint32_t verified_chunks() const { return verified_chunks_; }
    std::uint64_t verified_bytes() const { return verified_bytes_; }

  private:
    Seed seed_;  // a copy: see Lifetime above
    std::shared_ptr<Storage> storage_;
    FileHasher hasher_;
    std::atomic<std::uint32_t> verified_chunks_{0};
    std::atomic<std::uint64_t> verified_bytes_{0};
};

}  // namespace seedshare
