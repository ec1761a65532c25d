// UTF-8 validation for names and paths read from outside.
#pragma once

#include <cstddef>
#include <string_view>

namespace seedshare {

// Length of the UTF-8 sequence starting at s[i], or 0 if it is not valid UTF-8
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
std::size_t utf8_sequence(std::string_view s, std::size_t i);

}  // namespace seedshare
