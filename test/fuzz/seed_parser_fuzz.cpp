// libFuzzer target: the seed parser. Anything it accepts must write back to
// text that parses to the same seed (and the same id).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/model/seed.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto seed = seedshare::parse_seed(text);
    if (!seed) return 0;
    auto again = seedshare::parse_seed(seedshare::format_seed(*seed));
    if (!again || !(*again == *seed) || again->id() != seed->id()) std::abort();
    return 0;
}
