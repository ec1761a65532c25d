// libFuzzer target: the manifest parser. Anything it accepts is canonical:
// it writes back byte for byte, and parses again to the same manifest.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/model/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto m = seedshare::parse_manifest(text);
    if (!m) return 0;
    if (seedshare::format_manifest(*m) != text) std::abort();
    auto again = seedshare::parse_manifest(seedshare::format_manifest(*m));
    if (!again || !(*again == *m)) std::abort();
    (void)seedshare::verify_manifest_signature(*m);  // never throws, whatever the bytes
    return 0;
}
