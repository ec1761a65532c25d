// The tracker protocol codec: every message round trips, and every malformed
// payload is refused with a reason (never a throw, never an allocation sized
// by an unchecked length).
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

#include "common/core/limits.hpp"
#include "common/wire/frame.hpp"
#include "common/wire/tracker_protocol.hpp"

using namespace seedshare;
using namespace seedshare::tracker_proto;

namespace {

template <std::size_t N, class Tag>
FixedId<N, Tag> make_id(std::uint8_t seed) {
    FixedId<N, Tag> id;
    for (std::size_t i = 0; i < N; ++i)
        id.bytes[i] = static_cast<std::uint8_t>(seed * 31 + i);
    return id;
}
SeedId sid(std::uint8_t n) {
    return make_id<32, SeedIdTag>(n);
}
UserId uid(std::uint8_t n) {
    return make_id<16, UserIdTag>(n);
}
Token tok(std::uint8_t n) {
    return make_id<16, TokenTag>(n);
}
ChannelId cid(std::uint8_t n) {
    return make_id<32, ChannelIdTag>(n);
}

struct Frame {
    std::uint8_t type;
    Bytes payload;
};

Frame split(const Bytes& frame) {
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

std::string request_error(std::uint8_t type, const Bytes& payload) {
    auto r = decode_request(type, payload);
    REQUIRE_FALSE(r);
    return r.error().message;
}

std::string response_error(std::uint8_t type, const Bytes& payload) {
    auto r = decode_response(type, payload);
    REQUIRE_FALSE(r);
    return r.error().message;
}

bool has(const std::string& s, std::string_view needle) {
    return s.find(needle) != std::string::npos;
}

FileList sample_file_list() {
    FileList m;
    m.token = tok(1);
    m.add = {FileEntry{sid(1), "a.bin", 12345, true}, FileEntry{sid(2), "ü ñ.txt", 0, false}};
    m.remove = {sid(3)};
    return m;
}

std::vector<Request> sample_requests() {
    return {Join{kVersion, uid(1), tok(2), 4000},
            Join{kVersion, uid(1), tok(2), 4000, true},
            Join{kVersion, uid(1), tok(2), 4000, false, true},
            Join{kVersion, uid(1), tok(2), 4000, true, true},
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

std::vector<Response> sample_responses() {
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
                   PeerEntry{asio::ip::make_address("2001:db8::1"), 65535, uid(5), false}}},
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

constexpr auto kT = [](Type t) { return static_cast<std::uint8_t>(t); };

// A FileList payload with the given add entries (name, length, complete byte).
Bytes file_list_payload(std::uint8_t flags, const std::vector<std::pair<SeedId, std::string>>& add,
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

}  // namespace

TEST_CASE("tracker codec: every request round trips") {
    CHECK(request_round_trip(Join{kVersion, uid(1), tok(2), 4000}) ==
          Join{kVersion, uid(1), tok(2), 4000});
    CHECK(request_round_trip(Join{kVersion, uid(1), Token{}, 0}).token.is_zero());
    CHECK(request_round_trip(Heartbeat{tok(3)}) == Heartbeat{tok(3)});
    CHECK(request_round_trip(sample_file_list()) == sample_file_list());
    FileList full;
    full.token = tok(1);
    full.replace_all = true;
    full.add = {FileEntry{sid(1), "n", 1, false}};
    CHECK(request_round_trip(full) == full);
    FileList empty;
    empty.replace_all = true;
    CHECK(request_round_trip(empty) == empty);
    CHECK(request_round_trip(PutSeed{tok(4), std::string(100000, 'x')}) ==
          PutSeed{tok(4), std::string(100000, 'x')});
    CHECK(request_round_trip(GetPeers{tok(5), sid(6), 1}) == GetPeers{tok(5), sid(6), 1});
    CHECK(request_round_trip(GetPeers{tok(5), sid(6), 200}).numwant == 200);
    CHECK(request_round_trip(ListFiles{tok(7), true, SeedId{}, 1}) ==
          ListFiles{tok(7), true, SeedId{}, 1});
    CHECK(request_round_trip(ListFiles{tok(7), false, sid(8), 1000}) ==
          ListFiles{tok(7), false, sid(8), 1000});
    CHECK(request_round_trip(GetSeed{tok(9), sid(10)}) == GetSeed{tok(9), sid(10)});
    CHECK(request_round_trip(Leave{tok(11)}) == Leave{tok(11)});
}

TEST_CASE("tracker codec: every response round trips") {
    for (const auto& r : sample_responses()) {
        const Frame f = split(encode(r));
        auto d = decode_response(f.type, f.payload);
        REQUIRE_MESSAGE(d.ok(), (d ? "" : d.error().message));
        CHECK(*d == r);
    }
    CHECK(response_round_trip(Peers{sid(1), {}}) == Peers{sid(1), {}});
    CHECK(response_round_trip(Files{}) == Files{});
    CHECK(response_round_trip(FileListOk{}) == FileListOk{});
    for (int c = 1; c <= 10; ++c) {
        const ErrorReply e{static_cast<ErrorCode>(c), "why"};
        CHECK(response_round_trip(e) == e);
    }
}

TEST_CASE("tracker codec: the frame header carries the type and length") {
    const Bytes f = encode(Request{Heartbeat{tok(1)}});
    REQUIRE(f.size() == 5 + 16);
    CHECK(f[0] == 0);
    CHECK(f[3] == 17);  // type byte + 16-byte token, big-endian
    CHECK(f[4] == 0x02);
    const Bytes j = encode(Request{Join{kVersion, uid(1), tok(2), 0x1234}});
    CHECK(j[5] == 0x53);  // magic "SSTK" first
    CHECK(j[8] == 0x4b);
    CHECK(j[9] == 0);
    CHECK(j[10] == kVersion);
    CHECK(j[j.size() - 2] == 0x12);  // port last, big-endian
    CHECK(j[j.size() - 1] == 0x34);
}

TEST_CASE("tracker codec: a Join's flags byte carries only the flags this version knows") {
    const Frame f = split(encode(Request{Join{kVersion, uid(1), tok(2), 4000, false, true}}));
    REQUIRE(f.payload.back() == kJoinBackup);
    const auto d = decode_request(f.type, f.payload);
    REQUIRE(d);
    CHECK(std::get<Join>(*d).backup);
    CHECK_FALSE(std::get<Join>(*d).wants_cluster);
    for (const std::uint8_t bad : {0x04, 0x80, 0x07, 0xff}) {
        Bytes p = f.payload;
        p.back() = bad;
        const auto refused = decode_request(f.type, p);
        REQUIRE_FALSE(refused);
        CHECK(has(refused.error().message, fmt::format("flags 0x{:02x}", bad)));
    }
}

TEST_CASE("tracker codec: every strict prefix and every extra byte is refused") {
    for (const auto& r : sample_requests()) {
        const Frame f = split(encode(r));
        for (std::size_t n = 0; n < f.payload.size(); ++n) {
            const Bytes cut(f.payload.begin(), f.payload.begin() + static_cast<std::ptrdiff_t>(n));
            CAPTURE(type_name(f.type));
            CAPTURE(n);
            // A Join cut before its optional flags is the Join without them.
            const auto* join = std::get_if<Join>(&r);
            if (join != nullptr && (join->wants_cluster || join->backup) &&
                n + 1 == f.payload.size()) {
                Join plain = *join;
                plain.wants_cluster = false;
                plain.backup = false;
                const auto got = decode_request(f.type, cut);
                REQUIRE(got);
                CHECK(*got == Request{plain});
                continue;
            }
            CHECK_FALSE(decode_request(f.type, cut));
        }
        Bytes longer = f.payload;
        longer.push_back(0);
        auto d = decode_request(f.type, longer);
        REQUIRE_FALSE(d);
        const auto* join = std::get_if<Join>(&r);
        CHECK(has(d.error().message, join != nullptr && !join->wants_cluster && !join->backup
                                         ? "flags 0x00"
                                         : "unexpected bytes"));
    }
    for (const auto& r : sample_responses()) {
        const Frame f = split(encode(r));
        for (std::size_t n = 0; n < f.payload.size(); ++n) {
            const Bytes cut(f.payload.begin(), f.payload.begin() + static_cast<std::ptrdiff_t>(n));
            CAPTURE(type_name(f.type));
            CAPTURE(n);
            // A Joined cut before its optional tracker list is the Joined without it.
            const auto* joined = std::get_if<Joined>(&r);
            if (joined != nullptr && !joined->trackers.empty()) {
                Joined plain = *joined;
                plain.trackers.clear();
                if (n == split(encode(Response{plain})).payload.size()) {
                    const auto got = decode_response(f.type, cut);
                    REQUIRE(got);
                    CHECK(*got == Response{plain});
                    continue;
                }
            }
            CHECK_FALSE(decode_response(f.type, cut));
        }
        Bytes longer = f.payload;
        longer.push_back(0);
        CHECK_FALSE(decode_response(f.type, longer));
    }
}

TEST_CASE("tracker codec: unknown types are refused") {
    CHECK(has(request_error(0x42, {}), "unknown request type 0x42"));
    CHECK(has(request_error(kT(Type::kJoined), {}), "unknown request type Joined"));
    CHECK(has(response_error(kT(Type::kJoin), {}), "unknown response type Join"));
    CHECK(has(response_error(0x00, {}), "unknown response type"));
    CHECK(max_request_payload(0x42) == 0);
    CHECK(max_request_payload(kT(Type::kOk)) == 0);
    CHECK(max_request_payload(kT(Type::kHeartbeat)) == 16);
}

TEST_CASE("tracker codec: one header check against the message table") {
    CHECK(check_request_header(FrameHeader{1 + 16, kT(Type::kHeartbeat)}));
    CHECK(check_request_header(FrameHeader{1 + 100000, kT(Type::kHeartbeat)}).error().message ==
          "Heartbeat of 100000 bytes is over its limit of 16");
    CHECK(check_request_header(FrameHeader{1, 0x42}).error().message ==
          "unknown request type 0x42");
    CHECK(check_request_header(FrameHeader{1, kT(Type::kJoined)}).error().message ==
          "unknown request type Joined");
    CHECK(max_request_payload(kT(Type::kJoin)) == limits::kMaxTrackerJoinBytes);
    CHECK(type_name(kT(Type::kFileListOk)) == "FileListOk");
}

TEST_CASE("tracker codec: Join checks magic and userid, and keeps another version apart") {
    const auto join = [](std::uint32_t magic, std::uint16_t version, const UserId& u) {
        return Payload{}.u32(magic).u16(version).id(u).id(tok(1)).u16(7).bytes;
    };
    CHECK(has(request_error(kT(Type::kJoin), join(0x12345678, kVersion, uid(1))), "magic"));
    CHECK(has(request_error(kT(Type::kJoin), join(kMagic, kVersion, UserId{})), "all zero"));
    // Another version: only the version is decoded, whatever follows.
    auto other = decode_request(kT(Type::kJoin), Payload{}.u32(kMagic).u16(7).u8(1).u8(2).bytes);
    REQUIRE(other);
    REQUIRE(std::holds_alternative<Join>(*other));
    CHECK(std::get<Join>(*other).version == 7);
    CHECK(std::get<Join>(*other).user.is_zero());
    auto v0 = decode_request(kT(Type::kJoin), Payload{}.u32(kMagic).u16(0).bytes);
    REQUIRE(v0);
    CHECK(std::get<Join>(*v0).version == 0);
    // A Join encoded with another version decodes to that version.
    const Frame f = split(encode(Request{Join{99, uid(1), tok(1), 1}}));
    CHECK(std::get<Join>(*decode_request(f.type, f.payload)).version == 99);
    // Too short to hold even the version.
    CHECK_FALSE(decode_request(kT(Type::kJoin), Payload{}.u32(kMagic).u8(0).bytes));
}

TEST_CASE("tracker codec: FileList rejections") {
    const auto t = kT(Type::kFileList);
    CHECK(has(request_error(t, file_list_payload(2, {}, {})), "unknown flags 0x02"));
    CHECK(has(request_error(t, file_list_payload(1, {{sid(1), "a"}}, {sid(2)})),
              "cannot also remove"));
    CHECK(has(request_error(t, file_list_payload(0, {{sid(1), "a"}, {sid(1), "b"}}, {})),
              "appears twice"));
    CHECK(has(request_error(t, file_list_payload(0, {{sid(1), "a"}}, {sid(1)})), "appears twice"));
    CHECK(has(request_error(t, file_list_payload(0, {{sid(1), "a/b"}}, {})), "path separator"));
    CHECK(has(request_error(t, file_list_payload(0, {{sid(1), ".."}}, {})), "not a file name"));
    CHECK(has(request_error(t, file_list_payload(0, {{sid(1), ""}}, {})), "empty"));
    CHECK(has(request_error(t, file_list_payload(0, {{sid(1), "a\nb"}}, {})), "control"));
    CHECK(has(request_error(t, file_list_payload(0, {{sid(1), "\xff"}}, {})), "UTF-8"));
    CHECK(has(request_error(t, file_list_payload(0, {{sid(1), std::string(256, 'n')}}, {})),
              "over the limit of 255"));
    CHECK(has(request_error(t, file_list_payload(0, {{sid(1), "a"}}, {}, 2)), "expected 0 or 1"));
    CHECK(has(request_error(t, file_list_payload(0, {{sid(1), "a"}}, {}, 1, 1ull << 60)),
              "largest file"));
    // Counts over the limit, or larger than the bytes present, are refused
    // before anything is reserved.
    CHECK(has(request_error(t, Payload{}.id(tok(1)).u8(0).u32(10001).bytes), "over the limit"));
    CHECK(
        has(request_error(t, Payload{}.id(tok(1)).u8(0).u32(0xffffffff).bytes), "over the limit"));
    CHECK(has(request_error(t, Payload{}.id(tok(1)).u8(0).u32(5000).bytes), "do not fit"));
    CHECK(has(request_error(t, Payload{}.id(tok(1)).u8(0).u32(0).u32(10001).bytes),
              "over the limit"));
    // add + remove together over the per-message limit.
    std::vector<std::pair<SeedId, std::string>> add;
    std::vector<SeedId> remove;
    for (std::uint32_t i = 0; i < 6000; ++i) {
        SeedId a;
        a.bytes[0] = 1;
        a.bytes[1] = static_cast<std::uint8_t>(i >> 8);
        a.bytes[2] = static_cast<std::uint8_t>(i);
        add.emplace_back(a, "f");
        SeedId r = a;
        r.bytes[0] = 2;
        remove.push_back(r);
    }
    CHECK(has(request_error(t, file_list_payload(0, add, remove)), "over the limit"));
}

TEST_CASE("tracker codec: the largest FileList fits its payload and frame limits") {
    FileList m;
    m.replace_all = true;
    for (std::uint32_t i = 0; i < limits::kMaxFileListEntries; ++i) {
        SeedId id;
        id.bytes[0] = static_cast<std::uint8_t>(i >> 16);
        id.bytes[1] = static_cast<std::uint8_t>(i >> 8);
        id.bytes[2] = static_cast<std::uint8_t>(i);
        m.add.push_back(FileEntry{id, std::string(limits::kMaxNameBytes, 'n'), 1, true});
    }
    const Bytes frame = encode(Request{m});
    CHECK(frame.size() <= limits::kMaxTrackerFrameBytes);
    CHECK(frame.size() - 5 == max_request_payload(kT(Type::kFileList)));
    CHECK(request_round_trip(m) == m);
}

TEST_CASE("tracker codec: numeric ranges and other rejections") {
    const auto get_peers = [](std::uint16_t n) {
        return Payload{}.id(tok(1)).id(sid(1)).u16(n).bytes;
    };
    CHECK(
        has(request_error(kT(Type::kGetPeers), get_peers(0)), "numwant 0 is out of range 1..200"));
    CHECK(has(request_error(kT(Type::kGetPeers), get_peers(201)), "numwant 201"));
    // (Written directly: GCC 12 warns falsely (-Wstringop-overflow) on the chain.)
    const auto list = [](std::uint8_t from_start, std::uint16_t limit) {
        Bytes b;
        b.reserve(16 + 1 + 32 + 2);
        ByteWriter w(b);
        w.raw(tok(1).span());
        w.u8(from_start);
        w.raw(sid(1).span());
        w.u16(limit);
        return b;
    };
    CHECK(has(request_error(kT(Type::kListFiles), list(1, 0)), "limit 0"));
    CHECK(has(request_error(kT(Type::kListFiles), list(1, 1001)), "limit 1001"));
    CHECK(has(request_error(kT(Type::kListFiles), list(2, 10)), "from_start is 2"));
    // A seed text longer than the limit is refused from its length alone.
    CHECK(has(request_error(kT(Type::kPutSeed), Payload{}.id(tok(1)).u32(0xffffffff).bytes),
              "over the limit"));
    CHECK(has(request_error(kT(Type::kPutSeed),
                            Payload{}.id(tok(1)).u32(limits::kMaxSeedBytes + 1).bytes),
              "over the limit"));
}

TEST_CASE("tracker codec: response rejections") {
    const auto joined = [](std::uint32_t hb, std::uint32_t ttl, std::uint8_t family) {
        return Payload{}.id(tok(1)).u32(hb).u32(ttl).u8(family).u32(0x7f000001).bytes;
    };
    const auto t = kT(Type::kJoined);
    CHECK(decode_response(t, joined(1, 3, 4)));
    CHECK(has(response_error(t, joined(1, 3, 5)), "address family 5"));
    CHECK(has(response_error(t, joined(0, 3, 4)), "heartbeat"));
    CHECK(has(response_error(t, joined(4, 3, 4)), "heartbeat"));
    CHECK(has(response_error(t, joined(1, 0, 4)), "heartbeat"));
    // The cluster's trackers: a trailing list, never empty, bounded, no port 0.
    const auto with_trackers = [&](std::uint16_t n, std::uint16_t port) {
        Payload p;
        p.bytes = joined(1, 3, 4);
        p.u16(n);
        for (std::uint16_t i = 0; i < n; ++i)
            p.u16(1).u8('h').u16(port);
        return p.bytes;
    };
    CHECK(decode_response(t, with_trackers(2, 7000)));
    CHECK(has(response_error(t, with_trackers(0, 7000)), "empty tracker list"));
    CHECK(has(response_error(t, with_trackers(1, 0)), "port 0"));
    CHECK(has(response_error(t, with_trackers(33, 7000)), "over the limit of 32"));

    const auto peers = [](std::uint16_t count, std::uint16_t port, std::uint8_t complete) {
        Payload p;
        p.id(sid(1)).u16(count);
        for (std::uint16_t i = 0; i < count; ++i)
            p.u8(4).u32(0x0a000001).u16(port).id(uid(1)).u8(complete);
        return p.bytes;
    };
    CHECK(decode_response(kT(Type::kPeers), peers(200, 1, 0)));
    CHECK(has(response_error(kT(Type::kPeers), peers(201, 1, 0)), "over the limit of 200"));
    CHECK(has(response_error(kT(Type::kPeers), peers(1, 0, 0)), "port 0"));
    CHECK(has(response_error(kT(Type::kPeers), peers(1, 1, 3)), "expected 0 or 1"));

    const auto files = [](std::vector<std::pair<SeedId, std::string>> list, std::uint32_t holders,
                          std::uint32_t complete) {
        Payload p;
        p.u8(0).u16(static_cast<std::uint16_t>(list.size()));
        for (const auto& [id, name] : list)
            p.id(id).str16(name).u64(1).u32(holders).u32(complete);
        return p.bytes;
    };
    CHECK(decode_response(kT(Type::kFiles), files({{sid(1), "a"}}, 2, 2)));
    CHECK(has(response_error(kT(Type::kFiles), files({{sid(1), "a"}}, 1, 2)), "complete holders"));
    CHECK(has(response_error(kT(Type::kFiles), files({{sid(1), "../x"}}, 1, 1)), "separator"));
    SeedId lo, hi;
    lo.bytes[0] = 1;
    hi.bytes[0] = 2;
    CHECK(has(response_error(kT(Type::kFiles), files({{hi, "a"}, {lo, "b"}}, 0, 0)), "order"));
    CHECK(has(response_error(kT(Type::kFiles), Payload{}.u8(0).u16(1001).bytes), "over the limit"));

    CHECK(has(response_error(kT(Type::kError), Payload{}.u16(0).str16("x").bytes),
              "unknown error code 0"));
    CHECK(decode_response(kT(Type::kError), Payload{}.u16(14).str16("x").bytes));
    CHECK(has(response_error(kT(Type::kError), Payload{}.u16(15).str16("x").bytes),
              "unknown error code 15"));
    CHECK(
        has(response_error(kT(Type::kError), Payload{}.u16(2).u16(1025).bytes), "over the limit"));
    CHECK(has(response_error(kT(Type::kFileListOk), Payload{}.u32(10001).bytes), "over the limit"));
    CHECK(has(response_error(kT(Type::kSeedText),
                             Payload{}.id(sid(1)).u32(limits::kMaxSeedBytes + 1).bytes),
              "over the limit"));
    CHECK(has(response_error(kT(Type::kOk), Payload{}.u8(0).bytes), "unexpected bytes"));
}

TEST_CASE("tracker codec: a long error message is cut to its limit when encoded") {
    const ErrorReply e{ErrorCode::kInternal, std::string(5000, 'e')};
    const auto d = response_round_trip(e);
    CHECK(d.message.size() == limits::kMaxMessageTextBytes);
}

TEST_CASE("tracker codec: which errors end the connection") {
    CHECK(ends_connection(ErrorCode::kVersionMismatch));
    CHECK(ends_connection(ErrorCode::kMalformed));
    CHECK(ends_connection(ErrorCode::kJoinFirst));
    CHECK(ends_connection(ErrorCode::kBadToken));
    CHECK(ends_connection(ErrorCode::kUserIdInUse));
    CHECK(ends_connection(ErrorCode::kUnknownPeer));
    CHECK_FALSE(ends_connection(ErrorCode::kUnknownSeed));
    CHECK_FALSE(ends_connection(ErrorCode::kSeedMismatch));
    CHECK_FALSE(ends_connection(ErrorCode::kLimit));
    CHECK_FALSE(ends_connection(ErrorCode::kInternal));
    CHECK_FALSE(ends_connection(ErrorCode::kUnknownChannel));
    CHECK_FALSE(ends_connection(ErrorCode::kManifestRefused));
    CHECK_FALSE(ends_connection(ErrorCode::kManifestStale));
    CHECK_FALSE(ends_connection(ErrorCode::kManifestConflict));
    CHECK(error_code_name(ErrorCode::kUserIdInUse) == "UserIdInUse");
    CHECK(error_code_name(ErrorCode::kManifestConflict) == "ManifestConflict");
}

namespace {
// A FollowChannels payload: flags, (channel, version) added, channels removed.
Bytes follow_payload(std::uint8_t flags, const std::vector<ChannelId>& add,
                     const std::vector<ChannelId>& remove) {
    Payload p;
    p.id(tok(1)).u8(flags).u32(static_cast<std::uint32_t>(add.size()));
    for (const auto& c : add)
        p.id(c).u64(1);
    p.u32(static_cast<std::uint32_t>(remove.size()));
    for (const auto& c : remove)
        p.id(c);
    return p.bytes;
}
}  // namespace

TEST_CASE("tracker codec: channel request rejections") {
    const auto t = kT(Type::kFollowChannels);
    CHECK(decode_request(t, follow_payload(1, {cid(1), cid(2)}, {})));
    CHECK(has(request_error(t, follow_payload(2, {}, {})), "unknown flags 0x02"));
    CHECK(has(request_error(t, follow_payload(1, {cid(1)}, {cid(2)})), "cannot also remove"));
    CHECK(has(request_error(t, follow_payload(0, {cid(1), cid(1)}, {})),
              "channel " + cid(1).hex() + " appears twice"));
    CHECK(has(request_error(t, follow_payload(0, {cid(1)}, {cid(1)})), "appears twice"));
    // Counts over the limit or beyond the bytes present: refused before reserving.
    CHECK(has(request_error(t, Payload{}.id(tok(1)).u8(0).u32(1001).bytes), "over the limit"));
    CHECK(has(request_error(t, Payload{}.id(tok(1)).u8(0).u32(900).bytes), "do not fit"));
    CHECK(
        has(request_error(t, Payload{}.id(tok(1)).u8(0).u32(0).u32(1001).bytes), "over the limit"));
    std::vector<ChannelId> add;
    std::vector<ChannelId> remove;
    for (std::uint32_t i = 0; i < 501; ++i) {
        ChannelId a;
        a.bytes[0] = 1;
        a.bytes[1] = static_cast<std::uint8_t>(i >> 8);
        a.bytes[2] = static_cast<std::uint8_t>(i);
        add.push_back(a);
        a.bytes[0] = 2;
        remove.push_back(a);
    }
    CHECK(has(request_error(t, follow_payload(0, add, remove)), "over the limit"));

    const auto peers = [](std::uint16_t n) { return Payload{}.id(tok(1)).id(cid(1)).u16(n).bytes; };
    CHECK(has(request_error(kT(Type::kGetChannelPeers), peers(0)), "numwant 0 is out of range"));
    CHECK(has(request_error(kT(Type::kGetChannelPeers), peers(201)), "numwant 201"));
    const auto list = [](std::uint8_t from_start, std::uint16_t limit) {
        Bytes b;
        b.reserve(16 + 1 + 32 + 2);
        ByteWriter w(b);
        w.raw(tok(1).span());
        w.u8(from_start);
        w.raw(cid(1).span());
        w.u16(limit);
        return b;
    };
    CHECK(has(request_error(kT(Type::kListChannels), list(1, 0)), "limit 0"));
    CHECK(has(request_error(kT(Type::kListChannels), list(1, 1001)), "limit 1001"));
    CHECK(has(request_error(kT(Type::kListChannels), list(3, 1)), "from_start is 3"));
    // A manifest longer than the limit is refused from its length alone.
    CHECK(has(request_error(kT(Type::kPutManifest),
                            Payload{}.id(tok(1)).u32(limits::kMaxManifestBytes + 1).bytes),
              "over the limit"));
}

TEST_CASE("tracker codec: the largest manifest and FollowChannels fit their limits") {
    // The frame limit admits the largest manifest both ways; the message's own
    // limit stays tight.
    PutManifest put{tok(1), std::string(limits::kMaxManifestBytes, 'm')};
    const Bytes frame = encode(Request{put});
    CHECK(frame.size() <= limits::kMaxTrackerFrameBytes);
    CHECK(frame.size() - 5 == max_request_payload(kT(Type::kPutManifest)));
    CHECK(request_round_trip(put) == put);
    const ManifestText text{cid(1), put.text};
    CHECK(encode(Response{text}).size() <= limits::kMaxTrackerFrameBytes);
    CHECK(response_round_trip(text) == text);

    FollowChannels f;
    f.replace_all = true;
    for (std::uint32_t i = 0; i < limits::kMaxFollowEntries; ++i) {
        ChannelId c;
        c.bytes[0] = static_cast<std::uint8_t>(i >> 8);
        c.bytes[1] = static_cast<std::uint8_t>(i);
        f.add.push_back(FollowEntry{c, i});
    }
    CHECK(split(encode(Request{f})).payload.size() ==
          max_request_payload(kT(Type::kFollowChannels)));
    CHECK(request_round_trip(f) == f);
    CHECK(max_request_payload(kT(Type::kGetManifest)) == 16 + 32);
    CHECK(max_request_payload(kT(Type::kGetChannelPeers)) == 16 + 32 + 2);
    CHECK(max_request_payload(kT(Type::kListChannels)) == 16 + 1 + 32 + 2);
    CHECK(check_request_header(FrameHeader{1 + 100, kT(Type::kGetManifest)}).error().message ==
          "GetManifest of 100 bytes is over its limit of 48");
}

TEST_CASE("tracker codec: channel response rejections") {
    const auto peers = [](std::uint16_t count, std::uint16_t port) {
        Payload p;
        p.id(cid(1)).u16(count);
        for (std::uint16_t i = 0; i < count; ++i)
            p.u8(4).u32(0x0a000001).u16(port).id(uid(1)).u64(3);
        return p.bytes;
    };
    CHECK(decode_response(kT(Type::kChannelPeers), peers(200, 1)));
    CHECK(has(response_error(kT(Type::kChannelPeers), peers(201, 1)), "over the limit of 200"));
    CHECK(has(response_error(kT(Type::kChannelPeers), peers(1, 0)), "port 0"));

    const auto channels = [](std::vector<std::pair<ChannelId, std::string>> list) {
        Payload p;
        p.u8(1).u16(static_cast<std::uint16_t>(list.size()));
        for (const auto& [id, name] : list)
            p.id(id).str16(name).u64(1).u32(2).u64(3).u32(4);
        return p.bytes;
    };
    ChannelId lo, hi;
    lo.bytes[0] = 1;
    hi.bytes[0] = 2;
    CHECK(decode_response(kT(Type::kChannels), channels({{lo, "a"}, {hi, "b"}})));
    CHECK(has(response_error(kT(Type::kChannels), channels({{hi, "a"}, {lo, "b"}})), "order"));
    CHECK(has(response_error(kT(Type::kChannels), channels({{lo, "a\x1b[2J"}})), "control"));
    CHECK(has(response_error(kT(Type::kChannels), channels({{lo, std::string(256, 'n')}})),
              "over the limit of 255"));
    CHECK(has(response_error(kT(Type::kChannels), Payload{}.u8(0).u16(1001).bytes),
              "over the limit"));
    CHECK(has(response_error(kT(Type::kChannels), Payload{}.u8(0).u16(10).bytes), "do not fit"));
    CHECK(has(response_error(kT(Type::kManifestText),
                             Payload{}.id(cid(1)).u32(limits::kMaxManifestBytes + 1).bytes),
              "over the limit"));
}
