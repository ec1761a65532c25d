// The scripted attacks of hostile_peer_test.cpp: what a hostile client sends
// a listening peer, what the target must log and how soon it must hang up,
// and the runners that check it. Test-only; included by that test alone.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/model/seed.hpp"
#include "common/wire/peer_protocol.hpp"
#include "test/support/hostile.hpp"

namespace seedshare::test::hostile_attacks {

using namespace std::chrono_literals;
namespace pp = seedshare::peer_proto;

inline bool is_type(const pp::Message& m, std::size_t index) {
    return m.index() == index;
}

// Hello, then the answering Hello and Bitfield, as a well-behaved peer would.
inline net::awaitable<bool> handshake(RawPeer& p, const SeedId& seed) {
    const pp::Message hello = pp::Hello{pp::kVersion, seed, random_user_id(), 0};
    co_await p.send_message(hello);
    const auto answer = co_await p.recv_message(5s);
    const auto bitfield = co_await p.recv_message(5s);
    co_return std::holds_alternative<pp::Hello>(answer) &&
        std::holds_alternative<pp::BitfieldMsg>(bitfield);
}

inline Bytes request_frames(std::uint32_t count, std::uint32_t chunks, std::uint32_t block) {
    Bytes out;
    for (std::uint32_t i = 0; i < count; ++i) {
        const Bytes f = pp::encode(pp::Request{pp::Block{ChunkIndex{i % chunks}, 0, block}});
        out.insert(out.end(), f.begin(), f.end());
    }
    return out;
}

// One attack on a peer that listens: what it sends, which words the target
// must log next to this connection's address, and how soon it must close it.
struct Attack {
    using Script = std::function<net::awaitable<void>(RawPeer&)>;
    Attack(std::string n, Script s, std::string r, std::chrono::milliseconds within = 3000ms,
           std::optional<pp::ErrorCode> error = std::nullopt)
        : name(std::move(n)),
          script(std::move(s)),
          reason(std::move(r)),
          close_within(within),
          error_sent(error) {}
    std::string name;
    Script script;
    std::string reason;
    std::chrono::milliseconds close_within;
    std::optional<pp::ErrorCode> error_sent;  // the Error frame the target answers with
};

inline std::vector<Attack> attacks_on_listener(const Seed& seed) {
    const SeedId id = seed.id();
    const std::uint32_t chunks = seed.chunk_count();
    const auto chunk_bytes = static_cast<std::uint32_t>(seed.chunk_size);
    std::vector<Attack> a;
    a.push_back({"a 4 GiB length prefix instead of Hello",
                 [](RawPeer& p) -> net::awaitable<void> {
                     const Bytes frame = frame_header(0xffffffffu, 0x01);
                     co_await p.send(frame);
                 },
                 "frame of 4294967295 bytes is over the limit"});
    a.push_back({"a truncated Hello, then silence",
                 [](RawPeer& p) -> net::awaitable<void> {
                     Bytes b = frame_header(1 + 56, 0x01);
                     b.insert(b.end(), 10, 0x53);
                     co_await p.send(b);
                 },
                 "timed out"});
    a.push_back({"an unknown message type first",
                 [](RawPeer& p) -> net::awaitable<void> {
                     const Bytes frame = frame_header(1, 0x42);
                     co_await p.send(frame);
                 },
                 "message type 66"});
    a.push_back({"a request before the handshake",
                 [](RawPeer& p) -> net::awaitable<void> {
                     const pp::Message m = pp::Request{pp::Block{ChunkIndex{0}, 0, 1024}};
                     co_await p.send_message(m);
                 },
                 "expected Hello, got message type 4"});
    a.push_back({"a Hello for a seed it does not share",
                 [](RawPeer& p) -> net::awaitable<void> {
                     SeedId other;
                     other.bytes.fill(0xab);
                     const pp::Message m = pp::Hello{pp::kVersion, other, random_user_id(), 0};
                     co_await p.send_message(m);
                 },
                 "does not share seed abab", 3000ms, pp::ErrorCode::kUnknownSeed});
    a.push_back({"a Hello of another protocol version",
                 [id](RawPeer& p) -> net::awaitable<void> {
                     const pp::Message m = pp::Hello{pp::kVersion + 1, id, random_user_id(), 0};
                     co_await p.send_message(m);
                 },
                 "version mismatch", 3000ms, pp::ErrorCode::kVersionMismatch});
    a.push_back({"a 4 GiB length prefix after the handshake",
                 [id](RawPeer& p) -> net::awaitable<void> {
                     const bool shook = co_await handshake(p, id);
                     CHECK(shook);
                     const Bytes frame = frame_header(0xffffffffu, 0x05);
                     co_await p.send(frame);
                 },
                 "frame of 4294967295 bytes is over the limit"});
    a.push_back({"a truncated request after the handshake, then silence",
                 [id](RawPeer& p) -> net::awaitable<void> {
                     const bool shook = co_await handshake(p, id);
                     CHECK(shook);
                     Bytes b = frame_header(1 + 12, 0x04);
                     b.insert(b.end(), 3, 0);
                     co_await p.send(b);
                 },
                 "timed out", 5000ms});
    a.push_back({"an unknown message type after the handshake",
                 [id](RawPeer& p) -> net::awaitable<void> {
                     const bool shook = co_await handshake(p, id);
                     CHECK(shook);
                     const Bytes frame = frame_header(1, 0x42);
                     co_await p.send(frame);
                 },
                 "unknown message type 66", 3000ms, pp::ErrorCode::kProtocol});
    a.push_back({"a request for a chunk past the end",
                 [id, chunks](RawPeer& p) -> net::awaitable<void> {
                     const bool shook = co_await handshake(p, id);
                     CHECK(shook);
                     const pp::Message m = pp::Request{pp::Block{ChunkIndex{chunks}, 0, 1024}};
                     co_await p.send_message(m);
                 },
                 "is past the last chunk", 3000ms, pp::ErrorCode::kProtocol});
    a.push_back(
        {"a request for an offset past the end of a chunk",
         [id, chunk_bytes](RawPeer& p) -> net::awaitable<void> {
             const bool shook = co_await handshake(p, id);
             CHECK(shook);
             const pp::Message m = pp::Request{pp::Block{ChunkIndex{0}, chunk_bytes - 10, 1024}};
             co_await p.send_message(m);
         },
         "is past the end of chunk 0", 3000ms, pp::ErrorCode::kProtocol});
    a.push_back({"a Have past the last chunk",
                 [id, chunks](RawPeer& p) -> net::awaitable<void> {
                     const bool shook = co_await handshake(p, id);
                     CHECK(shook);
                     const pp::Message bf = pp::BitfieldMsg{Bitfield(chunks)};
                     co_await p.send_message(bf);
                     const pp::Message m = pp::Have{ChunkIndex{chunks + 1000}};
                     co_await p.send_message(m);
                 },
                 "past the last", 3000ms, pp::ErrorCode::kProtocol});
    a.push_back({"data that was never requested",
                 [id](RawPeer& p) -> net::awaitable<void> {
                     const bool shook = co_await handshake(p, id);
                     CHECK(shook);
                     Bytes b = pp::encode_piece_header(ChunkIndex{0}, 0, 4096);
                     b.insert(b.end(), 4096, 0x77);
                     co_await p.send(b);
                 },
                 "sent data that was never requested", 3000ms, pp::ErrorCode::kProtocol});
    return a;
}

// A thousand requests for whole 1 MiB blocks, never reading an answer; then
// more, in batches, until the target hangs up (at most 4 million requests).
inline Attack request_flood(const Seed& seed) {
    const SeedId id = seed.id();
    const std::uint32_t chunks = seed.chunk_count();
    const auto chunk_bytes = static_cast<std::uint32_t>(seed.chunk_size);
    return {"a thousand requests without reading the answers",
            [id, chunks, chunk_bytes](RawPeer& p) -> net::awaitable<void> {
                const bool shook = co_await handshake(p, id);
                CHECK(shook);
                const Bytes thousand = request_frames(1000, chunks, chunk_bytes);
                const Bytes batch = request_frames(20000, chunks, chunk_bytes);
                try {
                    co_await p.send(thousand);
                    for (int i = 0; i < 200; ++i)
                        co_await p.send(batch);
                } catch (const std::exception&) {
                    // The target hung up: what we wanted.
                }
            },
            "requests queued without reading the answers", 8000ms};
}

// Runs one attack on a new connection to 127.0.0.1:port and checks the
// outcome; `log` is the target's.
inline net::awaitable<void> run_attack(Attack attack, std::uint16_t port, const LogCapture& log) {
    auto peer = co_await RawPeer::connect(port);
    try {
        co_await attack.script(peer);
    } catch (const std::exception& e) {
        FAIL_CHECK(attack.name << ": the script failed: " << e.what());
    }
    const bool closed = co_await peer.closed(attack.close_within);
    CHECK_MESSAGE(closed, attack.name << ": the connection was not closed within "
                                      << attack.close_within.count() << " ms");
    if (attack.error_sent) {
        CHECK_MESSAGE(peer.error.has_value(), attack.name << ": no Error frame");
        if (peer.error) CHECK(peer.error->code == *attack.error_sent);
    }
    const std::string who = peer.local();
    const std::string reason = attack.reason;
    auto logged = [&] { return log.has_line({who, reason}); };
    const bool found = co_await wait_for(logged, 3000ms);
    CHECK_MESSAGE(found, attack.name << ": no log line with '" << who << "' and '" << reason
                                     << "' in:\n"
                                     << log.text());
}

// Hundreds of connections that never say a word: each is closed after the
// handshake timeout.
inline net::awaitable<void> idle_connections(std::uint16_t port, int count, const LogCapture& log) {
    std::vector<RawPeer> idle;
    for (int i = 0; i < count; ++i)
        idle.push_back(co_await RawPeer::connect(port));
    int closed = 0;
    for (auto& p : idle)
        closed += (co_await p.closed(5000ms)) ? 1 : 0;
    CHECK_MESSAGE(closed == count,
                  closed << " of " << count << " idle connections were closed in time");
    int logged = 0;
    for (auto& p : idle)
        logged += log.has_line({p.local(), "timed out"}) ? 1 : 0;
    CHECK_MESSAGE(logged == count, logged << " of " << count << " idle connections logged");
}

}  // namespace seedshare::test::hostile_attacks
