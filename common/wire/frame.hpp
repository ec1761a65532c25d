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
#include <string_view>

#include "common/core/bytes.hpp"
#include "common/core/result.hpp"

namespace seedshare {

struct FrameHeader {
    std::uint32_t length = 0;  // type + payload
    std::uint8_t type = 0;
    std::size_t payload_size() const { return length - 1; }
};

// `header` holds exactly limits::kFrameHeaderBytes bytes.
Result<FrameHeader> decode_frame_header(ByteSpan header, std::size_t max_frame_bytes);

// What the first bytes of a connection that are not a seedshare frame look
// like: something else answers at that address (a web server, say).
enum class ForeignProtocol { kUnknown, kHttp, kTls, kSsh };
ForeignProtocol guess_foreign_protocol(ByteSpan first_bytes);
// "HTTP", "TLS", "SSH"; empty for kUnknown.
std::string_view foreign_protocol_name(ForeignProtocol p);

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
