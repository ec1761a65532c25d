// Reading seed files and checking what a download target already holds.
#pragma once

#include <asio.hpp>

#include <filesystem>

#include "common/core/result.hpp"
#include "common/model/bitfield.hpp"
#include "common/model/seed.hpp"
#include "common/net/net.hpp"
#include "peer/storage/storage.hpp"

namespace seedshare {

// Reads and parses a seed file; the size is checked before reading. Errors
// name the file (and the line, for parse errors).
Result<Seed> read_seed_file(const std::filesystem::path& path);

// Verifies every chunk in `storage` against the seed on the thread pool
// (several chunks at once) and returns the ones that match. Blocking I/O
// and hashing stay off the calling (I/O) thread.
net::awaitable<Bitfield> verify_chunks(const Seed& seed, std::shared_ptr<Storage> storage,
                                       asio::thread_pool& pool, unsigned parallel);

// SHA-256 of a whole file on disk, on the thread pool.
net::awaitable<Result<Digest>> hash_file(const std::filesystem::path& path,
                                         asio::thread_pool& pool);

}  // namespace seedshare
