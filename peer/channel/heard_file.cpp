#include "peer/channel/heard_file.hpp"

#include <fmt/format.h>

#include "common/core/numbers.hpp"

namespace seedshare {

namespace {
constexpr std::string_view kHeardPrefix = "seedshare-channel-heard 1 ";
}  // namespace

std::string format_heard(std::int64_t unix_seconds) {
    return fmt::format("{}{}\n", kHeardPrefix, unix_seconds);
}

std::optional<std::int64_t> parse_heard(std::string_view text) {
    if (text.size() > kMaxHeardBytes || text.empty() || text.back() != '\n') return std::nullopt;
    text.remove_suffix(1);
    if (!text.starts_with(kHeardPrefix)) return std::nullopt;
    const auto seconds = parse_u64(text.substr(kHeardPrefix.size()));
    if (!seconds || *seconds > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(*seconds);
}

}  // namespace seedshare
