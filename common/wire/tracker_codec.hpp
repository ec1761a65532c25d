// Inside the tracker codec (not for other users): the payload writers and
// decoders of every message, shared by tracker_requests.cpp,
// tracker_responses.cpp and the message table in tracker_protocol.cpp.
#pragma once

#include "common/core/bytes.hpp"
#include "common/core/limits.hpp"
#include "common/wire/message_reader.hpp"
#include "common/wire/tracker_protocol.hpp"

namespace seedshare::tracker_proto::codec {

// Largest file a seed can describe: every chunk at the largest size.
inline constexpr std::uint64_t kMaxFileLength =
    std::uint64_t{limits::kMaxChunkCount} * limits::kMaxChunkSize;

inline constexpr std::size_t kIdBytes = SeedId::kSize;
inline constexpr std::size_t kTokenBytes = Token::kSize;
inline constexpr std::size_t kUserBytes = UserId::kSize;
// id, name length (u16, name >= 1 byte), length u64, complete u8.
inline constexpr std::size_t kMinFileEntryBytes = kIdBytes + 2 + 1 + 8 + 1;
inline constexpr std::size_t kMaxFileEntryBytes = kIdBytes + 2 + limits::kMaxNameBytes + 8 + 1;
// family u8, IPv4 address, port, userid, complete.
inline constexpr std::size_t kMinPeerEntryBytes = 1 + 4 + 2 + kUserBytes + 1;
inline constexpr std::size_t kMinFileInfoBytes = kIdBytes + 2 + 1 + 8 + 4 + 4;
inline constexpr std::size_t kChannelBytes = ChannelId::kSize;
// channel, version u64.
inline constexpr std::size_t kFollowEntryBytes = kChannelBytes + 8;
// family u8, IPv4 address, port, userid, version.
inline constexpr std::size_t kMinChannelPeerBytes = 1 + 4 + 2 + kUserBytes + 8;
// channel, name length (u16, may be empty), version, files, size, followers.
inline constexpr std::size_t kMinChannelInfoBytes = kChannelBytes + 2 + 8 + 4 + 8 + 4;

template <std::size_t N, class Tag>
void put(ByteWriter& w, const FixedId<N, Tag>& id) {
    w.raw(id.span());
}

inline void put_bool(ByteWriter& w, bool b) {
    w.u8(b ? 1 : 0);
}

// Payload writers, one per message.
void write_body(ByteWriter& w, const Join& m);
void write_body(ByteWriter& w, const Heartbeat& m);
void write_body(ByteWriter& w, const FileList& m);
void write_body(ByteWriter& w, const PutSeed& m);
void write_body(ByteWriter& w, const GetPeers& m);
void write_body(ByteWriter& w, const ListFiles& m);
void write_body(ByteWriter& w, const GetSeed& m);
void write_body(ByteWriter& w, const Leave& m);
void write_body(ByteWriter& w, const PutManifest& m);
void write_body(ByteWriter& w, const GetManifest& m);
void write_body(ByteWriter& w, const FollowChannels& m);
void write_body(ByteWriter& w, const GetChannelPeers& m);
void write_body(ByteWriter& w, const ListChannels& m);
void write_body(ByteWriter& w, const Joined& m);
void write_body(ByteWriter& w, const OkReply& m);
void write_body(ByteWriter& w, const FileListOk& m);
void write_body(ByteWriter& w, const Peers& m);
void write_body(ByteWriter& w, const Files& m);
void write_body(ByteWriter& w, const SeedText& m);
void write_body(ByteWriter& w, const ErrorReply& m);
void write_body(ByteWriter& w, const ManifestText& m);
void write_body(ByteWriter& w, const ChannelPeers& m);
void write_body(ByteWriter& w, const Channels& m);

// Decoders, one per message: the payload after the type byte.
Result<Request> decode_join(ByteSpan p);
Result<Request> decode_heartbeat(ByteSpan p);
Result<Request> decode_file_list(ByteSpan p);
Result<Request> decode_put_seed(ByteSpan p);
Result<Request> decode_get_peers(ByteSpan p);
Result<Request> decode_list_files(ByteSpan p);
Result<Request> decode_get_seed(ByteSpan p);
Result<Request> decode_leave(ByteSpan p);
Result<Request> decode_put_manifest(ByteSpan p);
Result<Request> decode_get_manifest(ByteSpan p);
Result<Request> decode_follow_channels(ByteSpan p);
Result<Request> decode_get_channel_peers(ByteSpan p);
Result<Request> decode_list_channels(ByteSpan p);
Result<Response> decode_joined(ByteSpan p);
Result<Response> decode_ok(ByteSpan p);
Result<Response> decode_file_list_ok(ByteSpan p);
Result<Response> decode_peers(ByteSpan p);
Result<Response> decode_files(ByteSpan p);
Result<Response> decode_seed_text(ByteSpan p);
Result<Response> decode_error(ByteSpan p);
Result<Response> decode_manifest_text(ByteSpan p);
Result<Response> decode_channel_peers(ByteSpan p);
Result<Response> decode_channels(ByteSpan p);

// A file name field: at most kMaxNameBytes, and validate_file_name() holds.
bool read_name(wire::MessageReader& r, std::string& name, std::string_view field);
// A channel's name (from its manifest): validate_channel_name() holds.
bool read_channel_name(wire::MessageReader& r, std::string& name, std::string_view field);
// numwant in 1..kMaxNumWant.
bool check_numwant(wire::MessageReader& r, std::uint16_t numwant);

}  // namespace seedshare::tracker_proto::codec
