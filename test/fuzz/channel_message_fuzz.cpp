// libFuzzer target: channel messages. Byte 0 is the type, the rest the payload.
// Whatever decodes must encode back to a frame that decodes to the same.
#include <cstdint>
#include <cstdlib>

#include "common/core/limits.hpp"
#include "common/wire/channel_protocol.hpp"

using namespace seedshare;
namespace pp = seedshare::channel_proto;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const ByteSpan payload(data + 1, size - 1);
    auto m = pp::decode(data[0], payload);
    if (!m) return 0;
    if (payload.size() > pp::max_payload(data[0])) std::abort();  // the limit held
    if (const auto* e = std::get_if<pp::ErrorMsg>(&*m))           // only codes it knows
        if (e->code < pp::kFirstErrorCode || e->code > pp::kLastErrorCode) std::abort();
    const auto* hello = std::get_if<pp::ChannelHello>(&*m);
    if (hello != nullptr && hello->version != pp::kVersion) return 0;  // partial by design
    const Bytes frame = pp::encode(*m);
    auto again = pp::decode(frame[4], ByteSpan(frame).subspan(limits::kFrameHeaderBytes));
    if (!again || again->index() != m->index()) std::abort();
    if (std::holds_alternative<pp::ManifestPart>(*m)) {
        const auto& a = std::get<pp::ManifestPart>(*m);
        const auto& b = std::get<pp::ManifestPart>(*again);
        if (a.of != b.of || a.total != b.total || a.offset != b.offset ||
            !std::equal(a.data.begin(), a.data.end(), b.data.begin(), b.data.end()))
            std::abort();
        return 0;
    }
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (!std::is_same_v<T, pp::ManifestPart>)
                if (!(std::get<T>(*again) == x)) std::abort();
        },
        *m);
    return 0;
}
