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

// Why a number typed by a user was refused. Typed, so that callers choose
// their words (and their range messages) without reading any text.
enum class NumberError : std::uint8_t {
    kNotANumber,  // "abc", "", "1x", "0x10", an unknown suffix
    kNegative,    // "-1"
    kFraction,    // "1.5" where only whole units are meaningful
    kTooLarge,    // does not fit in 64 bits
};

// "not a number", "negative", ...: the words for a one-line message.
std::string_view describe(NumberError e);

// A value, or why there is none.
template <class T>
class [[nodiscard]] Parsed {
  public:
    Parsed(T value) : value_(value) {}
    Parsed(NumberError error) : error_(error) {}
    explicit operator bool() const { return !error_; }
    const T& operator*() const { return value_; }
    NumberError error() const { return *error_; }

  private:
    T value_{};
    std::optional<NumberError> error_;
};

// A whole number as users type it: decimal digits, leading zeros allowed.
Parsed<std::uint64_t> parse_whole(std::string_view text);

// A non-negative decimal such as "2", "0.5" or "1.25" (seconds on the command
// line). At most 12 digits before the point and 9 after.
Parsed<double> parse_decimal(std::string_view text);

// A byte count (or bytes per second) as users type it: a decimal number with
// an optional binary suffix, case-insensitive: K, KB, KiB = 1024; M, MB, MiB
// = 1024^2; G, GB, GiB = 1024^3; B = 1. "10k", "10KiB", "1.5M", "2G", "4096".
// A fraction is rounded down to whole bytes when there is a K/M/G suffix
// ("1.5K" = 1536, "0.3K" = 307); "1.5" or "1.5B" is kFraction.
Parsed<std::uint64_t> parse_size(std::string_view text);

// "1.50 GiB", "512 B": for humans.
std::string format_bytes(std::uint64_t n);

// a + b, or UINT64_MAX if that does not fit (sums of lengths others chose).
inline std::uint64_t add_saturating(std::uint64_t a, std::uint64_t b) {
    return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

}  // namespace seedshare
