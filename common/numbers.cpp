#include "common/numbers.hpp"

#include <fmt/format.h>

#include <array>
#include <limits>
#include <utility>

namespace seedshare {

std::optional<std::uint64_t> parse_u64(std::string_view text) {
    if (text.empty() || text.size() > 20) return std::nullopt;
    if (text.size() > 1 && text[0] == '0') return std::nullopt;
    std::uint64_t v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return std::nullopt;
        v = v * 10 + d;
    }
    return v;
}

std::optional<std::uint64_t> parse_size(std::string_view text) {
    static constexpr std::array<std::pair<std::string_view, unsigned>, 6> kSuffixes{
        {{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"K", 10}, {"M", 20}, {"G", 30}}};
    unsigned shift = 0;
    for (const auto& [suffix, s] : kSuffixes) {
        if (text.size() > suffix.size() && text.ends_with(suffix)) {
            text.remove_suffix(suffix.size());
            shift = s;
            break;
        }
    }
    const auto v = parse_u64(text);
    if (!v || (shift != 0 && (*v >> (64 - shift)) != 0)) return std::nullopt;
    return *v << shift;
}

std::string format_bytes(std::uint64_t n) {
    static constexpr std::array<const char*, 5> kUnits{"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (n < 1024) return fmt::format("{} B", n);
    double v = static_cast<double>(n) / 1024;
    std::size_t unit = 0;
    while (v >= 1024 && unit + 1 < kUnits.size()) {
        v /= 1024;
        ++unit;
    }
    return fmt::format("{:.2f} {}", v, kUnits[unit]);
}

std::string plural(std::uint64_t n, std::string_view noun) {
    return fmt::format("{} {}{}", n, noun, n == 1 ? "" : "s");
}

}  // namespace seedshare
