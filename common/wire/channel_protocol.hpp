// Messages between two subscribers of one channel (docs/PROTOCOL.md,
// "Channel protocol"): the mesh that passes new versions on. Pure codec, in
// the style of peer_protocol.hpp: decoding never throws, bounds every length
// before use, and rejects trailing bytes.
//
// A channel connection carries one channel. It arrives on the peer's one
// listening port: the Node tells it from a file connection by the type of
// the first frame (ChannelHello, not Hello). The side that connects sends
// ChannelHello; the side that accepts answers ChannelHello (or Error and
// closes). Both then say which version they hold (in the hello, and again
// with Announce whenever it changes), ask for a manifest they lack
// (ManifestRequest) and answer with its text in parts (ManifestPart), and
// ask for the seeds a version names (SeedRequest, answered SeedPart or
// SeedUnknown), so that a subscriber needs no tracker to apply a version.
// Small files (one chunk, at most limits::kMaxMeshFileBytes) are asked of
// the same peers the same way (FileRequest, answered FilePart or
// FileUnknown): one round trip on a connection already open, where a file
// swarm of its own would dial, greet and announce for a few KiB. Every other
// file travels through the ordinary file swarms.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/bytes.hpp"
#include "common/core/ids.hpp"
#include "common/core/limits.hpp"
#include "common/core/result.hpp"
#include "common/wire/frame.hpp"

