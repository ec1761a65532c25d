#include "common/wire/channel_protocol.hpp"

#include <fmt/format.h>

#include <array>

#include "common/wire/message_reader.hpp"
#include "common/wire/message_table.hpp"

namespace seedshare::channel_proto {

namespace {

constexpr std::size_t kVersionRefBytes =
    8 + Digest::kSize + 1 + limits::kMaxHandovers * Digest::kSize;
constexpr std::size_t kHelloBytes = 4 + 2 + ChannelId::kSize + UserId::kSize + 2 + kVersionRefBytes;
constexpr std::size_t kPartHeaderBytes = kVersionRefBytes + 4 + 4;
constexpr std::size_t kSeedPartHeaderBytes = SeedId::kSize + 4 + 4;

constexpr std::uint8_t u8(Type t) {
    return static_cast<std::uint8_t>(t);
}

void put_ref(ByteWriter& w, const VersionRef& v) {
    w.u64(v.number);
    w.raw(v.body_hash.span());
    w.u8(static_cast<std::uint8_t>(v.chain.size()));  // <= kMaxHandovers, checked by the sender
    for (const auto& id : v.chain)
        w.raw(id.span());
}

// A version number is 1..2^63-1 (seeds/MANIFEST.md); 0 only with an all-zero
// hash and no chain, meaning none. A chain has at most kMaxHandovers ids, none
// of them all zero.
void read_ref(wire::MessageReader& r, VersionRef& v, bool none_allowed) {
    if (r.u64(v.number, "version number"))
        r.in_range(v.number, none_allowed ? 0 : 1, limits::kMaxManifestVersion, "version number");
    if (r.id(v.body_hash, "body hash") && (v.number == 0) != v.body_hash.is_zero())
        r.fail(v.number == 0 ? "version 0 (none) with a body hash"
                             : "a version without its body hash");
    std::uint8_t links = 0;
    if (!r.u8(links, "hand-over links") ||
        !r.in_range(links, 0, v.number == 0 ? 0 : limits::kMaxHandovers, "hand-over links"))
        return;
    v.chain.resize(links);
    for (auto& id : v.chain)
        if (r.id(id, "chain id") && id.is_zero()) r.fail("a chain id of zeros");
}

struct Encoder {
    Bytes& out;

