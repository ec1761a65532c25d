// dial_target: how many peers a swarm dials for itself, by the size of its
// file. Few for a file of few chunks (each connection costs a handshake, a
// bitfield, a Have per chunk and a teardown, and more of them cannot carry
// more of its chunks at once), the full limit for large files.
#include <doctest/doctest.h>

#include "common/model/seed.hpp"
#include "peer/swarm/swarm_options.hpp"

namespace dial_target_test {

using namespace seedshare;

TEST_CASE("dial target: half the chunks, at least the floor, at most the swarm's limit") {
    const std::size_t limit = SwarmOptions{}.max_connections;
    // A one-chunk file, and files up to twice the floor: the floor.
    CHECK(dial_target(limit, 1) == kMinDialTarget);
    CHECK(dial_target(limit, 2 * kMinDialTarget) == kMinDialTarget);
    // Beyond it, one peer per two chunks.
    CHECK(dial_target(limit, 2 * kMinDialTarget + 2) == kMinDialTarget + 1);
    CHECK(dial_target(limit, 60) == 30);
    // Large files: the swarm's limit, whatever it is.
    CHECK(dial_target(limit, 2 * static_cast<std::uint32_t>(limit)) == limit);
    CHECK(dial_target(limit, limits::kMaxChunkCount) == limit);
    CHECK(dial_target(3, 1000) == 3);
    CHECK(dial_target(3, 1) == 3);  // the limit wins over the floor
}

TEST_CASE("dial target: the sizes a channel's files have") {
    const std::size_t limit = SwarmOptions{}.max_connections;
    const auto chunks = [](std::uint64_t bytes) {
        return static_cast<std::uint32_t>(chunk_count_for(bytes, default_chunk_size(bytes)));
    };
    // 4 MiB in 16 chunks of 256 KiB (the channel benchmark's files): 8 peers.
    CHECK(dial_target(limit, chunks(4ull << 20)) == 8);
    // 16 MiB, 64 chunks: 32 peers.
    CHECK(dial_target(limit, chunks(16ull << 20)) == 32);
    // 256 MiB (1024 chunks) and 1 GiB: as before, the swarm's limit.
    CHECK(dial_target(limit, chunks(256ull << 20)) == limit);
    CHECK(dial_target(limit, chunks(1ull << 30)) == limit);
}

}  // namespace dial_target_test
