// Fixtures of the tracker codec tests (tracker_protocol_test.cpp and
// tracker_channel_codec_test.cpp): ids, frame splitting, round trips, error
// texts, sample messages and hand-built payloads.
#pragma once

#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/core/limits.hpp"
#include "common/wire/frame.hpp"
#include "common/wire/tracker_protocol.hpp"

namespace seedshare::test::tracker_codec {

using namespace seedshare::tracker_proto;

template <std::size_t N, class Tag>
FixedId<N, Tag> make_id(std::uint8_t seed) {
    FixedId<N, Tag> id;
    for (std::size_t i = 0; i < N; ++i)
        id.bytes[i] = static_cast<std::uint8_t>(seed * 31 + i);
    return id;
}
inline SeedId sid(std::uint8_t n) {
    return make_id<32, SeedIdTag>(n);
}
inline UserId uid(std::uint8_t n) {
    return make_id<16, UserIdTag>(n);
}
inline Token tok(std::uint8_t n) {
    return make_id<16, TokenTag>(n);
}
inline ChannelId cid(std::uint8_t n) {
    return make_id<32, ChannelIdTag>(n);
}

struct Frame {
    std::uint8_t type;
    Bytes payload;
};

inline Frame split(const Bytes& frame) {
    auto h = decode_frame_header(ByteSpan(frame.data(), limits::kFrameHeaderBytes),
                                 limits::kMaxTrackerFrameBytes);
    REQUIRE(h);
    REQUIRE(h->length == frame.size() - 4);
    return Frame{h->type, Bytes(frame.begin() + limits::kFrameHeaderBytes, frame.end())};
}

template <class M>
M request_round_trip(const M& m) {
    const Frame f = split(encode(Request{m}));
    CHECK(f.payload.size() <= max_request_payload(f.type));
    auto r = decode_request(f.type, f.payload);
    REQUIRE_MESSAGE(r.ok(), (r ? "" : r.error().message));
    REQUIRE(std::holds_alternative<M>(*r));
    return std::get<M>(*r);
}

template <class M>
M response_round_trip(const M& m) {
    const Frame f = split(encode(Response{m}));
    auto r = decode_response(f.type, f.payload);
    REQUIRE_MESSAGE(r.ok(), (r ? "" : r.error().message));
    REQUIRE(std::holds_alternative<M>(*r));
    return std::get<M>(*r);
}

// A listing request's payload (ListFiles, ListChannels): token, from_start,
// the 32-byte id to start after, limit. (Written directly: GCC 12 warns
// falsely (-Wstringop-overflow) on a Payload chain.)
inline Bytes list_payload(std::uint8_t from_start, ByteSpan after, std::uint16_t limit) {
    Bytes b;
    b.reserve(16 + 1 + 32 + 2);
    ByteWriter w(b);
    w.raw(tok(1).span());
    w.u8(from_start);
    w.raw(after);
    w.u16(limit);
    return b;
}

inline std::string request_error(std::uint8_t type, const Bytes& payload) {
    auto r = decode_request(type, payload);
    REQUIRE_FALSE(r);
    return r.error().message;
}

inline std::string response_error(std::uint8_t type, const Bytes& payload) {
    auto r = decode_response(type, payload);
    REQUIRE_FALSE(r);
    return r.error().message;
}

inline bool has(const std::string& s, std::string_view needle) {
    return s.find(needle) != std::string::npos;
}

inline FileList sample_file_list() {
    FileList m;
    m.token = tok(1);
    m.add = {FileEntry{sid(1), "a.bin", 12345, true}, FileEntry{sid(2), "ü ñ.txt", 0, false}};
    m.remove = {sid(3)};
    return m;
}

inline std::vector<Request> sample_requests() {
    return {Join{kVersion, uid(1), tok(2), 4000},
            Join{kVersion, uid(1), tok(2), 4000, true},
            Join{kVersion, uid(1), tok(2), 4000, false, true},
            Join{kVersion, uid(1), tok(2), 4000, true, true},
            Join{kVersion, uid(1), tok(2), 4000, true, false, true},
            Heartbeat{tok(3)},
            sample_file_list(),
            PutSeed{tok(4), "seedshare-seed 1\n"},
            GetPeers{tok(5), sid(6), 50},
            ListFiles{tok(7), false, sid(8), 1000},
            GetSeed{tok(9), sid(10)},
            Leave{tok(11)},
            PutManifest{tok(12), "seedshare-manifest 1\n"},
            GetManifest{tok(13), cid(1)},
            FollowChannels{tok(14), false, {{cid(2), 7}, {cid(3), 0}}, {cid(4)}},
            GetChannelPeers{tok(15), cid(5), 200},
            ListChannels{tok(16), false, cid(6), 1000}};
}

inline std::vector<Response> sample_responses() {
    return {Joined{tok(1), 30000, 90000, asio::ip::make_address("192.0.2.7"), {}},
            Joined{tok(1),
                   30000,
                   90000,
                   asio::ip::make_address("192.0.2.7"),
                   {HostPort{"127.0.0.1", 7000}, HostPort{"tracker-b.example", 7001}}},
            OkReply{},
            FileListOk{{sid(1), sid(2)}},
            Peers{sid(3),
                  {PeerEntry{asio::ip::make_address("10.1.2.3"), 4000, uid(4), true},
                   PeerEntry{asio::ip::make_address("2001:db8::1"), 65535, uid(5), false},
                   PeerEntry{asio::ip::make_address("10.1.2.4"), 4001, uid(6), true, true}}},
            Files{{FileInfo{sid(1), "x", 1, 2, 1}, FileInfo{sid(2), "y", 5, 0, 0}}, true},
            SeedText{sid(6), "text\n"},
            ErrorReply{ErrorCode::kBadToken, "no"},
            ManifestText{cid(1), "manifest\n"},
            ChannelPeers{cid(2),
                         {ChannelPeerEntry{asio::ip::make_address("10.1.2.3"), 4000, uid(4), 9},
                          ChannelPeerEntry{asio::ip::make_address("2001:db8::1"), 1, uid(5),
                                           ~std::uint64_t{0}}}},
            Channels{
                {ChannelInfo{cid(1), "site", 3, 2, 12345, 4}, ChannelInfo{cid(7), "ü", 1, 0, 0, 0}},
                true}};
}

// A payload written by hand, for the rejections.
struct Payload {
    Bytes bytes;
    template <std::size_t N, class Tag>
    Payload& id(const FixedId<N, Tag>& i) {
        bytes.insert(bytes.end(), i.bytes.begin(), i.bytes.end());
        return *this;
    }
    Payload& u8(std::uint8_t v) { return ByteWriter(bytes).u8(v), *this; }
    Payload& u16(std::uint16_t v) { return ByteWriter(bytes).u16(v), *this; }
    Payload& u32(std::uint32_t v) { return ByteWriter(bytes).u32(v), *this; }
    Payload& u64(std::uint64_t v) { return ByteWriter(bytes).u64(v), *this; }
    Payload& str16(std::string_view s) { return ByteWriter(bytes).str16(s), *this; }
};

inline constexpr auto kT = [](Type t) { return static_cast<std::uint8_t>(t); };

// A FileList payload with the given add entries (name, length, complete byte).
inline Bytes file_list_payload(std::uint8_t flags,
                               const std::vector<std::pair<SeedId, std::string>>& add,
                               const std::vector<SeedId>& remove, std::uint8_t complete = 1,
                               std::uint64_t length = 10) {
    Payload p;
    p.id(tok(1)).u8(flags).u32(static_cast<std::uint32_t>(add.size()));
    for (const auto& [id, name] : add)
        p.id(id).str16(name).u64(length).u8(complete);
    p.u32(static_cast<std::uint32_t>(remove.size()));
    for (const auto& id : remove)
        p.id(id);
    return p.bytes;
}

}  // namespace seedshare::test::tracker_codec
