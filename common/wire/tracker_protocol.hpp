// Messages between a peer and a tracker (docs/PROTOCOL.md, "Tracker protocol").
// Pure codec: encode to complete frames, decode from a frame's type and
// payload. Every message is registered once, in the message table of
// tracker_protocol.cpp (type, name, payload limit, decoder). Decoding never throws, checks every
// length against a named limit before allocating, and rejects trailing bytes.
//
// A connection starts with Join (which carries the protocol version); every
// later request carries the token Join returned. Requests are answered in
// order, one response per request.
#pragma once

#include <asio/ip/address.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/bytes.hpp"
#include "common/core/ids.hpp"
#include "common/core/result.hpp"
#include "common/model/manifest.hpp"
#include "common/wire/frame.hpp"

namespace seedshare::tracker_proto {

inline constexpr std::uint32_t kMagic = 0x5353544b;  // "SSTK"
// Join's optional trailing flags byte (sent only when a flag is set): the
// peer wants Joined.trackers; the peer is a backup peer (`peer backup`),
// handed out by GetPeers after the other complete holders; the peer reads
// the backup bit of a Peers entry (kHolderBackup), so the tracker may set it.
inline constexpr std::uint8_t kJoinWantsCluster = 0x01;
inline constexpr std::uint8_t kJoinBackup = 0x02;
inline constexpr std::uint8_t kJoinReadsRoles = 0x04;
inline constexpr std::uint8_t kJoinKnownFlags = kJoinWantsCluster | kJoinBackup | kJoinReadsRoles;
// A Peers entry's last byte: bit 0 the holder is complete; bit 1 it is a
// backup peer, set only for an asker that joined with kJoinReadsRoles (a
// client that predates it refuses anything but 0 or 1 there).
inline constexpr std::uint8_t kHolderComplete = 0x01;
inline constexpr std::uint8_t kHolderBackup = 0x02;
inline constexpr std::uint16_t kVersion = 1;

enum class Type : std::uint8_t {
    kJoin = 0x01,
    kHeartbeat = 0x02,
    kFileList = 0x03,
    kPutSeed = 0x04,
    kGetPeers = 0x05,
    kListFiles = 0x06,
    kGetSeed = 0x07,
    kLeave = 0x08,
    kPutManifest = 0x09,
    kGetManifest = 0x0a,
    kFollowChannels = 0x0b,
    kGetChannelPeers = 0x0c,
    kListChannels = 0x0d,

