#include "common/wire/peer_protocol.hpp"

#include <fmt/format.h>

#include <array>

#include "common/core/limits.hpp"
#include "common/wire/frame.hpp"
#include "common/wire/message_reader.hpp"
#include "common/wire/message_table.hpp"

namespace seedshare::peer_proto {

namespace {

// This version's Hello is exactly 4 + 2 + 32 + 16 + 2 + 1 bytes (the
// decoder checks); the limit leaves room for other versions' Hellos, which
// decode to their version alone (so they are answered VersionMismatch).
constexpr std::size_t kMaxHelloBytes = 256;
constexpr std::size_t kBlockBytes = 12;

constexpr std::uint8_t u8(Type t) {
    return static_cast<std::uint8_t>(t);
}

void put_block(ByteWriter& w, const Block& b) {
    w.u32(b.chunk.value);
    w.u32(b.offset);
    w.u32(b.length);
}

void read_block(wire::MessageReader& r, Block& b) {
    r.u32(b.chunk.value, "chunk");
    r.u32(b.offset, "offset");
    r.u32(b.length, "length");
}

struct Encoder {
    Bytes& out;

    void operator()(const Hello& m) {
        FrameWriter f(out, u8(Type::kHello));
        auto& w = f.body();
        w.u32(kMagic);
        w.u16(m.version);
        w.raw(m.seed.span());
        w.raw(m.user.span());
        w.u16(m.listen_port);
        w.u8(m.flags);
        f.finish();
    }
    void operator()(const BitfieldMsg& m) {
        FrameWriter f(out, u8(Type::kBitfield));
        f.body().u32(m.have.size());
        f.body().raw(ByteSpan(m.have.bytes()));
        f.finish();
    }
    void operator()(const Have& m) {
        FrameWriter f(out, u8(Type::kHave));
        f.body().u32(m.chunk.value);
        f.finish();
    }
    void block(Type t, const Block& b) {
        FrameWriter f(out, u8(t));
        put_block(f.body(), b);
        f.finish();
    }
    void operator()(const Request& m) { block(Type::kRequest, m.block); }
    void operator()(const Cancel& m) { block(Type::kCancel, m.block); }
    void operator()(const Reject& m) { block(Type::kReject, m.block); }
    void operator()(const Piece& m) {
        FrameWriter f(out, u8(Type::kPiece));
        f.body().u32(m.chunk.value);
        f.body().u32(m.offset);
        f.body().raw(m.data);
        f.finish();
    }
    void operator()(const KeepAlive&) {
        FrameWriter f(out, u8(Type::kKeepAlive));
        f.finish();
    }
    void operator()(const PeerList& m) {
        FrameWriter f(out, u8(Type::kPeerList));
        wire::put_peer_list(f.body(), m.peers);
        wire::put_peer_list(f.body(), m.dropped);
        f.finish();
    }
    void operator()(const Goodbye&) {
        FrameWriter f(out, u8(Type::kGoodbye));
        f.finish();
    }
    void operator()(const GetPeers&) {
        FrameWriter f(out, u8(Type::kGetPeers));
        f.finish();
    }
    void operator()(const ErrorMsg& m) {
        FrameWriter f(out, u8(Type::kError));
        f.body().u16(static_cast<std::uint16_t>(m.code));
        f.body().str16(std::string_view(m.message).substr(0, limits::kMaxMessageTextBytes));
        f.finish();
    }
};

// --- decoders, one per message (layouts: docs/PROTOCOL.md) -------------------

Result<Message> decode_hello(ByteSpan p) {
    wire::MessageReader r(p, "Hello");
    Hello h;
    std::uint32_t magic = 0;
    if (r.u32(magic, "magic") && magic != kMagic)
        r.fail(fmt::format("magic 0x{:08x} is not 0x{:08x} (not a seedshare peer)", magic, kMagic));
    r.u16(h.version, "version");
    if (r.ok() && h.version != kVersion) return Message{h};  // the caller reports the mismatch
    r.id(h.seed, "seed id");
    r.id(h.user, "userid");
    r.u16(h.listen_port, "listen port");
    r.u8(h.flags, "flags");
    return r.finish(Message{h});
}

Result<Message> decode_bitfield(ByteSpan p) {
    wire::MessageReader r(p, "Bitfield");
    std::uint32_t n = 0;
    if (r.u32(n, "chunk count")) r.in_range(n, 0, limits::kMaxChunkCount, "chunk count");
    ByteSpan bits;
    if (r.ok()) r.rest(bits);
    if (auto d = r.done(); !d) return d.error();
    auto b = Bitfield::from_bytes(n, bits);
    if (!b) return Error{fmt::format("Bitfield: {}", b.error().message)};
    return Message{BitfieldMsg{std::move(*b)}};
}

Result<Message> decode_have(ByteSpan p) {
    wire::MessageReader r(p, "Have");
    Have h;
    r.u32(h.chunk.value, "chunk");
    return r.finish(Message{h});
}

template <class M>
Result<Message> decode_block_message(ByteSpan p, std::string_view name) {
    wire::MessageReader r(p, name);
    M m;
    read_block(r, m.block);
    return r.finish(Message{m});
}
Result<Message> decode_request(ByteSpan p) {
    return decode_block_message<Request>(p, "Request");
}
Result<Message> decode_cancel(ByteSpan p) {
    return decode_block_message<Cancel>(p, "Cancel");
}
Result<Message> decode_reject(ByteSpan p) {
    return decode_block_message<Reject>(p, "Reject");
}

Result<Message> decode_piece(ByteSpan p) {
    wire::MessageReader r(p, "Piece");
    Piece m;
    r.u32(m.chunk.value, "chunk");
    r.u32(m.offset, "offset");
    if (r.ok()) r.in_range(r.remaining(), 1, limits::kMaxBlockBytes, "data length");
    if (r.ok()) r.rest(m.data);
    return r.finish(Message{m});
}

Result<Message> decode_keep_alive(ByteSpan p) {
    return wire::MessageReader(p, "KeepAlive").finish(Message{KeepAlive{}});
}

Result<Message> decode_goodbye(ByteSpan p) {
    return wire::MessageReader(p, "Goodbye").finish(Message{Goodbye{}});
}

Result<Message> decode_get_peers(ByteSpan p) {
    return wire::MessageReader(p, "GetPeers").finish(Message{GetPeers{}});
}

Result<Message> decode_peer_list(ByteSpan p) {
    wire::MessageReader r(p, "PeerList");
    PeerList list;
    if (wire::read_peer_list(r, list.peers)) wire::read_peer_list(r, list.dropped);
    if (auto d = r.done(); !d) return d.error();
    return Message{std::move(list)};
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

// The message table: every peer message once, in the order of Message.
constexpr std::array<wire::MessageSpec<Message>, 12> kMessages{{
    {u8(Type::kHello), "Hello", kMaxHelloBytes, decode_hello},
    {u8(Type::kBitfield), "Bitfield", 4 + limits::kMaxChunkCount / 8, decode_bitfield},
    {u8(Type::kHave), "Have", 4, decode_have},
    {u8(Type::kRequest), "Request", kBlockBytes, decode_request},
    {u8(Type::kCancel), "Cancel", kBlockBytes, decode_cancel},
    {u8(Type::kReject), "Reject", kBlockBytes, decode_reject},
    {u8(Type::kPiece), "Piece", kPieceHeaderBytes + limits::kMaxBlockBytes, decode_piece},
    {u8(Type::kKeepAlive), "KeepAlive", 0, decode_keep_alive},
    {u8(Type::kPeerList), "PeerList", 2 * (2 + limits::kMaxPeerListEntries * (1 + 16 + 2)),
     decode_peer_list},
    {u8(Type::kGoodbye), "Goodbye", 0, decode_goodbye},
    {u8(Type::kGetPeers), "GetPeers", 0, decode_get_peers},
    {u8(Type::kError), "Error", 2 + 2 + limits::kMaxMessageTextBytes, decode_error},
}};
static_assert(kMessages.size() == std::variant_size_v<Message>);
static_assert(kMessages[0].type == u8(Type::kHello) && kMessages[11].type == u8(Type::kError));

const wire::MessageSpec<Message>* spec_of(std::uint8_t type) {
    return wire::find_spec<Message>(kMessages, type);
}

}  // namespace

Bytes encode(const Message& m) {
    Bytes out;
    std::visit(Encoder{out}, m);
    return out;
}

Bytes encode_piece_header(ChunkIndex chunk, std::uint32_t offset, std::uint32_t length) {
    Bytes out;
    ByteWriter w(out);
    w.u32(static_cast<std::uint32_t>(1 + kPieceHeaderBytes + length));
    w.u8(u8(Type::kPiece));
    w.u32(chunk.value);
    w.u32(offset);
    return out;
}

std::size_t max_payload(std::uint8_t type) {
    const auto* s = spec_of(type);
    return s != nullptr ? s->max_payload : 0;
}

std::string type_name(std::uint8_t type) {
    if (const auto* s = spec_of(type)) return std::string(s->name);
    return std::to_string(type);  // as the peer has always said it: "message type 66"
}

Status check_header(const FrameHeader& h) {
    return wire::check_header<Message>(kMessages, h, type_name(h.type), "message");
}

Result<Message> decode(std::uint8_t type, ByteSpan payload) {
    const auto* s = spec_of(type);
    if (s == nullptr) return Error{fmt::format("unknown message type {}", type_name(type))};
    if (payload.size() > s->max_payload)
        return Error{fmt::format("{} of {} bytes is over its limit of {}", s->name, payload.size(),
                                 s->max_payload)};
    return s->decode(payload);
}

Status check_block(const Seed& seed, const Block& b) {
    if (b.chunk.value >= seed.chunk_count())
        return Error{
            fmt::format("chunk {} is past the last chunk ({})", b.chunk.value, seed.chunk_count())};
    if (b.length == 0 || b.length > limits::kMaxBlockBytes)
        return Error{
            fmt::format("block length {} is not within 1..{}", b.length, limits::kMaxBlockBytes)};
    if (std::uint64_t{b.offset} + b.length > seed.chunk_length(b.chunk))
        return Error{fmt::format("block {}+{} is past the end of chunk {} ({} bytes)", b.offset,
                                 b.length, b.chunk.value, seed.chunk_length(b.chunk))};
    return Ok{};
}

}  // namespace seedshare::peer_proto
