#include <doctest/doctest.h>

#include "common/core/limits.hpp"
#include "common/crypto/sha256.hpp"
#include "common/wire/frame.hpp"
#include "common/wire/peer_protocol.hpp"

namespace peer_protocol_test {

using namespace seedshare;
namespace pp = seedshare::peer_proto;

namespace {

// Splits a complete frame into its header and payload and decodes it.
Result<pp::Message> roundtrip(const Bytes& frame) {
    auto h = decode_frame_header(ByteSpan(frame.data(), limits::kFrameHeaderBytes),
                                 limits::kMaxPeerFrameBytes);
    REQUIRE(h);
    REQUIRE(h->length == frame.size() - 4);
    return pp::decode(h->type,
                      ByteSpan(frame.data() + limits::kFrameHeaderBytes, h->payload_size()));
}

Result<pp::Message> decode_raw(pp::Type t, const Bytes& payload) {
    return pp::decode(static_cast<std::uint8_t>(t), payload);
}

Seed seed_of(std::uint64_t length, std::uint64_t chunk) {
    Seed s;
    s.name.assign(1, 'x');  // (not = "x": a GCC 12 -Wrestrict false positive)
    s.length = length;
    s.chunk_size = chunk;
    s.chunk_hashes.resize(chunk_count_for(length, chunk));
    return s;
}

}  // namespace

TEST_CASE("peer protocol: every message round trips") {
    SeedId seed;
    seed.bytes = sha256(std::string_view("seed")).bytes;
    const UserId user = random_user_id();
    Bitfield bits(11);
    bits.set(ChunkIndex{0});
    bits.set(ChunkIndex{10});
    const std::vector<pp::Message> messages{
        pp::Hello{pp::kVersion, seed, user, 4242},
        pp::Hello{pp::kVersion, seed, user, 0, pp::kHelloBackup},
        pp::Hello{pp::kVersion, seed, user, 7, pp::kHelloSpare},
        pp::BitfieldMsg{bits},
        pp::Have{ChunkIndex{7}},
        pp::Request{pp::Block{ChunkIndex{3}, 65536, 32768}},
        pp::Cancel{pp::Block{ChunkIndex{3}, 0, 1}},
        pp::Reject{pp::Block{ChunkIndex{9}, 100, 200}},
        pp::KeepAlive{},
        pp::Goodbye{},
        pp::GetPeers{},
        pp::PeerList{{pp::PeerAddress{asio::ip::make_address("10.0.0.1"), 1},
                      pp::PeerAddress{asio::ip::make_address("::1"), 65535}},
                     {}},
        pp::PeerList{{pp::PeerAddress{asio::ip::make_address("10.0.0.1"), 1}},
                     {pp::PeerAddress{asio::ip::make_address("10.0.0.2"), 2},
                      pp::PeerAddress{asio::ip::make_address("fe80::1"), 3}}},
        pp::PeerList{{}, {pp::PeerAddress{asio::ip::make_address("10.0.0.2"), 2}}},
        pp::ErrorMsg{pp::ErrorCode::kUnknownSeed, "no such seed"},
    };
    for (const auto& m : messages) {
        CAPTURE(m.index());
        auto back = roundtrip(pp::encode(m));
        REQUIRE(back);
        CHECK(back->index() == m.index());
        std::visit(
            [&](const auto& original) {
                using T = std::decay_t<decltype(original)>;
                if constexpr (!std::is_same_v<T, pp::Piece>) CHECK(std::get<T>(*back) == original);
            },
            m);
    }
    // Piece: the data is a view into the payload.
    const Bytes data{1, 2, 3, 4, 5};
    const Bytes frame = pp::encode(pp::Piece{ChunkIndex{2}, 8, data});
    auto piece = roundtrip(frame);
    REQUIRE(piece);
    const auto& p = std::get<pp::Piece>(*piece);
    CHECK(p.chunk.value == 2);
    CHECK(p.offset == 8);
    CHECK(Bytes(p.data.begin(), p.data.end()) == data);
    // The scatter-gather header is the same bytes as the encoded frame's head.
    const Bytes head = pp::encode_piece_header(ChunkIndex{2}, 8, 5);
    CHECK(Bytes(frame.begin(), frame.begin() + static_cast<std::ptrdiff_t>(head.size())) == head);
}

TEST_CASE("peer protocol: a Hello of another version decodes to just its version") {
    Bytes payload;
    ByteWriter w(payload);
    w.u32(pp::kMagic);
    w.u16(pp::kVersion + 1);
    w.raw(std::string_view("anything a future version sends"));
    auto m = decode_raw(pp::Type::kHello, payload);
    REQUIRE(m);
    CHECK(std::get<pp::Hello>(*m).version == pp::kVersion + 1);
    // Longer than this version's (a later one may add fields), and shorter
    // (version 2's, without the flags byte): still just the version, so
    // the acceptor can answer VersionMismatch.
    payload.resize(200, 0x55);
    auto longer = decode_raw(pp::Type::kHello, payload);
    REQUIRE(longer);
    CHECK(std::get<pp::Hello>(*longer).version == pp::kVersion + 1);
    Bytes v2 = pp::encode(pp::Hello{2, SeedId{}, random_user_id(), 7});
    v2.erase(v2.begin(), v2.begin() + static_cast<std::ptrdiff_t>(limits::kFrameHeaderBytes));
    v2.pop_back();  // version 2 had no flags byte
    auto older = decode_raw(pp::Type::kHello, v2);
    REQUIRE(older);
    CHECK(std::get<pp::Hello>(*older).version == 2);
}

TEST_CASE("peer protocol: Hello flags a receiver does not know are kept, not refused") {
    // (A later version may add flags; this one reads the bits it knows.)
    pp::Hello h{pp::kVersion, SeedId{}, random_user_id(), 1, 0xfe};
    auto m = roundtrip(pp::encode(h));
    REQUIRE(m);
    const auto& got = std::get<pp::Hello>(*m);
    CHECK(got.flags == 0xfe);
    CHECK((got.flags & pp::kHelloBackup) == 0);
    // Without its flags byte (version 2's layout under this version): refused.
    const Bytes frame = pp::encode(pp::Hello{});
    const Bytes old(frame.begin() + limits::kFrameHeaderBytes, frame.end() - 1);
    CHECK(decode_raw(pp::Type::kHello,
                     Bytes(frame.begin() + limits::kFrameHeaderBytes, frame.end())));
    CHECK_FALSE(decode_raw(pp::Type::kHello, old));
}

TEST_CASE("peer protocol: rejections") {
    // Bad magic.
    Bytes hello = pp::encode(pp::Hello{});
    hello[limits::kFrameHeaderBytes] ^= 0xff;
    CHECK_FALSE(roundtrip(hello));
    // Unknown type, and payloads over a type's limit.
    CHECK_FALSE(pp::decode(0x42, Bytes{}));
    CHECK(pp::max_payload(0x42) == 0);
    CHECK_FALSE(decode_raw(pp::Type::kHave, Bytes{0, 0, 0, 1, 0}));
    CHECK_FALSE(decode_raw(pp::Type::kKeepAlive, Bytes{0}));
    CHECK_FALSE(decode_raw(pp::Type::kRequest, Bytes(11, 0)));  // truncated
    CHECK_FALSE(decode_raw(pp::Type::kRequest, Bytes(13, 0)));  // trailing byte
    CHECK_FALSE(decode_raw(pp::Type::kPiece, Bytes(8, 0)));     // no data
    // Bitfield: count over the limit, wrong byte count, spare bits set.
    {
        Bytes p;
        ByteWriter w(p);
        w.u32(limits::kMaxChunkCount + 1);
        CHECK_FALSE(decode_raw(pp::Type::kBitfield, p));
    }
    {
        Bytes p;
        ByteWriter w(p);
        w.u32(9);
        w.u8(0xff);  // 9 bits need 2 bytes
        CHECK_FALSE(decode_raw(pp::Type::kBitfield, p));
        w.u8(0x40);  // a bit past chunk 8
        CHECK_FALSE(decode_raw(pp::Type::kBitfield, p));
    }
    // Peer list: too many entries, bad family.
    {
        Bytes p;
        ByteWriter w(p);
        w.u16(pp::kMaxPeerListEntries + 1);
        CHECK_FALSE(decode_raw(pp::Type::kPeerList, p));
    }
    {
        Bytes p;
        ByteWriter w(p);
        w.u16(1);
        w.u8(5);
        CHECK_FALSE(decode_raw(pp::Type::kPeerList, p));
    }
    // Error text over the limit.
    {
        const std::string text(limits::kMaxMessageTextBytes + 1, 'x');
        Bytes p;
        p.reserve(4 + text.size());  // (also quiets a GCC 12 -Wstringop-overflow false positive)
        ByteWriter w(p);
        w.u16(1);
        w.str16(text);
        CHECK_FALSE(decode_raw(pp::Type::kError, p));
    }
}

namespace {

// The decoder's error for `payload` as type `t` (fails the test if it decodes).
std::string error_of(pp::Type t, const Bytes& payload) {
    auto m = decode_raw(t, payload);
    REQUIRE_FALSE(m);
    return m.error().message;
}

Bytes error_payload(std::uint16_t code) {
    Bytes p;
    p.reserve(8);  // (quiets a GCC 12 -Wstringop-overflow false positive)
    ByteWriter w(p);
    w.u16(code);
    w.str16("no");
    return p;
}

}  // namespace

TEST_CASE("peer protocol: the Error code is range-checked") {
    for (std::uint16_t code = 1; code <= 7; ++code) {
        auto m = decode_raw(pp::Type::kError, error_payload(code));
        REQUIRE(m);
        CHECK(static_cast<std::uint16_t>(std::get<pp::ErrorMsg>(*m).code) == code);
    }
    CHECK(error_of(pp::Type::kError, error_payload(0)) == "Error: code 0 is below 1");
    CHECK(error_of(pp::Type::kError, error_payload(8)) == "Error: code 8 is out of range 1..7");
    CHECK(error_of(pp::Type::kError, error_payload(0xffff)) ==
          "Error: code 65535 is out of range 1..7");
}

TEST_CASE("peer protocol: errors name the message and the field") {
    CHECK(error_of(pp::Type::kPiece, Bytes(8, 0)) == "Piece: data length 0 is below 1");
    CHECK(error_of(pp::Type::kRequest, Bytes(11, 0)) == "Request: truncated in length");
    CHECK(error_of(pp::Type::kRequest, Bytes(13, 0)) ==
          "Request of 13 bytes is over its limit of 12");
    {
        Bytes p = error_payload(1);
        p.push_back(0);
        CHECK(error_of(pp::Type::kError, p) == "Error: 1 unexpected bytes after the message");
    }
    CHECK(error_of(pp::Type::kHave, Bytes{0, 0}) == "Have: truncated in chunk");
    {
        Bytes p;
        ByteWriter w(p);
        w.u16(pp::kMaxPeerListEntries + 1);
        CHECK(error_of(pp::Type::kPeerList, p) == "PeerList: 65 peers is over the limit of 64");
    }
    {
        Bytes p;
        ByteWriter w(p);
        w.u16(1);
        w.u8(5);
        w.u32(0);
        w.u16(7000);
        CHECK(error_of(pp::Type::kPeerList, p) ==
              "PeerList: peer address: address family 5 (expected 4 or 6)");
    }
    {  // the dropped list has the same bound; and it is not optional
        Bytes p;
        ByteWriter w(p);
        w.u16(0);
        w.u16(pp::kMaxPeerListEntries + 1);
        CHECK(error_of(pp::Type::kPeerList, p) == "PeerList: 65 peers is over the limit of 64");
        CHECK(error_of(pp::Type::kPeerList, Bytes{0, 0}) == "PeerList: truncated in count");
    }
    Bytes hello = pp::encode(pp::Hello{});
    hello[limits::kFrameHeaderBytes] ^= 0xff;
    const auto bad = roundtrip(hello);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.starts_with("Hello: magic 0xac535052"));
    CHECK(pp::decode(0x42, Bytes{}).error().message == "unknown message type 66");
}

