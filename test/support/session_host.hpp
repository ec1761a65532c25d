// PeerSession's tests: the swarm side it sees (Host: the real picker, spread
// tracker and buffer pool), one session with the time in hand (Fixture), and
// its queued frames decoded. Shared by test/peer_session_test.cpp (fetching,
// the protocol's rules) and test/peer_session_serving_test.cpp (serving,
// rationing).
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/limits.hpp"
#include "common/wire/frame.hpp"
#include "peer/swarm/peer_session.hpp"
#include "test/support/bits.hpp"

namespace seedshare::test::session {

inline constexpr std::uint32_t kChunk = 64u << 10;
inline constexpr std::uint32_t kBlock = 16u << 10;

inline Seed seed_of(std::uint32_t chunks) {
    Seed s;
    s.name = "f";
    s.chunk_size = kChunk;
    s.length = std::uint64_t{chunks} * kChunk;
    s.chunk_hashes.resize(chunks);
    return s;
}

// The frames a session queued since the last call, decoded.
inline std::vector<peer_proto::Message> frames_of(PeerSession& session) {
    const Bytes bytes = session.take_frames();
    std::vector<peer_proto::Message> out;
    std::size_t at = 0;
    while (at < bytes.size()) {
        REQUIRE(bytes.size() - at >= limits::kFrameHeaderBytes);
        const auto h =
            decode_frame_header(ByteSpan(bytes.data() + at, limits::kFrameHeaderBytes), 1u << 24);
        REQUIRE(h);
        at += limits::kFrameHeaderBytes;
        REQUIRE(bytes.size() - at >= h->payload_size());
        auto m = peer_proto::decode(h->type, ByteSpan(bytes.data() + at, h->payload_size()));
        REQUIRE(m);
        out.push_back(*m);
        at += h->payload_size();
    }
    return out;
}

// The swarm's side, with the real picker, spread tracker and buffer pool.
struct Host final : SessionHost {
    explicit Host(const std::string& have, std::size_t buffers = 16)
        : seed_(seed_of(static_cast<std::uint32_t>(have.size()))),
          picker_(bits(have), 1),
          spread_(static_cast<std::uint32_t>(have.size())),
          buffers_(BufferPool::create(buffers * kChunk, kChunk)) {
        options_.block_bytes = kBlock;
        options_.pipeline_min_bytes = kBlock;
        options_.pipeline_max_bytes = 4 * kBlock;
    }
    const Seed& seed() const override { return seed_; }
    const SwarmOptions& options() const override { return options_; }
    const Bitfield& have() const override { return picker_.have(); }
    bool holds(ChunkIndex c) const override { return picker_.have().test(c); }
    bool downloading() const override { return !picker_.complete(); }
    Picker& picker() override { return picker_; }
    std::size_t pick_window() const override { return 1; }
    BufferPool& fetch_buffers() override { return *buffers_; }
    SpreadTracker& spread() override { return spread_; }
    bool may_request_more() const override { return budget_left; }
    bool turn_to_backups() override { return turn_to_backup; }
    bool rationing_uploads() const override { return rationing; }
    bool may_queue_upload(std::chrono::steady_clock::time_point) override { return upload_room; }

    Seed seed_;
    SwarmOptions options_;
    Picker picker_;
    SpreadTracker spread_;
    std::shared_ptr<BufferPool> buffers_;
    bool budget_left = true;
    bool upload_room = true;
    bool turn_to_backup = false;
    bool rationing = false;
};

struct Fixture {
    explicit Fixture(const std::string& have, std::size_t buffers = 16)
        : host(have, buffers), session(host, now, [this] { ++wakes; }) {}

    PeerSession::Events get(peer_proto::Message m) { return session.handle(m, now); }

    // The frames queued since the last call, decoded.
    std::vector<peer_proto::Message> sent() { return frames_of(session); }

    template <class T>
    std::vector<T> sent_of() {
        std::vector<T> out;
        for (auto& m : sent())
            if (auto* t = std::get_if<T>(&m)) out.push_back(*t);
        return out;
    }

    // The remote's bitfield arrives and it joins.
    void remote_holds(const std::string& picture, bool spared = false) {
        auto ev = get(peer_proto::BitfieldMsg{bits(picture)});
        REQUIRE_FALSE(ev.violation);
        REQUIRE(ev.bitfield);
        session.join(spared);
    }

    // The remote sends block b whole; returns the chunk if it completed one.
    std::optional<PeerSession::Completed> deliver(const peer_proto::Block& b) {
        auto target = session.begin_piece(b);
        REQUIRE(target);
        REQUIRE_FALSE(target->skip);
        REQUIRE(target->into.size() == b.length);
        return session.end_piece(b, now);
    }

    PeerSession::TimePoint now = std::chrono::steady_clock::time_point(std::chrono::hours(1));
    Host host;
    int wakes = 0;
    PeerSession session;
};

}  // namespace seedshare::test::session