    void operator()(const ChannelHello& m) {
        FrameWriter f(out, u8(Type::kChannelHello));
        auto& w = f.body();
        w.u32(kMagic);
        w.u16(m.version);
        w.raw(m.channel.span());
        w.raw(m.user.span());
        w.u16(m.listen_port);
        put_ref(w, m.held);
        f.finish();
    }
    void operator()(const Announce& m) {
        FrameWriter f(out, u8(Type::kAnnounce));
        put_ref(f.body(), m.held);
        f.finish();
    }
    void operator()(const ManifestRequest& m) {
        FrameWriter f(out, u8(Type::kManifestRequest));
        put_ref(f.body(), m.want);
        f.finish();
    }
    void operator()(const ManifestPart& m) {
        FrameWriter f(out, u8(Type::kManifestPart));
        put_ref(f.body(), m.of);
        f.body().u32(m.total);
        f.body().u32(m.offset);
        f.body().raw(m.data);
        f.finish();
    }
    void operator()(const PeerList& m) {
        FrameWriter f(out, u8(Type::kPeerList));
        wire::put_peer_list(f.body(), m.peers);
        f.finish();
    }
    void operator()(const KeepAlive&) {
        FrameWriter f(out, u8(Type::kKeepAlive));
        f.finish();
    }
    void operator()(const Goodbye&) {
        FrameWriter f(out, u8(Type::kGoodbye));
        f.finish();
    }
    // A seed id alone (SeedRequest, SeedUnknown, FileRequest, FileUnknown).
    void id_only(Type t, const SeedId& id) {
        FrameWriter f(out, u8(t));
        f.body().raw(id.span());
        f.finish();
    }
    // A part of a seed's text or of a file (SeedPart, FilePart).
    template <typename Part>
    void part(Type t, const Part& m) {
        FrameWriter f(out, u8(t));
        f.body().raw(m.id.span());
        f.body().u32(m.total);
        f.body().u32(m.offset);
        f.body().raw(m.data);
        f.finish();
    }
    void operator()(const SeedRequest& m) { id_only(Type::kSeedRequest, m.id); }
    void operator()(const SeedPart& m) { part(Type::kSeedPart, m); }
    void operator()(const SeedUnknown& m) { id_only(Type::kSeedUnknown, m.id); }
    void operator()(const FileRequest& m) { id_only(Type::kFileRequest, m.id); }
    void operator()(const FilePart& m) { part(Type::kFilePart, m); }
    void operator()(const FileUnknown& m) { id_only(Type::kFileUnknown, m.id); }
    void operator()(const ErrorMsg& m) {
        FrameWriter f(out, u8(Type::kError));
        f.body().u16(static_cast<std::uint16_t>(m.code));
        f.body().str16(std::string_view(m.message).substr(0, limits::kMaxMessageTextBytes));
        f.finish();
    }
};

// --- decoders, one per message (layouts: docs/PROTOCOL.md) -------------------

Result<Message> decode_hello(ByteSpan p) {
    wire::MessageReader r(p, "ChannelHello");
    ChannelHello h;
    std::uint32_t magic = 0;
    if (r.u32(magic, "magic") && magic != kMagic)
        r.fail(fmt::format("magic 0x{:08x} is not 0x{:08x} (not a seedshare channel peer)", magic,
                           kMagic));
    r.u16(h.version, "version");
    if (r.ok() && h.version != kVersion) return Message{h};  // the caller reports the mismatch
    r.id(h.channel, "channel id");
    r.id(h.user, "userid");
    r.u16(h.listen_port, "listen port");
    read_ref(r, h.held, true);
    return r.finish(Message{h});
}

Result<Message> decode_announce(ByteSpan p) {
    wire::MessageReader r(p, "Announce");
    Announce m;
    read_ref(r, m.held, false);
    return r.finish(Message{m});
}

Result<Message> decode_manifest_request(ByteSpan p) {
    wire::MessageReader r(p, "ManifestRequest");
    ManifestRequest m;
    read_ref(r, m.want, false);
    return r.finish(Message{m});
}

Result<Message> decode_manifest_part(ByteSpan p) {
    wire::MessageReader r(p, "ManifestPart");
    ManifestPart m;
    read_ref(r, m.of, false);
    if (r.u32(m.total, "total")) r.in_range(m.total, 1, limits::kMaxManifestBytes, "total");
    r.u32(m.offset, "offset");
    if (r.ok()) r.in_range(r.remaining(), 1, limits::kMaxManifestPartBytes, "data length");
    if (r.ok() && std::uint64_t{m.offset} + r.remaining() > m.total)
        r.fail(fmt::format("part {}+{} is past the end of the manifest ({} bytes)", m.offset,
                           r.remaining(), m.total));
    if (r.ok()) r.rest(m.data);
    return r.finish(Message{m});
}

Result<Message> decode_peer_list(ByteSpan p) {
    wire::MessageReader r(p, "PeerList");
    PeerList list;
    wire::read_peer_list(r, list.peers);
    if (auto d = r.done(); !d) return d.error();
    return Message{std::move(list)};
}

Result<Message> decode_keep_alive(ByteSpan p) {
    return wire::MessageReader(p, "KeepAlive").finish(Message{KeepAlive{}});
}

Result<Message> decode_goodbye(ByteSpan p) {
    return wire::MessageReader(p, "Goodbye").finish(Message{Goodbye{}});
}

// A message that is a seed id alone.
template <typename T>
Result<Message> decode_id_only(ByteSpan p, const char* name) {
    wire::MessageReader r(p, name);
    T m;
    r.id(m.id, "seed id");
    return r.finish(Message{m});
}

// A part of `what` (a seed's text, a file) whose whole is 1..max_total bytes.
template <typename T>
Result<Message> decode_part(ByteSpan p, const char* name, std::uint32_t max_total,
                            std::string_view what) {
    wire::MessageReader r(p, name);
    T m;
    r.id(m.id, "seed id");
    if (r.u32(m.total, "total")) r.in_range(m.total, 1, max_total, "total");
    r.u32(m.offset, "offset");
    if (r.ok()) r.in_range(r.remaining(), 1, limits::kMaxManifestPartBytes, "data length");
    if (r.ok() && std::uint64_t{m.offset} + r.remaining() > m.total)
        r.fail(fmt::format("part {}+{} is past the end of the {} ({} bytes)", m.offset,
                           r.remaining(), what, m.total));
    if (r.ok()) r.rest(m.data);
    return r.finish(Message{m});
}

Result<Message> decode_seed_request(ByteSpan p) {
    return decode_id_only<SeedRequest>(p, "SeedRequest");
}
Result<Message> decode_seed_part(ByteSpan p) {
    return decode_part<SeedPart>(p, "SeedPart", limits::kMaxSeedBytes, "seed");
}
Result<Message> decode_seed_unknown(ByteSpan p) {
    return decode_id_only<SeedUnknown>(p, "SeedUnknown");
}
Result<Message> decode_file_request(ByteSpan p) {
    return decode_id_only<FileRequest>(p, "FileRequest");
}
Result<Message> decode_file_part(ByteSpan p) {
    return decode_part<FilePart>(p, "FilePart", limits::kMaxMeshFileBytes, "file");
}
Result<Message> decode_file_unknown(ByteSpan p) {
    return decode_id_only<FileUnknown>(p, "FileUnknown");
}

Result<Message> decode_error(ByteSpan p) {
    wire::MessageReader r(p, "Error");
    ErrorMsg e;
    std::uint16_t code = 0;
    if (r.u16(code, "code"))
        r.in_range(code, static_cast<std::uint16_t>(kFirstErrorCode),
                   static_cast<std::uint16_t>(kLastErrorCode), "code");
    e.code = static_cast<ErrorCode>(code);
    r.str16(e.message, limits::kMaxMessageTextBytes, "message");
    if (auto d = r.done(); !d) return d.error();
    return Message{std::move(e)};
}

// The message table: every channel message once, in the order of Message.
constexpr std::array<wire::MessageSpec<Message>, 14> kMessages{{
    {u8(Type::kChannelHello), "ChannelHello", kHelloBytes, decode_hello},
    {u8(Type::kAnnounce), "Announce", kVersionRefBytes, decode_announce},
    {u8(Type::kManifestRequest), "ManifestRequest", kVersionRefBytes, decode_manifest_request},
    {u8(Type::kManifestPart), "ManifestPart", kPartHeaderBytes + limits::kMaxManifestPartBytes,
     decode_manifest_part},
    {u8(Type::kPeerList), "PeerList", 2 + limits::kMaxPeerListEntries*(1 + 16 + 2),
     decode_peer_list},
    {u8(Type::kKeepAlive), "KeepAlive", 0, decode_keep_alive},
    {u8(Type::kGoodbye), "Goodbye", 0, decode_goodbye},
    {u8(Type::kSeedRequest), "SeedRequest", SeedId::kSize, decode_seed_request},
    {u8(Type::kSeedPart), "SeedPart", kSeedPartHeaderBytes + limits::kMaxManifestPartBytes,
     decode_seed_part},
    {u8(Type::kSeedUnknown), "SeedUnknown", SeedId::kSize, decode_seed_unknown},
    {u8(Type::kFileRequest), "FileRequest", SeedId::kSize, decode_file_request},
    {u8(Type::kFilePart), "FilePart", kSeedPartHeaderBytes + limits::kMaxManifestPartBytes,
     decode_file_part},
    {u8(Type::kFileUnknown), "FileUnknown", SeedId::kSize, decode_file_unknown},
    {u8(Type::kError), "Error", 2 + 2 + limits::kMaxMessageTextBytes, decode_error},
}};
static_assert(kMessages.size() == std::variant_size_v<Message>);
static_assert(kMessages[0].type == u8(Type::kChannelHello) &&
              kMessages[13].type == u8(Type::kError));
static_assert(kSeedPartHeaderBytes <= kPartHeaderBytes);  // max_frame_bytes() still holds
static_assert(limits::kMaxSeedBytes <= UINT32_MAX);
static_assert(limits::kMaxMeshFileBytes <= limits::kMaxManifestPartBytes);  // one part
// A channel connection arrives through the Node's greeting, which reads the
// first frame with the peer protocol's frame limit.
static_assert(kPartHeaderBytes + limits::kMaxManifestPartBytes + 1 <= limits::kMaxPeerFrameBytes);

const wire::MessageSpec<Message>* spec_of(std::uint8_t type) {
    return wire::find_spec<Message>(kMessages, type);
}

}  // namespace

Bytes encode(const Message& m) {
    Bytes out;
    std::visit(Encoder{out}, m);
    return out;
}

std::size_t max_payload(std::uint8_t type) {
    const auto* s = spec_of(type);
    return s != nullptr ? s->max_payload : 0;
}

std::size_t max_frame_bytes() {
    return 1 + kPartHeaderBytes + limits::kMaxManifestPartBytes;
}

std::string type_name(std::uint8_t type) {
    if (const auto* s = spec_of(type)) return std::string(s->name);
    return fmt::format("0x{:02x}", type);
}

Status check_header(const FrameHeader& h) {
    return wire::check_header<Message>(kMessages, h, type_name(h.type), "channel message");
}

Result<Message> decode(std::uint8_t type, ByteSpan payload) {
    const auto* s = spec_of(type);
    if (s == nullptr) return Error{fmt::format("unknown channel message type {}", type_name(type))};
    if (payload.size() > s->max_payload)
        return Error{fmt::format("{} of {} bytes is over its limit of {}", s->name, payload.size(),
                                 s->max_payload)};
    return s->decode(payload);
}

}  // namespace seedshare::channel_proto