TEST_CASE("peer protocol: one header check against the message table") {
    CHECK(pp::check_header(FrameHeader{1 + 12, 0x04}));
    CHECK(pp::check_header(FrameHeader{1, 0x08}));  // KeepAlive: no payload
    CHECK(pp::check_header(FrameHeader{1 + 1, 0x08}).error().message ==
          "KeepAlive of 1 bytes is over its limit of 0");
    CHECK(pp::check_header(FrameHeader{1, 0x42}).error().message == "unknown message type 66");
    CHECK(pp::check_header(FrameHeader{1 + 8 + (1u << 20) + 1, 0x05}).error().message ==
          "Piece of 1048585 bytes is over its limit of 1048584");
    CHECK(pp::type_name(0x05) == "Piece");
    CHECK(pp::kMaxPeerListEntries == limits::kMaxPeerListEntries);
}

TEST_CASE("peer protocol: check_block keeps requests inside the seed") {
    const Seed s = seed_of(2500, 1024);  // chunks of 1024, 1024, 452
    CHECK(pp::check_block(s, pp::Block{ChunkIndex{0}, 0, 1024}));
    CHECK(pp::check_block(s, pp::Block{ChunkIndex{2}, 400, 52}));
    CHECK_FALSE(pp::check_block(s, pp::Block{ChunkIndex{3}, 0, 1}));     // past the last chunk
    CHECK_FALSE(pp::check_block(s, pp::Block{ChunkIndex{2}, 400, 53}));  // past the end of chunk 2
    CHECK_FALSE(pp::check_block(s, pp::Block{ChunkIndex{0}, 0, 0}));     // empty
    CHECK_FALSE(pp::check_block(s, pp::Block{ChunkIndex{0}, 0xffffffffu, 2}));  // offset overflow
    const Seed big = seed_of(64ull << 20, 16u << 20);
    CHECK(pp::check_block(big, pp::Block{ChunkIndex{0}, 0, limits::kMaxBlockBytes}));
    CHECK_FALSE(pp::check_block(big, pp::Block{ChunkIndex{0}, 0, limits::kMaxBlockBytes + 1}));
}

