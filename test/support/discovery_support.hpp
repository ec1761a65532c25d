// Helpers of the in-process discovery tests (discovery_swarm_test.cpp,
// discovery_clock_test.cpp): a tracker address that is gone, a peer keeping
// its address book (files and swarm settings: seeded_files.hpp).
#pragma once

#include <doctest/doctest.h>
#include <asio.hpp>

#include <string>

#include "peer/library/seed_maker.hpp"
#include "peer/node/node.hpp"
#include "test/support/cluster.hpp"
#include "test/support/seeded_files.hpp"
#include "test/support/temp_dir.hpp"

namespace seedshare::test::discovery {

using namespace std::chrono_literals;

// A port on 127.0.0.1 where nothing listens (bound, then closed): a tracker
// that is gone for good.
inline HostPort dead_address(asio::io_context& io) {
    net::tcp::acceptor a(io, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    const auto port = a.local_endpoint().port();
    a.close();
    return HostPort{"127.0.0.1", port};
}

// A peer process keeping its address book in `state`.
inline NodeOptions with_state(const TempDir& state) {
    NodeOptions o = node_options(fast_swarm());
    o.state_dir = state.path();
    return o;
}

}  // namespace seedshare::test::discovery
