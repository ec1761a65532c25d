// libFuzzer target: tracker requests and responses. Byte 0 is the type, the
// rest the payload. Whatever decodes must encode back to the same message.
#include <cstdint>
#include <cstdlib>

#include "common/core/limits.hpp"
#include "common/wire/tracker_protocol.hpp"

using namespace seedshare;
namespace tp = seedshare::tracker_proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const ByteSpan payload(data + 1, size - 1);
    if (auto req = tp::decode_request(data[0], payload)) {
        const auto* join = std::get_if<tp::Join>(&*req);
        if (join == nullptr || join->version == tp::kVersion) {
            const Bytes frame = tp::encode(*req);
            auto again =
                tp::decode_request(frame[4], ByteSpan(frame).subspan(limits::kFrameHeaderBytes));
            if (!again || !(*again == *req)) std::abort();
        }
    }
    if (auto resp = tp::decode_response(data[0], payload)) {
        const Bytes frame = tp::encode(*resp);
        auto again =
            tp::decode_response(frame[4], ByteSpan(frame).subspan(limits::kFrameHeaderBytes));
        if (!again || !(*again == *resp)) std::abort();
    }
    return 0;
}
