// Messages between two peers sharing one file (docs/PROTOCOL.md, "Peer
// protocol"). Pure codec: decoding never throws, bounds every length before
// use, and rejects trailing bytes; the session checks what needs the seed
// (chunk counts, block ranges) with check_block / Bitfield sizes.
//
// A connection carries one seed. The side that connects sends Hello; the
// side that accepts answers Hello (or Error and closes); both then send their
// Bitfield and may request blocks of the chunks the other has.
#pragma once

#include <asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/bytes.hpp"
#include "common/core/ids.hpp"
#include "common/core/limits.hpp"
#include "common/core/result.hpp"
#include "common/model/bitfield.hpp"
#include "common/model/seed.hpp"
#include "common/wire/frame.hpp"

namespace seedshare::peer_proto {

inline constexpr std::uint32_t kMagic = 0x53535052;  // "SSPR"
// 2: PeerList carries a "dropped" list. 3: Hello carries flags.
inline constexpr std::uint16_t kVersion = 3;
// A Piece payload starts with chunk (u32) and offset (u32), then the data.
inline constexpr std::size_t kPieceHeaderBytes = 8;
// Peer addresses one PeerList may carry (the limit lives in limits.hpp).
inline constexpr std::size_t kMaxPeerListEntries = limits::kMaxPeerListEntries;

enum class Type : std::uint8_t {
    kHello = 0x01,
    kBitfield = 0x02,
    kHave = 0x03,
    kRequest = 0x04,
    kPiece = 0x05,
    kCancel = 0x06,
    kReject = 0x07,
    kKeepAlive = 0x08,
    kPeerList = 0x09,
    kGoodbye = 0x0a,
    kGetPeers = 0x0b,
    kError = 0xff,
};

enum class ErrorCode : std::uint16_t {
    kVersionMismatch = 1,
    kUnknownSeed = 2,  // the accepting peer does not share that seed
    kProtocol = 3,     // the other side broke the protocol
    kSelf = 4,         // connected to itself
    kDuplicate = 5,    // already connected to that peer for this seed
    kBusy = 6,         // connection limit reached
    kBanned = 7,       // sent bad data before
};
// Codes outside this range are refused on decode.
inline constexpr ErrorCode kFirstErrorCode = ErrorCode::kVersionMismatch;
inline constexpr ErrorCode kLastErrorCode = ErrorCode::kBanned;

// Hello flags. A receiver ignores the bits it does not know.
// The sender is a backup peer (`peer backup`): ask the other holders first.
// Whoever says so only has less asked of it.
inline constexpr std::uint8_t kHelloBackup = 0x01;
// The sender's upload is scarce (a channel's publisher, `peer publish`): ask
// the other holders first, as of a backup peer.
inline constexpr std::uint8_t kHelloSpare = 0x02;

struct Hello {
    std::uint16_t version = kVersion;  // decoded even when the rest is not
    SeedId seed;
    UserId user;
    std::uint16_t listen_port = 0;  // 0: does not accept connections
    std::uint8_t flags = 0;         // kHelloBackup, kHelloSpare
    bool operator==(const Hello&) const = default;
};

struct BitfieldMsg {
    Bitfield have;
    bool operator==(const BitfieldMsg&) const = default;
};

struct Have {
    ChunkIndex chunk;
    bool operator==(const Have&) const = default;
};

// A byte range inside one chunk.
struct Block {
    ChunkIndex chunk;
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
    auto operator<=>(const Block&) const = default;
};

struct Request {
    Block block;
    bool operator==(const Request&) const = default;
};
struct Cancel {
    Block block;
    bool operator==(const Cancel&) const = default;
};
// The sender will not serve that block (does not hold it, or the file changed).
struct Reject {
    Block block;
    bool operator==(const Reject&) const = default;
};

struct Piece {
    ChunkIndex chunk;
    std::uint32_t offset = 0;
    ByteSpan data;  // a view into the decoded payload
};

struct KeepAlive {
    bool operator==(const KeepAlive&) const = default;
};

// Peer exchange: other holders of this seed the sender knows (`peers`), and
// those it was connected to that have since left (`dropped`, BEP 11's list).
using PeerAddress = seedshare::PeerAddress;  // common/core/address.hpp
struct PeerList {
    std::vector<PeerAddress> peers;
    std::vector<PeerAddress> dropped;
    bool operator==(const PeerList&) const = default;
};

// The sender is leaving: no more requests will be answered.
struct Goodbye {
    bool operator==(const Goodbye&) const = default;
};

// Peer exchange asked for: the sender's pool is low; the receiver answers
// with a PeerList of peers it completed a handshake with (rate-limited).
struct GetPeers {
    bool operator==(const GetPeers&) const = default;
};

struct ErrorMsg {
    ErrorCode code = ErrorCode::kProtocol;
    std::string message;  // at most limits::kMaxMessageTextBytes
    bool operator==(const ErrorMsg&) const = default;
};

using Message = std::variant<Hello, BitfieldMsg, Have, Request, Cancel, Reject, Piece, KeepAlive,
                             PeerList, Goodbye, GetPeers, ErrorMsg>;

// A complete frame. (For Piece, prefer encode_piece_header + the data buffer.)
Bytes encode(const Message& m);
// Frame header + type + chunk + offset of a Piece carrying `length` data bytes;
// the data follows in a separate buffer (scatter-gather, no copy).
Bytes encode_piece_header(ChunkIndex chunk, std::uint32_t offset, std::uint32_t length);

// The largest payload a frame of this type may have; 0 for unknown types
// (and for KeepAlive and Goodbye, which have none). From the message table
// in peer_protocol.cpp, where every message is registered once.
std::size_t max_payload(std::uint8_t type);
// Ok when the header is a known message type within its limit ("unknown
// message type 66", "Piece of 2000000 bytes is over its limit of
// 1048584"): checked right after the frame header, before the payload.
Status check_header(const FrameHeader& h);
// "Hello", "Piece", ... (the number in decimal for unknown types).
std::string type_name(std::uint8_t type);

// Errors name the message and the field: "Piece: data length 0 is below 1",
// "Error: code 9 is out of range 1..7".
Result<Message> decode(std::uint8_t type, ByteSpan payload);

// Ok when `b` lies inside a chunk of `seed` and is 1..kMaxBlockBytes long.
Status check_block(const Seed& seed, const Block& b);

}  // namespace seedshare::peer_proto
