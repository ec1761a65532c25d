#include "common/wire/peer_protocol.hpp"

#include <fmt/format.h>

#include "common/core/limits.hpp"
#include "common/wire/frame.hpp"

namespace seedshare::peer_proto {

namespace {

constexpr std::size_t kHelloBytes = 4 + 2 + SeedId::kSize + UserId::kSize + 2;
constexpr std::size_t kBlockBytes = 12;

void put_block(ByteWriter& w, const Block& b) {
    w.u32(b.chunk.value);
    w.u32(b.offset);
    w.u32(b.length);
}

bool get_block(ByteReader& r, Block& b) {
    return r.u32(b.chunk.value) && r.u32(b.offset) && r.u32(b.length);
}

void put_address(ByteWriter& w, const asio::ip::address& a) {
    if (a.is_v4()) {
        w.u8(4);
        w.raw(ByteSpan(a.to_v4().to_bytes()));
    } else {
        w.u8(6);
        w.raw(ByteSpan(a.to_v6().to_bytes()));
    }
}

bool get_address(ByteReader& r, asio::ip::address& out) {
    std::uint8_t family = 0;
    if (!r.u8(family)) return false;
    if (family == 4) {
        asio::ip::address_v4::bytes_type b{};
        if (!r.into(b)) return false;
        out = asio::ip::address_v4(b);
        return true;
    }
    if (family == 6) {
        asio::ip::address_v6::bytes_type b{};
        if (!r.into(b)) return false;
        out = asio::ip::address_v6(b);
        return true;
    }
    return r.fail();
}

struct Encoder {
    Bytes& out;

