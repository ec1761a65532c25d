// libFuzzer target: the hand-over record parser. Anything it accepts is
// canonical (writes back byte for byte); checking its signature, or using it
// as the next link of a chain, never throws whatever the bytes.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/model/handover.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto r = seedshare::parse_handover(text);
    if (!r) return 0;
    if (seedshare::format_handover(*r) != text) std::abort();
    auto again = seedshare::parse_handover(seedshare::format_handover(*r));
    if (!again || !(*again == *r)) std::abort();
    (void)seedshare::verify_handover_signature(*r);
    (void)seedshare::append_handover(r->channel, {}, *r);
    return 0;
}
