// The mesh's record of one connection (private to channel_mesh*.cpp).
#pragma once

#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "peer/channel/channel_mesh.hpp"

namespace seedshare {

// One connection to a peer of the channel.
struct ChannelMesh::Link {
    Link(std::uint64_t k, std::shared_ptr<net::FrameStream> s, asio::any_io_executor ex)
        : key(k), stream(std::move(s)), wake(ex), pace(ex) {}

    std::uint64_t key;
    std::shared_ptr<net::FrameStream> stream;
    UserId user;
    std::optional<PeerAddress> listen;  // where it accepts connections (none: port 0)
    std::deque<Bytes> out;              // small frames to send, in order
    std::deque<VersionRef> requests;    // manifests it asked for, to send in parts
    asio::steady_timer wake;            // cancelled when there is something to send
    // The manifest being received from it, and when its last part came.
    std::optional<VersionRef> receiving;
    std::string buffer;
    std::uint32_t total = 0;
    net::Clock::time_point fetch_started{};
    net::Clock::time_point last_progress{};
    std::size_t peer_lists = 0;      // PeerList messages received
    std::size_t manifests_sent = 0;  // whole manifests sent to it
    // Seeds it asked for, answered in order by the write loop
    // (channel_mesh_seeds.cpp), and the seed being received from it.
    std::deque<SeedId> seed_asks;
    std::optional<SeedId> seed_in;
    std::string seed_buffer;
    std::uint32_t seed_total = 0;
    // The same for small files (channel_mesh_files.cpp).
    std::deque<SeedId> file_asks;
    std::optional<SeedId> file_in;
    Bytes file_buffer;
    std::uint32_t file_total = 0;
    // FileRequests sent to it not answered yet, those of a fetch given up
    // included (the peer still answers them): no more are sent while it has
    // ChannelMeshOptions::seed_requests_per_link, so a slow peer's backlog
    // stays bounded across fetches.
    std::size_t files_asked = 0;
    asio::steady_timer pace;  // a served file's wait for the upload limit (cancelled on drop)
    bool closing = false;     // goodbye queued: close once `out` is sent
    bool gone = false;        // dropped: both coroutines end
};

}  // namespace seedshare