    void operator()(const Hello& m) {
        FrameWriter f(out, static_cast<std::uint8_t>(Type::kHello));
        auto& w = f.body();
        w.u32(kMagic);
        w.u16(m.version);
        w.raw(m.seed.span());
        w.raw(m.user.span());
        w.u16(m.listen_port);
        f.finish();
    }
    void operator()(const BitfieldMsg& m) {
        FrameWriter f(out, static_cast<std::uint8_t>(Type::kBitfield));
        f.body().u32(m.have.size());
        f.body().raw(ByteSpan(m.have.bytes()));
        f.finish();
    }
    void operator()(const Have& m) {
        FrameWriter f(out, static_cast<std::uint8_t>(Type::kHave));
        f.body().u32(m.chunk.value);
        f.finish();
    }
    void block(Type t, const Block& b) {
        FrameWriter f(out, static_cast<std::uint8_t>(t));
        put_block(f.body(), b);
        f.finish();
    }
    void operator()(const Request& m) { block(Type::kRequest, m.block); }
    void operator()(const Cancel& m) { block(Type::kCancel, m.block); }
    void operator()(const Reject& m) { block(Type::kReject, m.block); }
    void operator()(const Piece& m) {
        FrameWriter f(out, static_cast<std::uint8_t>(Type::kPiece));
        f.body().u32(m.chunk.value);
        f.body().u32(m.offset);
        f.body().raw(m.data);
        f.finish();
    }
    void operator()(const KeepAlive&) {
        FrameWriter f(out, static_cast<std::uint8_t>(Type::kKeepAlive));
        f.finish();
    }
    void operator()(const PeerList& m) {
        FrameWriter f(out, static_cast<std::uint8_t>(Type::kPeerList));
        f.body().u16(static_cast<std::uint16_t>(m.peers.size()));
        for (const auto& p : m.peers) {
            put_address(f.body(), p.address);
            f.body().u16(p.port);
        }
        f.finish();
    }
    void operator()(const Goodbye&) {
        FrameWriter f(out, static_cast<std::uint8_t>(Type::kGoodbye));
        f.finish();
    }
    void operator()(const ErrorMsg& m) {
        FrameWriter f(out, static_cast<std::uint8_t>(Type::kError));
        f.body().u16(static_cast<std::uint16_t>(m.code));
        f.body().str16(std::string_view(m.message).substr(0, limits::kMaxMessageTextBytes));
        f.finish();
    }
};

Result<Message> malformed(Type t, std::string_view what) {
    return Error{fmt::format("malformed {} message: {}", static_cast<int>(t), what)};
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
    w.u8(static_cast<std::uint8_t>(Type::kPiece));
    w.u32(chunk.value);
    w.u32(offset);
    return out;
}

std::size_t max_payload(std::uint8_t type) {
    switch (static_cast<Type>(type)) {
        case Type::kHello:
            return kHelloBytes;
        case Type::kBitfield:
            return 4 + limits::kMaxChunkCount / 8;
        case Type::kHave:
            return 4;
        case Type::kRequest:
        case Type::kCancel:
        case Type::kReject:
            return kBlockBytes;
        case Type::kPiece:
            return kPieceHeaderBytes + limits::kMaxBlockBytes;
        case Type::kKeepAlive:
        case Type::kGoodbye:
            return 0;
        case Type::kPeerList:
            return 2 + kMaxPeerListEntries * (1 + 16 + 2);
        case Type::kError:
            return 2 + 2 + limits::kMaxMessageTextBytes;
    }
    return 0;
}

Result<Message> decode(std::uint8_t type_byte, ByteSpan payload) {
    const auto type = static_cast<Type>(type_byte);
    const bool empty_type = type == Type::kKeepAlive || type == Type::kGoodbye;
    if (max_payload(type_byte) == 0 && !empty_type)
        return Error{fmt::format("unknown message type {}", type_byte)};
    if (payload.size() > max_payload(type_byte))
        return Error{fmt::format("message type {} with {} bytes is over its limit of {}", type_byte,
                                 payload.size(), max_payload(type_byte))};
    ByteReader r(payload);
    auto finish = [&](Message m) -> Result<Message> {
        if (!r.done()) return malformed(type, "wrong length");
        return m;
    };
    switch (type) {
        case Type::kHello: {
            Hello h;
            std::uint32_t magic = 0;
            if (!r.u32(magic) || magic != kMagic)
                return malformed(type, "not a seedshare peer (bad magic)");
            if (!r.u16(h.version)) return malformed(type, "truncated");
            if (h.version != kVersion) return Message{h};  // the caller reports the mismatch
            r.into(h.seed.bytes);
            r.into(h.user.bytes);
            r.u16(h.listen_port);
            return finish(h);
        }
        case Type::kBitfield: {
            std::uint32_t n = 0;
            if (!r.u32(n)) return malformed(type, "truncated");
            if (n > limits::kMaxChunkCount) return malformed(type, "more chunks than any seed has");
            ByteSpan bits;
            if (!r.raw(r.remaining(), bits)) return malformed(type, "truncated");
            auto b = Bitfield::from_bytes(n, bits);
            if (!b) return malformed(type, b.error().message);
            return Message{BitfieldMsg{std::move(*b)}};
        }
        case Type::kHave: {
            Have h;
            r.u32(h.chunk.value);
            return finish(h);
        }
        case Type::kRequest:
        case Type::kCancel:
        case Type::kReject: {
            Block b;
            get_block(r, b);
            if (type == Type::kRequest) return finish(Request{b});
            if (type == Type::kCancel) return finish(Cancel{b});
            return finish(Reject{b});
        }
        case Type::kPiece: {
            Piece p;
            if (!r.u32(p.chunk.value) || !r.u32(p.offset)) return malformed(type, "truncated");
            if (r.remaining() == 0) return malformed(type, "no data");
            r.raw(r.remaining(), p.data);
            return finish(p);
        }
        case Type::kKeepAlive:
            return finish(KeepAlive{});
        case Type::kGoodbye:
            return finish(Goodbye{});
        case Type::kPeerList: {
            std::uint16_t n = 0;
            if (!r.u16(n)) return malformed(type, "truncated");
            if (n > kMaxPeerListEntries) return malformed(type, "too many peers");
            PeerList list;
            list.peers.resize(n);
            for (auto& p : list.peers) {
                if (!get_address(r, p.address) || !r.u16(p.port))
                    return malformed(type, "bad address");
            }
            return finish(list);
        }
        case Type::kError: {
            ErrorMsg e;
            std::uint16_t code = 0;
            r.u16(code);
            e.code = static_cast<ErrorCode>(code);
            r.str16(limits::kMaxMessageTextBytes, e.message);
            return finish(e);
        }
    }
    return Error{fmt::format("unknown message type {}", type_byte)};
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
