// Lowercase hexadecimal, as sha256sum prints it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace seedshare {

std::string to_hex(std::span<const std::uint8_t> bytes);

// Decodes exactly out.size() bytes from 2*out.size() lowercase hex digits.
// Uppercase is refused: the seed format is canonical, one spelling per value.
bool from_hex(std::string_view text, std::span<std::uint8_t> out);

}  // namespace seedshare