    kJoined = 0x81,
    kOk = 0x82,
    kFileListOk = 0x83,
    kPeers = 0x84,
    kFiles = 0x85,
    kSeedText = 0x86,
    kManifestText = 0x87,
    kChannelPeers = 0x88,
    kChannels = 0x89,
    kError = 0xff,
};

enum class ErrorCode : std::uint16_t {
    kVersionMismatch = 1,    // Join with another protocol version; the tracker closes
    kMalformed = 2,          // undecodable frame; the tracker closes
    kJoinFirst = 3,          // a request before Join
    kBadToken = 4,           // token does not belong to this connection's userid
    kUserIdInUse = 5,        // Join for a live userid without its token
    kUnknownPeer = 6,        // the tracker forgot this peer (expired): join again
    kUnknownSeed = 7,        // no seed content for that id
    kSeedMismatch = 8,       // PutSeed text does not parse or its id differs
    kLimit = 9,              // a named limit was exceeded (files per peer, ...)
    kInternal = 10,          // the tracker failed (database); retry later
    kUnknownChannel = 11,    // no manifest for that channel
    kManifestRefused = 12,   // PutManifest text does not parse, its signature fails, or the
                             // peer does not follow that channel
    kManifestStale = 13,     // PutManifest version at or below the one the tracker holds
    kManifestConflict = 14,  // same version, other content, and it lost the tie-break
};
inline constexpr ErrorCode kLastErrorCode = ErrorCode::kManifestConflict;

// --- requests (peer -> tracker) ---------------------------------------------

struct Join {
    std::uint16_t version = kVersion;  // decoded even when the rest is not
    UserId user;
    Token token;             // all zero: none (first join); else the token of an earlier join
    std::uint16_t port = 0;  // where the peer listens; 0: it does not serve
    // Asks for the cluster's trackers in Joined (a trailing flags byte, sent
    // only when set: peers that predate it are unchanged).
    bool wants_cluster = false;
    // A backup peer: its upload is spared (GetPeers lists it after the
    // other complete holders). The same trailing flags byte.
    bool backup = false;
    // Reads the backup bit of Peers entries (kJoinReadsRoles). The same byte.
    bool reads_roles = false;
    bool operator==(const Join&) const = default;
};

struct Heartbeat {
    Token token;
    bool operator==(const Heartbeat&) const = default;
};

struct FileEntry {
    SeedId id;
    std::string name;  // validate_file_name() holds
    std::uint64_t length = 0;
    bool complete = false;  // false: holds some verified chunks
    bool operator==(const FileEntry&) const = default;
};

// What the peer holds: the whole list (replace_all) or changes to it.
struct FileList {
    Token token;
    bool replace_all = false;
    std::vector<FileEntry> add;  // added or changed (e.g. partial -> complete)
    std::vector<SeedId> remove;
    bool operator==(const FileList&) const = default;
};

// The seed text of a file the peer shares, so others can fetch it by id.
struct PutSeed {
    Token token;
    std::string seed_text;  // at most limits::kMaxSeedBytes
    bool operator==(const PutSeed&) const = default;
};

struct GetPeers {
    Token token;
    SeedId id;
    std::uint16_t numwant = 50;  // 1..limits::kMaxNumWant
    bool operator==(const GetPeers&) const = default;
};

// Pages through every known seed in id order, starting after `after`.
struct ListFiles {
    Token token;
    bool from_start = true;
    SeedId after;                // used when !from_start
    std::uint16_t limit = 1000;  // 1..limits::kMaxListFilesPage
    bool operator==(const ListFiles&) const = default;
};

struct GetSeed {
    Token token;
    SeedId id;
    bool operator==(const GetSeed&) const = default;
};

struct Leave {
    Token token;
    bool operator==(const Leave&) const = default;
};

// A signed version of a channel (common/model/manifest.hpp), for the tracker
// to keep as the channel's head when it is newer than the one it has.
struct PutManifest {
    Token token;
    std::string text;  // at most limits::kMaxManifestBytes
    bool operator==(const PutManifest&) const = default;
};

struct GetManifest {
    Token token;
    ChannelId channel;
    bool operator==(const GetManifest&) const = default;
};

struct FollowEntry {
    ChannelId channel;
    std::uint64_t version = 0;  // the version the peer holds (<= kMaxManifestVersion); 0: none yet
    bool operator==(const FollowEntry&) const = default;
};

// The channels the peer follows: the whole list (replace_all) or changes.
struct FollowChannels {
    Token token;
    bool replace_all = false;
    std::vector<FollowEntry> add;  // added or changed (a newer version held)
    std::vector<ChannelId> remove;
    bool operator==(const FollowChannels&) const = default;
};

struct GetChannelPeers {
    Token token;
    ChannelId channel;
    std::uint16_t numwant = 50;  // 1..limits::kMaxNumWant
    bool operator==(const GetChannelPeers&) const = default;
};

// Pages through every channel the tracker has a manifest of, in id order.
struct ListChannels {
    Token token;
    bool from_start = true;
    ChannelId after;             // used when !from_start
    std::uint16_t limit = 1000;  // 1..limits::kMaxListChannelsPage
    bool operator==(const ListChannels&) const = default;
};

using Request =
    std::variant<Join, Heartbeat, FileList, PutSeed, GetPeers, ListFiles, GetSeed, Leave,
                 PutManifest, GetManifest, FollowChannels, GetChannelPeers, ListChannels>;

// --- responses (tracker -> peer) --------------------------------------------

struct Joined {
    Token token;
    std::uint32_t heartbeat_ms = 0;  // send a heartbeat at least this often
    std::uint32_t ttl_ms = 0;        // silent longer than this: forgotten
    asio::ip::address observed;      // the peer's address as the tracker sees it
    // Every tracker of this tracker's cluster (itself included), when the Join
    // asked for them and the tracker is in a cluster; a trailing list, absent
    // otherwise. At most limits::kMaxClusterTrackers.
    std::vector<HostPort> trackers;
    bool operator==(const Joined&) const = default;
};

struct OkReply {
    bool operator==(const OkReply&) const = default;
};

// Answer to FileList: the ids among the added ones whose seed text the
// tracker does not have yet (the peer then sends PutSeed for each).
struct FileListOk {
    std::vector<SeedId> need_seed;
    bool operator==(const FileListOk&) const = default;
};

struct PeerEntry {
    asio::ip::address address;
    std::uint16_t port = 0;
    UserId user;
    bool complete = false;
    // A backup peer (joined with kJoinBackup): a getter spares its upload.
    // Sent only to askers that joined with kJoinReadsRoles.
    bool backup = false;
    bool operator==(const PeerEntry&) const = default;
};

struct Peers {
    SeedId id;
    std::vector<PeerEntry> peers;  // at most limits::kMaxNumWant
    bool operator==(const Peers&) const = default;
};

struct FileInfo {
    SeedId id;
    std::string name;
    std::uint64_t length = 0;
    std::uint32_t holders = 0;           // live peers holding any of it
    std::uint32_t complete_holders = 0;  // of which complete
    bool operator==(const FileInfo&) const = default;
};

struct Files {
    std::vector<FileInfo> files;  // at most limits::kMaxListFilesPage
    bool more = false;            // ask again with after = files.back().id
    bool operator==(const Files&) const = default;
};

struct SeedText {
    SeedId id;
    std::string text;
    bool operator==(const SeedText&) const = default;
};

struct ErrorReply {
    ErrorCode code = ErrorCode::kInternal;
    std::string message;  // at most limits::kMaxMessageTextBytes
    bool operator==(const ErrorReply&) const = default;
};

struct ManifestText {
    ChannelId channel;
    std::string text;  // at most limits::kMaxManifestBytes
    bool operator==(const ManifestText&) const = default;
};

struct ChannelPeerEntry {
    asio::ip::address address;
    std::uint16_t port = 0;
    UserId user;
    std::uint64_t version = 0;  // the version it holds (0: none yet)
    bool operator==(const ChannelPeerEntry&) const = default;
};

struct ChannelPeers {
    ChannelId channel;
    std::vector<ChannelPeerEntry> peers;  // at most limits::kMaxNumWant
    bool operator==(const ChannelPeers&) const = default;
};

struct ChannelInfo {
    ChannelId channel;
    std::string name;  // the head's name (validate_channel_name() holds)
    std::uint64_t version = 0;
    std::uint32_t files = 0;
    std::uint64_t size = 0;       // bytes in all its files
    std::uint32_t followers = 0;  // live peers following it
    bool operator==(const ChannelInfo&) const = default;
};

struct Channels {
    std::vector<ChannelInfo> channels;  // at most limits::kMaxListChannelsPage
    bool more = false;                  // ask again with after = channels.back().channel
    bool operator==(const Channels&) const = default;
};

using Response = std::variant<Joined, OkReply, FileListOk, Peers, Files, SeedText, ErrorReply,
                              ManifestText, ChannelPeers, Channels>;

// Complete frames (header included).
Bytes encode(const Request& r);
Bytes encode(const Response& r);

// From a frame's type byte and payload. Join with another version decodes to
// a Join holding only that version, so the tracker can answer it clearly.
Result<Request> decode_request(std::uint8_t type, ByteSpan payload);
Result<Response> decode_response(std::uint8_t type, ByteSpan payload);

// The largest payload a request of this type can have (0: not a request
// type), from the message table in tracker_protocol.cpp.
std::size_t max_request_payload(std::uint8_t type);
// The tracker's check of a frame header before it reads the payload: a
// request type, within its limit ("unknown request type Joined", "Heartbeat
// of 100000 bytes is over its limit of 16"), so a 16-byte Heartbeat cannot
// announce megabytes.
Status check_request_header(const FrameHeader& h);

// "Join", "Peers", ... ("0x42" for unknown types), and "kBadToken"-style
// names without the k ("BadToken"), for logs and error messages.
std::string type_name(std::uint8_t type);
std::string_view error_code_name(ErrorCode code);

// True for the errors after which the tracker closes the connection
// (VersionMismatch, Malformed, JoinFirst, BadToken, UserIdInUse,
// UnknownPeer): the peer reconnects and joins again.
bool ends_connection(ErrorCode code);

}  // namespace seedshare::tracker_proto
