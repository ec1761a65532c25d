// libFuzzer target: the parser of DIR/.seedshare/heard (when a subscriber
// last heard its channel). Anything it accepts is canonical: it writes back
// byte for byte.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "peer/channel/heard_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto seconds = seedshare::parse_heard(text);
    if (!seconds) return 0;
    if (*seconds < 0 || seedshare::format_heard(*seconds) != text) std::abort();
    return 0;
}
