// Reading seed files and checking what a download target already holds.
#pragma once

#include <asio.hpp>

#include <atomic>
#include <filesystem>
#include <memory>

#include "common/core/result.hpp"
#include "common/env/env.hpp"
#include "common/model/bitfield.hpp"
#include "common/model/seed.hpp"
#include "common/net/net.hpp"
#include "peer/storage/storage.hpp"

namespace seedshare {

// Reads and parses a seed file through `env`; the size is checked before
// reading, a FIFO is refused without waiting. Errors name the file (and the
// line, for parse errors).
Result<Seed> read_seed_file(const std::filesystem::path& path, Env& env = Env::posix());

// Set to stop a long check early (a Ctrl-C or a time limit during it).
using Cancel = std::shared_ptr<const std::atomic<bool>>;

// Verifies every chunk in `storage` against the seed on the thread pool
// (several chunks at once) and returns the ones that match. Blocking I/O
// and hashing stay off the calling (I/O) thread. Cancelled, it returns what
// it verified so far.
net::awaitable<Bitfield> verify_chunks(const Seed& seed, std::shared_ptr<Storage> storage,
                                       asio::thread_pool& pool, unsigned parallel,
                                       Cancel cancel = nullptr);

// SHA-256 of a whole file on disk (opened through `env`), on the thread
// pool. A FIFO or other non-regular file is refused without blocking;
// cancelled, it fails.
net::awaitable<Result<Digest>> hash_file(const std::filesystem::path& path, asio::thread_pool& pool,
                                         Cancel cancel = nullptr, Env& env = Env::posix());

}  // namespace seedshare
