// "1 file", "2 files", "0 peers": a count and its noun, in English.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace seedshare {

// `plural_form` defaults to `singular` + "s".
inline std::string count_of(std::uint64_t n, std::string_view singular,
                            std::string_view plural_form = {}) {
    if (n == 1) return fmt::format("1 {}", singular);
    if (plural_form.empty()) return fmt::format("{} {}s", n, singular);
    return fmt::format("{} {}", n, plural_form);
}

}  // namespace seedshare
