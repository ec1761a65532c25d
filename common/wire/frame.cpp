#include "common/wire/frame.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/core/limits.hpp"

namespace seedshare {

Result<FrameHeader> decode_frame_header(ByteSpan header, std::size_t max_frame_bytes) {
    ByteReader r(header);
    FrameHeader h;
    if (header.size() != limits::kFrameHeaderBytes || !r.u32(h.length) || !r.u8(h.type))
        return Error{"truncated frame header"};
    if (h.length == 0) return Error{"frame length 0 (a frame holds at least its type byte)"};
    if (h.length > max_frame_bytes)
        return Error{
            fmt::format("frame of {} bytes is over the limit of {}", h.length, max_frame_bytes)};
    return h;
}

ForeignProtocol guess_foreign_protocol(ByteSpan first_bytes) {
    const auto starts = [&](std::string_view prefix) {
        return first_bytes.size() >= prefix.size() &&
               std::equal(prefix.begin(), prefix.end(), first_bytes.begin(),
                          [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
    };
    if (starts("HTTP/")) return ForeignProtocol::kHttp;
    if (starts("SSH-")) return ForeignProtocol::kSsh;
    // A TLS record: handshake (22) or alert (21), version 3.x.
    if (first_bytes.size() >= 2 && (first_bytes[0] == 0x15 || first_bytes[0] == 0x16) &&
        first_bytes[1] == 0x03)
        return ForeignProtocol::kTls;
    return ForeignProtocol::kUnknown;
}

std::string_view foreign_protocol_name(ForeignProtocol p) {
    switch (p) {
        case ForeignProtocol::kHttp:
            return "HTTP";
        case ForeignProtocol::kTls:
            return "TLS";
        case ForeignProtocol::kSsh:
            return "SSH";
        case ForeignProtocol::kUnknown:
            break;
    }
    return {};
}

FrameWriter::FrameWriter(Bytes& out, std::uint8_t type) : out_(out), w_(out), start_(out.size()) {
    w_.u32(0);
    w_.u8(type);
}

void FrameWriter::finish() {
    w_.patch_u32(start_, static_cast<std::uint32_t>(out_.size() - start_ - 4));
}

}  // namespace seedshare
