// DIR/.seedshare/heard: when a subscriber last heard its channel's head
// confirmed (peer status shows the time since, as staleness). One line,
// "seedshare-channel-heard 1 <unix seconds>\n", nothing else. Pure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace seedshare {

// The file is read whole up to this many bytes; a larger one is refused unread.
inline constexpr std::uint64_t kMaxHeardBytes = 64;

std::string format_heard(std::int64_t unix_seconds);
// The seconds (0 .. 2^63 - 1), or nullopt for anything but the one line above
// (canonical decimal, no sign, final newline).
std::optional<std::int64_t> parse_heard(std::string_view text);

}  // namespace seedshare
