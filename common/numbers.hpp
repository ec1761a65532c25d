// Strict parsing of decimal numbers and sizes from text (seed files, CLI).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace seedshare {

// Plain decimal digits only, no sign or spaces, no leading zeros (except "0"),
// no overflow. The seed format and the CLI both want one spelling per value.
std::optional<std::uint64_t> parse_u64(std::string_view text);

// A byte count for the command line: decimal with an optional binary suffix
// K, M, G (or KiB, MiB, GiB), e.g. "256K", "1MiB", "4096".
std::optional<std::uint64_t> parse_size(std::string_view text);

// "1 chunk", "3 chunks": a count and its noun, for humans (English plurals in -s).
std::string plural(std::uint64_t n, std::string_view noun);

// "1.50 GiB", "512 B": for humans.
std::string format_bytes(std::uint64_t n);

}  // namespace seedshare
