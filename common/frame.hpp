// Framing shared by the tracker and peer protocols (docs/PROTOCOL.md):
//
//   u32 length   big-endian; counts the type byte and the payload; >= 1
//   u8  type
//   ... payload  (length - 1 bytes)
//
// The header is checked against the connection's named frame limit before a
// byte of payload is read or allocated.
#pragma once

#include <cstdint>

#include "common/bytes.hpp"
#include "common/result.hpp"

namespace seedshare {

struct FrameHeader {
    std::uint32_t length = 0;  // type + payload
    std::uint8_t type = 0;
    std::size_t payload_size() const { return length - 1; }
};

// `header` holds exactly limits::kFrameHeaderBytes bytes.
Result<FrameHeader> decode_frame_header(ByteSpan header, std::size_t max_frame_bytes);

// Starts a frame of `type` at the end of `out`; finish() writes its length.
class FrameWriter {
  public:
    FrameWriter(Bytes& out, std::uint8_t type);
    ByteWriter& body() { return w_; }
    void finish();

  private:
    Bytes& out_;
    ByteWriter w_;
    std::size_t start_;
};

}  // namespace seedshare
