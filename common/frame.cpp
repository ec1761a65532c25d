#include "common/frame.hpp"

#include <fmt/format.h>

#include "common/limits.hpp"

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

FrameWriter::FrameWriter(Bytes& out, std::uint8_t type) : out_(out), w_(out), start_(out.size()) {
    w_.u32(0);
    w_.u8(type);
}

void FrameWriter::finish() {
    w_.patch_u32(start_, static_cast<std::uint32_t>(out_.size() - start_ - 4));
}

}  // namespace seedshare
