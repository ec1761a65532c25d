// Helpers of the in-process discovery tests (discovery_swarm_test.cpp,
// discovery_clock_test.cpp): fast swarm options, a tracker address that is
// gone, a file with its seed, a peer keeping its address book.
#pragma once

#include <doctest/doctest.h>
#include <asio.hpp>

#include <string>

#include "peer/library/seed_maker.hpp"
#include "peer/node/node.hpp"
#include "test/support/cluster.hpp"
#include "test/support/temp_dir.hpp"

namespace seedshare::test::discovery {

using namespace std::chrono_literals;

inline SwarmOptions fast_options() {
    SwarmOptions o;
    o.pipeline_max_bytes = 256 * 1024;
    o.pipeline_min_bytes = 64 * 1024;
    o.block_bytes = 32 * 1024;
    o.stall_timeout = 2000ms;
    o.rediscover = 300ms;
    o.connect_timeout = 1000ms;
    o.handshake_timeout = 1000ms;
    return o;
}

// A port on 127.0.0.1 where nothing listens (bound, then closed): a tracker
// that is gone for good.
inline HostPort dead_address(asio::io_context& io) {
    net::tcp::acceptor a(io, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = a.local_endpoint().port();
    a.close();
    return HostPort{"127.0.0.1", port};
}

inline Seed make_file(const TempDir& dir, const std::string& name, std::size_t size,
                      const HostPort& tracker) {
    write_file(dir / name, pattern_bytes(size, size));
    SeedMakerOptions o;
    o.chunk_size = 64 * 1024;
    o.trackers = {tracker};
    auto seed = make_seed(dir / name, o);
    REQUIRE(seed);
    return *seed;
}

// A peer process keeping its address book in `state`.
inline NodeOptions with_state(const TempDir& state) {
    NodeOptions o = node_options(fast_options());
    o.state_dir = state.path();
    return o;
}

}  // namespace seedshare::test::discovery
