// libFuzzer target: a byte stream cut into frames by the frame-header
// decoder, each frame's payload given to the peer and tracker decoders.
#include <cstdint>
#include <cstdlib>

#include "common/core/limits.hpp"
#include "common/wire/frame.hpp"
#include "common/wire/peer_protocol.hpp"
#include "common/wire/tracker_protocol.hpp"

using namespace seedshare;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    ByteSpan rest(data, size);
    while (rest.size() >= limits::kFrameHeaderBytes) {
        auto h = decode_frame_header(rest.first(limits::kFrameHeaderBytes),
                                     limits::kMaxTrackerFrameBytes);
        if (!h) return 0;
        if (h->length == 0 || h->length > limits::kMaxTrackerFrameBytes) std::abort();
        rest = rest.subspan(limits::kFrameHeaderBytes);
        if (rest.size() < h->payload_size()) return 0;
        const ByteSpan payload = rest.first(h->payload_size());
        (void)peer_proto::decode(h->type, payload);
        (void)tracker_proto::decode_request(h->type, payload);
        (void)tracker_proto::decode_response(h->type, payload);
        rest = rest.subspan(h->payload_size());
    }
    return 0;
}
