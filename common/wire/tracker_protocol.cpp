// The tracker protocol codec: the message table (every message registered
// once: type, name, payload limit, decoder) and what is built on it. The
// payloads are written and read in tracker_requests.cpp and
// tracker_responses.cpp; byte layouts in docs/PROTOCOL.md.
#include "common/wire/tracker_protocol.hpp"

#include <fmt/format.h>

#include <array>

#include "common/wire/frame.hpp"
#include "common/wire/message_table.hpp"
#include "common/wire/tracker_codec.hpp"

namespace seedshare::tracker_proto {

namespace {

using namespace codec;

constexpr std::uint8_t u8(Type t) {
    return static_cast<std::uint8_t>(t);
}
template <class T>
using Spec = wire::MessageSpec<T>;

// The message table. Rows in the order of the Request and Response variants
// (checked below and by encode()).
constexpr std::array<Spec<Request>, 13> kRequests{{
    // Room for a longer Join from a newer version, so it can be told apart.
    {u8(Type::kJoin), "Join", limits::kMaxTrackerJoinBytes, decode_join},
    {u8(Type::kHeartbeat), "Heartbeat", kTokenBytes, decode_heartbeat},
    {u8(Type::kFileList), "FileList",
     kTokenBytes + 1 + 4 + 4 + limits::kMaxFileListEntries* kMaxFileEntryBytes, decode_file_list},
    {u8(Type::kPutSeed), "PutSeed", kTokenBytes + 4 + limits::kMaxSeedBytes, decode_put_seed},
    {u8(Type::kGetPeers), "GetPeers", kTokenBytes + kIdBytes + 2, decode_get_peers},
    {u8(Type::kListFiles), "ListFiles", kTokenBytes + 1 + kIdBytes + 2, decode_list_files},
    {u8(Type::kGetSeed), "GetSeed", kTokenBytes + kIdBytes, decode_get_seed},
    {u8(Type::kLeave), "Leave", kTokenBytes, decode_leave},
    {u8(Type::kPutManifest), "PutManifest", kTokenBytes + 4 + limits::kMaxManifestBytes,
     decode_put_manifest},
    {u8(Type::kGetManifest), "GetManifest", kTokenBytes + kChannelBytes, decode_get_manifest},
    {u8(Type::kFollowChannels), "FollowChannels",
     kTokenBytes + 1 + 4 + 4 + limits::kMaxFollowEntries* kFollowEntryBytes,
     decode_follow_channels},
    {u8(Type::kGetChannelPeers), "GetChannelPeers", kTokenBytes + kChannelBytes + 2,
     decode_get_channel_peers},
    {u8(Type::kListChannels), "ListChannels", kTokenBytes + 1 + kChannelBytes + 2,
     decode_list_channels},
}};
// Responses are bounded by the tracker frame limit only.
constexpr std::size_t kMaxResponse = limits::kMaxTrackerFrameBytes - 1;
constexpr std::array<Spec<Response>, 10> kResponses{{
    {u8(Type::kJoined), "Joined", kMaxResponse, decode_joined},
    {u8(Type::kOk), "Ok", kMaxResponse, decode_ok},
    {u8(Type::kFileListOk), "FileListOk", kMaxResponse, decode_file_list_ok},
    {u8(Type::kPeers), "Peers", kMaxResponse, decode_peers},
    {u8(Type::kFiles), "Files", kMaxResponse, decode_files},
    {u8(Type::kSeedText), "SeedText", kMaxResponse, decode_seed_text},
    {u8(Type::kError), "Error", kMaxResponse, decode_error},
    {u8(Type::kManifestText), "ManifestText", kMaxResponse, decode_manifest_text},
    {u8(Type::kChannelPeers), "ChannelPeers", kMaxResponse, decode_channel_peers},
    {u8(Type::kChannels), "Channels", kMaxResponse, decode_channels},
}};
static_assert(kRequests.size() == std::variant_size_v<Request>);
static_assert(kResponses.size() == std::variant_size_v<Response>);
static_assert(kRequests[0].type == u8(Type::kJoin) && kRequests[7].type == u8(Type::kLeave) &&
              kRequests[12].type == u8(Type::kListChannels));
static_assert(kResponses[0].type == u8(Type::kJoined) && kResponses[6].type == u8(Type::kError) &&
              kResponses[9].type == u8(Type::kChannels));
// The largest manifest fits a frame, with its PutManifest or ManifestText around it.
static_assert(kTokenBytes + 4 + limits::kMaxManifestBytes < limits::kMaxTrackerFrameBytes - 1);
static_assert(kChannelBytes + 4 + limits::kMaxManifestBytes < kMaxResponse);

template <class V, std::size_t N>
Bytes encode_variant(const V& v, const std::array<Spec<V>, N>& table) {
    Bytes out;
    std::visit(
        [&](const auto& m) {
            FrameWriter fw(out, table[v.index()].type);
            write_body(fw.body(), m);
            fw.finish();
        },
        v);
    return out;
}

}  // namespace

Bytes encode(const Request& r) {
    return encode_variant(r, kRequests);
}
Bytes encode(const Response& r) {
    return encode_variant(r, kResponses);
}

Result<Request> decode_request(std::uint8_t type, ByteSpan payload) {
    const auto* s = wire::find_spec<Request>(kRequests, type);
    if (s == nullptr) return Error{fmt::format("unknown request type {}", type_name(type))};
    return s->decode(payload);
}

Result<Response> decode_response(std::uint8_t type, ByteSpan payload) {
    const auto* s = wire::find_spec<Response>(kResponses, type);
    if (s == nullptr) return Error{fmt::format("unknown response type {}", type_name(type))};
    return s->decode(payload);
}

std::size_t max_request_payload(std::uint8_t type) {
    const auto* s = wire::find_spec<Request>(kRequests, type);
    return s != nullptr ? s->max_payload : 0;
}

Status check_request_header(const FrameHeader& h) {
    return wire::check_header<Request>(kRequests, h, type_name(h.type), "request");
}

std::string type_name(std::uint8_t type) {
    if (const auto* s = wire::find_spec<Request>(kRequests, type)) return std::string(s->name);
    if (const auto* s = wire::find_spec<Response>(kResponses, type)) return std::string(s->name);
    return fmt::format("0x{:02x}", type);
}

bool ends_connection(ErrorCode code) {
    switch (code) {
        case ErrorCode::kVersionMismatch:
        case ErrorCode::kMalformed:
        case ErrorCode::kJoinFirst:
        case ErrorCode::kBadToken:
        case ErrorCode::kUserIdInUse:
        case ErrorCode::kUnknownPeer:
            return true;
        case ErrorCode::kUnknownSeed:
        case ErrorCode::kSeedMismatch:
        case ErrorCode::kLimit:
        case ErrorCode::kInternal:
        case ErrorCode::kUnknownChannel:
        case ErrorCode::kManifestRefused:
        case ErrorCode::kManifestStale:
        case ErrorCode::kManifestConflict:
            return false;
    }
    return true;
}

std::string_view error_code_name(ErrorCode code) {
    switch (code) {
        case ErrorCode::kVersionMismatch:
            return "VersionMismatch";
        case ErrorCode::kMalformed:
            return "Malformed";
        case ErrorCode::kJoinFirst:
            return "JoinFirst";
        case ErrorCode::kBadToken:
            return "BadToken";
        case ErrorCode::kUserIdInUse:
            return "UserIdInUse";
        case ErrorCode::kUnknownPeer:
            return "UnknownPeer";
        case ErrorCode::kUnknownSeed:
            return "UnknownSeed";
        case ErrorCode::kSeedMismatch:
            return "SeedMismatch";
        case ErrorCode::kLimit:
            return "Limit";
        case ErrorCode::kInternal:
            return "Internal";
        case ErrorCode::kUnknownChannel:
            return "UnknownChannel";
        case ErrorCode::kManifestRefused:
            return "ManifestRefused";
        case ErrorCode::kManifestStale:
            return "ManifestStale";
        case ErrorCode::kManifestConflict:
            return "ManifestConflict";
    }
    return "Unknown";
}

}  // namespace seedshare::tracker_proto
