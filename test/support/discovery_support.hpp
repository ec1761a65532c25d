// Helpers of the in-process discovery tests (discovery_swarm_test.cpp,
// discovery_clock_test.cpp, dial_plan_swarm_test.cpp): a tracker address
// that is gone, a peer keeping its address book, a serving peer with no
// tracker, a get started from given peers (files and swarm settings:
// seeded_files.hpp).
#pragma once

#include <doctest/doctest.h>
#include <asio.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "peer/library/seed_maker.hpp"
#include "peer/node/node.hpp"
#include "peer/transfer/download.hpp"
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

// `p`'s listening address, at `host`.
inline PeerAddress at(const TestPeer& p, const char* host = "127.0.0.1") {
    return PeerAddress{asio::ip::make_address(host), p.node->port()};
}

// A serving peer (no tracker: it registers nowhere) paced to `rate` bytes/s
// (0: not paced).
struct Server {
    TestPeer peer;
    std::shared_ptr<Swarm> swarm;
    // `spare`: its Hello asks getters to spare its upload, as a channel's
    // publisher's does.
    Server(asio::io_context& io, asio::thread_pool& pool, std::uint64_t rate, std::string host = {},
           bool spare = false)
        : peer(io, pool, Logger("server", LogLevel::kWarn), [rate, &host, spare] {
              NodeOptions o = node_options(fast_swarm());
              o.max_upload_rate = rate;
              o.host = host;
              o.spare_upload = spare;
              return o;
          }()) {}
    std::uint64_t uploaded() const { return peer.node->counters().bytes_up; }
    void share(const Seed& seed, const std::filesystem::path& file) {
        auto t =
            FileTransfer::share(*peer.node, *peer.trackers, {}, seed, open_shared(file), peer.log);
        t->start(false);
        swarm = t->swarm();
        peer.shared.push_back(std::move(t));
    }
};

// A get whose trackers are `trackers` (dead ones) and that starts from `peers`.
struct Get : BackgroundGet {
    Get(asio::io_context& io, asio::thread_pool& pool, const Seed& seed,
        const std::filesystem::path& out, std::vector<HostPort> trackers,
        std::vector<PeerAddress> peers, SwarmOptions o = fast_swarm(),
        std::uint64_t upload_rate = 0)
        : BackgroundGet(io, pool, node_options_for(o, upload_rate),
                        download_options(seed, out, std::move(trackers), std::move(peers))) {}
    static NodeOptions node_options_for(const SwarmOptions& o, std::uint64_t upload_rate) {
        NodeOptions no = node_options(o);
        no.max_upload_rate = upload_rate;
        return no;
    }
    static DownloadOptions download_options(const Seed& seed, const std::filesystem::path& out,
                                            std::vector<HostPort> trackers,
                                            std::vector<PeerAddress> peers) {
        DownloadOptions d;
        d.seed = seed;
        d.out_dir = out;
        d.trackers = std::move(trackers);
        d.peers = std::move(peers);
        return d;
    }
    std::size_t peers_that_sent() const {
        std::size_t n = 0;
        for (const auto& p : download->swarm()->peer_stats())
            n += p.downloaded > 0 ? 1 : 0;
        return n;
    }
};

}  // namespace seedshare::test::discovery
