// What many in-process tests make first: a file with its seed for a test
// tracker, the file opened to be shared, and swarm settings that keep a
// test from waiting long for a timeout.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "common/core/address.hpp"
#include "peer/library/seed_maker.hpp"
#include "peer/storage/storage.hpp"
#include "peer/swarm/swarm_options.hpp"
#include "test/support/cluster.hpp"
#include "test/support/temp_dir.hpp"

namespace seedshare::test {

// `size` pattern bytes (from `pattern`) at dir/NAME, and its seed for
// `tracker`, in chunks of `chunk` bytes.
inline Seed make_seeded_file(const TempDir& dir, const std::string& name, std::size_t size,
                             const HostPort& tracker, std::uint64_t pattern,
                             std::uint64_t chunk = 64 * 1024) {
    write_file(dir / name, pattern_bytes(size, pattern));
    SeedMakerOptions o;
    o.chunk_size = chunk;
    o.trackers = {tracker};
    auto seed = make_seed(dir / name, o);
    REQUIRE(seed);
    return *seed;
}
// The same, its pattern from its name (files of one size differ).
inline Seed make_seeded_file(const TempDir& dir, const std::string& name, std::size_t size,
                             const HostPort& tracker) {
    return make_seeded_file(dir, name, size, tracker, std::hash<std::string>{}(name));
}

// A complete file opened to be shared.
inline std::shared_ptr<Storage> open_shared(const std::filesystem::path& p) {
    auto s = FileStorage::open_read(p);
    REQUIRE(s);
    return std::shared_ptr<Storage>(std::move(*s));
}

// A stalled peer is given up after 2 s, and a swarm short of peers looks
// again every 300 ms: tests of who serves whom need not wait long.
inline SwarmOptions quick_swarm() {
    SwarmOptions o;
    o.stall_timeout = std::chrono::milliseconds(2000);
    o.rediscover = std::chrono::milliseconds(300);
    return o;
}

// quick_swarm with small blocks and pipelines (work spreads over every
// peer), and dials and handshakes given up after 1 s.
inline SwarmOptions fast_swarm() {
    SwarmOptions o = quick_swarm();
    o.pipeline_max_bytes = 256 * 1024;
    o.pipeline_min_bytes = 64 * 1024;
    o.block_bytes = 32 * 1024;
    o.connect_timeout = std::chrono::milliseconds(1000);
    o.handshake_timeout = std::chrono::milliseconds(1000);
    return o;
}

}  // namespace seedshare::test
