// Builds a Seed from a file in one read pass: the reading thread hashes the
// whole file in order while worker threads hash the chunks it has read.
// Memory is bounded by a few read slabs (each whole chunks, at most
// max(4 MiB, one chunk)), whatever the file size; only the chunk-hash list grows.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/result.hpp"
#include "common/env/env.hpp"
#include "common/model/seed.hpp"

namespace seedshare {

struct SeedMakerOptions {
    std::uint64_t chunk_size = 0;  // 0: the default policy (default_chunk_size)
    // 1..limits::kMaxTrackersPerSeed addresses, no repeats (a seed names at least one).
    std::vector<HostPort> trackers{kDefaultTracker};
    unsigned threads = 0;  // 0: one per core
    // Polled between slabs; when set, make_seed stops with an error.
    const std::atomic<bool>* cancel = nullptr;
    // Where the file is opened (a test's FaultyEnv; the process's by default).
    Env* env = &Env::posix();
};

// Blocking; call it from a worker thread, never from an io_context thread.
// Fails (with a one-line reason naming the file) on a missing, unreadable or
// non-regular file, a file that changes size while being read, a chunk size
// outside 1..kMaxChunkSize, more than kMaxChunkCount chunks, or a tracker list
// a seed cannot hold.
Result<Seed> make_seed(const std::filesystem::path& file, const SeedMakerOptions& options);

// Writes `text` to `path` atomically with the real Env (Env::posix(): a
// temporary file in the same directory, fsync, rename, directory fsync). On
// failure nothing is left behind. Code that takes an Env calls its
// write_file_atomically instead.
Status write_file_atomically(const std::filesystem::path& path, std::string_view text);

}  // namespace seedshare