namespace seedshare::channel_proto {

inline constexpr std::uint32_t kMagic = 0x53534348;  // "SSCH"
inline constexpr std::uint16_t kVersion = 3;

// Types start at 0x41 so that no channel message is a peer message: the
// Node dispatches on the first frame's type.
enum class Type : std::uint8_t {
    kChannelHello = 0x41,
    kAnnounce = 0x42,
    kManifestRequest = 0x43,
    kManifestPart = 0x44,
    kPeerList = 0x45,
    kKeepAlive = 0x46,
    kGoodbye = 0x47,
    kSeedRequest = 0x48,
    kSeedPart = 0x49,
    kSeedUnknown = 0x4a,
    kFileRequest = 0x4b,
    kFilePart = 0x4c,
    kFileUnknown = 0x4d,
    kError = 0xff,
};

enum class ErrorCode : std::uint16_t {
    kVersionMismatch = 1,
    kUnknownChannel = 2,  // the accepting peer does not follow that channel
    kProtocol = 3,        // the other side broke the protocol
    kSelf = 4,            // connected to itself
    kDuplicate = 5,       // already connected to that peer for this channel
    kBusy = 6,            // connection limit reached
    kBanned = 7,          // sent a forged or malformed manifest before
    kNoSuchVersion = 8,   // ManifestRequest for a version the sender no longer holds
};
inline constexpr ErrorCode kFirstErrorCode = ErrorCode::kVersionMismatch;
inline constexpr ErrorCode kLastErrorCode = ErrorCode::kNoSuchVersion;

// A version of the channel: its number, the hash of its manifest's body
// (seeds/MANIFEST.md), and its hand-over chain's ids (none: no hand-over), so
// that a peer can tell which of two versions wins (hand-overs and forks
// included) before it fetches either. Number 0 (hash all zero, no chain):
// none held.
struct VersionRef {
    std::uint64_t number = 0;
    Digest body_hash;
    std::vector<Digest> chain;  // at most kMaxHandovers
    bool none() const { return number == 0; }
    auto operator<=>(const VersionRef&) const = default;
};

struct ChannelHello {
    std::uint16_t version = kVersion;  // decoded even when the rest is not
    ChannelId channel;
    UserId user;
    std::uint16_t listen_port = 0;  // 0: does not accept connections
    VersionRef held;
    bool operator==(const ChannelHello&) const = default;
};

// The sender now holds (has verified) this version.
struct Announce {
    VersionRef held;
    bool operator==(const Announce&) const = default;
};

// Send me the manifest of this version.
struct ManifestRequest {
    VersionRef want;
    bool operator==(const ManifestRequest&) const = default;
};

// Bytes [offset, offset + data.size()) of the manifest text of `of`, whose
// whole text is `total` bytes (1..kMaxManifestBytes). Parts come in order.
struct ManifestPart {
    VersionRef of;
    std::uint32_t total = 0;
    std::uint32_t offset = 0;
    ByteSpan data;  // a view into the decoded payload (1..kMaxManifestPartBytes)
    bool operator==(const ManifestPart& o) const {
        return of == o.of && total == o.total && offset == o.offset &&
               std::equal(data.begin(), data.end(), o.data.begin(), o.data.end());
    }
};

// Peer exchange: other subscribers of this channel the sender completed a
// handshake with.
struct PeerList {
    std::vector<PeerAddress> peers;
    bool operator==(const PeerList&) const = default;
};

struct KeepAlive {
    bool operator==(const KeepAlive&) const = default;
};

// Send me the seed text of this id (a file of a version the sender holds).
struct SeedRequest {
    SeedId id;
    bool operator==(const SeedRequest&) const = default;
};

// Bytes [offset, offset + data.size()) of the seed text of `id`, whose whole
// text is `total` bytes (1..kMaxSeedBytes). The parts of one seed come in
// order and together, and requests are answered in the order they came.
struct SeedPart {
    SeedId id;
    std::uint32_t total = 0;
    std::uint32_t offset = 0;
    ByteSpan data;  // a view into the decoded payload (1..kMaxManifestPartBytes)
    bool operator==(const SeedPart& o) const {
        return id == o.id && total == o.total && offset == o.offset &&
               std::equal(data.begin(), data.end(), o.data.begin(), o.data.end());
    }
};

// The answer to a SeedRequest for a seed the sender does not hold.
struct SeedUnknown {
    SeedId id;
    bool operator==(const SeedUnknown&) const = default;
};

// Send me the content of the file of this seed (one chunk, at most
// limits::kMaxMeshFileBytes; a file of a version the sender holds).
struct FileRequest {
    SeedId id;
    bool operator==(const FileRequest&) const = default;
};

// Bytes [offset, offset + data.size()) of the file of seed `id`, whose whole
// content is `total` bytes (1..kMaxMeshFileBytes; an empty file is never
// asked for). As SeedPart: in order, together, requests answered in order.
struct FilePart {
    SeedId id;
    std::uint32_t total = 0;
    std::uint32_t offset = 0;
    ByteSpan data;  // a view into the decoded payload (1..kMaxManifestPartBytes)
    bool operator==(const FilePart& o) const {
        return id == o.id && total == o.total && offset == o.offset &&
               std::equal(data.begin(), data.end(), o.data.begin(), o.data.end());
    }
};

// The answer to a FileRequest for a file the sender does not hold (or will
// not send: too large, changed on its disk).
struct FileUnknown {
    SeedId id;
    bool operator==(const FileUnknown&) const = default;
};

// The sender is leaving.
struct Goodbye {
    bool operator==(const Goodbye&) const = default;
};

struct ErrorMsg {
    ErrorCode code = ErrorCode::kProtocol;
    std::string message;  // at most limits::kMaxMessageTextBytes
    bool operator==(const ErrorMsg&) const = default;
};

using Message = std::variant<ChannelHello, Announce, ManifestRequest, ManifestPart, PeerList,
                             KeepAlive, Goodbye, SeedRequest, SeedPart, SeedUnknown, FileRequest,
                             FilePart, FileUnknown, ErrorMsg>;

// A complete frame (header included).
Bytes encode(const Message& m);

// The largest payload a frame of this type may have; 0 for unknown types
// (and for those without a payload). From the message table.
std::size_t max_payload(std::uint8_t type);
// Ok when the header is a known channel message within its limit.
Status check_header(const FrameHeader& h);
// "ChannelHello", "ManifestPart", ... (the number for unknown types).
std::string type_name(std::uint8_t type);
// Errors name the message and the field.
Result<Message> decode(std::uint8_t type, ByteSpan payload);

// The largest frame a channel connection carries (a ManifestPart).
std::size_t max_frame_bytes();

}  // namespace seedshare::channel_proto
