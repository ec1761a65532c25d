// The tracker protocol codec, channel messages (PutManifest, GetManifest,
// FollowChannels, GetChannelPeers, ListChannels and their answers): malformed
// payloads refused with a reason, the largest ones within their limits.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

#include "common/core/limits.hpp"
#include "common/wire/frame.hpp"
#include "common/wire/tracker_protocol.hpp"
#include "test/support/tracker_codec_fixtures.hpp"

namespace tracker_channel_codec_test {

using namespace seedshare;
using namespace seedshare::tracker_proto;
using namespace seedshare::test::tracker_codec;

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
        return list_payload(from_start, cid(1).span(), limit);
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

}  // namespace tracker_channel_codec_test
