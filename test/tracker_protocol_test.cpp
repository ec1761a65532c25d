// The tracker protocol codec: every message round trips, and every malformed
// payload is refused with a reason (never a throw, never an allocation sized
// by an unchecked length). Channel messages: tracker_channel_codec_test.cpp.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

#include "common/core/limits.hpp"
#include "common/wire/frame.hpp"
#include "common/wire/tracker_protocol.hpp"
#include "test/support/tracker_codec_fixtures.hpp"

namespace tracker_protocol_test {

using namespace seedshare;
using namespace seedshare::tracker_proto;
using namespace seedshare::test::tracker_codec;

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
    for (const std::uint8_t bad : {0x08, 0x80, 0x0f, 0xff}) {
        Bytes p = f.payload;
        p.back() = bad;
        const auto refused = decode_request(f.type, p);
        REQUIRE_FALSE(refused);
        CHECK(has(refused.error().message, fmt::format("flags 0x{:02x}", bad)));
    }
}

TEST_CASE(
    "tracker codec: a peer that reads roles says so in Join, and a Peers entry marks a backup") {
    Join j{kVersion, uid(1), tok(2), 4000};
    j.wants_cluster = true;
    j.reads_roles = true;
    const Frame f = split(encode(Request{j}));
    REQUIRE(f.payload.size() == 41);
    CHECK(f.payload.back() == (kJoinWantsCluster | kJoinReadsRoles));  // 0x05
    const auto d = decode_request(f.type, f.payload);
    REQUIRE(d);
    CHECK(std::get<Join>(*d) == j);

    // The entry's last byte: 0x01 complete, 0x02 a backup peer.
    Peers out{sid(1),
              {PeerEntry{asio::ip::make_address("10.0.0.1"), 7001, uid(2), true, true},
               PeerEntry{asio::ip::make_address("10.0.0.2"), 7002, uid(3), true, false},
               PeerEntry{asio::ip::make_address("10.0.0.3"), 7003, uid(4), false, true}}};
    const Frame pf = split(encode(Response{out}));
    constexpr std::size_t kEntry = 5 + 2 + 16 + 1;
    REQUIRE(pf.payload.size() == 32 + 2 + 3 * kEntry);
    CHECK(pf.payload[32 + 2 + kEntry - 1] == 0x03);
    CHECK(pf.payload[32 + 2 + 2 * kEntry - 1] == 0x01);
    CHECK(pf.payload[32 + 2 + 3 * kEntry - 1] == 0x02);
    const auto back = decode_response(pf.type, pf.payload);
    REQUIRE(back);
    CHECK(std::get<Peers>(*back) == out);
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
            if (join != nullptr && (join->wants_cluster || join->backup || join->reads_roles) &&
                n + 1 == f.payload.size()) {
                Join plain = *join;
                plain.wants_cluster = false;
                plain.backup = false;
                plain.reads_roles = false;
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
        CHECK(has(d.error().message,
                  join != nullptr && !join->wants_cluster && !join->backup && !join->reads_roles
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
    const auto list = [](std::uint8_t from_start, std::uint16_t limit) {
        return list_payload(from_start, sid(1).span(), limit);
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
    CHECK(decode_response(kT(Type::kPeers), peers(1, 1, 3)));  // complete and a backup
    CHECK(has(response_error(kT(Type::kPeers), peers(1, 1, 4)),
              "peer flags 0x04: only 0x01 and 0x02 are known"));

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

}  // namespace tracker_protocol_test
