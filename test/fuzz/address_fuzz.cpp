// libFuzzer target: HOST:PORT parsing (command lines and seed files). What
// parses must print back to text that parses to the same address.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/core/address.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto a = seedshare::parse_host_port(text);
    if (!a) return 0;
    auto again = seedshare::parse_host_port(a->str());
    if (!again || !(*again == *a)) std::abort();
    return 0;
}