TEST_CASE("bitfield: set, reset, count, wire form") {
    Bitfield b(10);
    CHECK(b.none());
    b.set(ChunkIndex{0});
    b.set(ChunkIndex{9});
    b.set(ChunkIndex{9});
    CHECK(b.count() == 2);
    CHECK(b.bytes() == Bytes{0x80, 0x40});
    b.reset(ChunkIndex{0});
    CHECK(b.count() == 1);
    Bitfield full(10, true);
    CHECK(full.all());
    CHECK(full.bytes() == Bytes{0xff, 0xc0});
    auto back = Bitfield::from_bytes(10, full.bytes());
    REQUIRE(back);
    CHECK(*back == full);
    CHECK(Bitfield(0, true).all());
}

TEST_CASE("frame: the first bytes of something that is not seedshare are recognised") {
    const auto guess = [](std::string_view s) {
        return guess_foreign_protocol(
            ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
    };
    CHECK(guess("HTTP/") == ForeignProtocol::kHttp);
    CHECK(guess("SSH-2") == ForeignProtocol::kSsh);
    CHECK(guess(std::string_view("\x15\x03\x03\x00\x02", 5)) == ForeignProtocol::kTls);
    CHECK(guess(std::string_view("\x00\x00\x00\x05\x01", 5)) == ForeignProtocol::kUnknown);
    CHECK(guess("HTT") == ForeignProtocol::kUnknown);
    CHECK(foreign_protocol_name(ForeignProtocol::kHttp) == "HTTP");
    CHECK(foreign_protocol_name(ForeignProtocol::kUnknown).empty());
}

}  // namespace peer_protocol_test
