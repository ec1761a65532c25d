#include "common/core/numbers.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
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

std::string_view describe(NumberError e) {
    switch (e) {
        case NumberError::kNotANumber:
            return "not a number";
        case NumberError::kNegative:
            return "negative";
        case NumberError::kFraction:
            return "not a whole number";
        case NumberError::kTooLarge:
            return "too large";
    }
    return "not a number";
}

namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// "12.50KiB" -> whole "12", point, fraction "50", rest "KiB". At least one
// digit, before or after the point.
struct Decimal {
    std::string_view whole;
    bool point = false;
    std::string_view fraction;
    std::string_view rest;
};

std::optional<Decimal> scan_decimal(std::string_view text) {
    Decimal d;
    std::size_t i = 0;
    while (i < text.size() && is_digit(text[i]))
        ++i;
    d.whole = text.substr(0, i);
    if (i < text.size() && text[i] == '.') {
        d.point = true;
        const std::size_t start = ++i;
        while (i < text.size() && is_digit(text[i]))
            ++i;
        d.fraction = text.substr(start, i - start);
    }
    if (d.whole.empty() && d.fraction.empty()) return std::nullopt;
    d.rest = text.substr(i);
    return d;
}

// A '-' before something numeric: the user meant a negative number.
bool looks_negative(std::string_view text) {
    return text.size() >= 2 && text[0] == '-' && (is_digit(text[1]) || text[1] == '.');
}

std::string_view without_leading_zeros(std::string_view digits) {
    while (digits.size() > 1 && digits[0] == '0')
        digits.remove_prefix(1);
    return digits;
}

// Digits only (possibly empty: 0); kTooLarge past 64 bits.
Parsed<std::uint64_t> digits_value(std::string_view digits) {
    digits = without_leading_zeros(digits);
    std::uint64_t v = 0;
    for (char c : digits) {
        const auto d = static_cast<std::uint64_t>(c - '0');
        if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10) return NumberError::kTooLarge;
        v = v * 10 + d;
    }
    return v;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? char(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

}  // namespace

Parsed<std::uint64_t> parse_whole(std::string_view text) {
    if (looks_negative(text)) return NumberError::kNegative;
    const auto d = scan_decimal(text);
    if (!d || !d->rest.empty()) return NumberError::kNotANumber;
    if (d->point) return NumberError::kFraction;
    return digits_value(d->whole);
}

Parsed<double> parse_decimal(std::string_view text) {
    if (looks_negative(text)) return NumberError::kNegative;
    const auto d = scan_decimal(text);
    if (!d || !d->rest.empty()) return NumberError::kNotANumber;
    if (without_leading_zeros(d->whole).size() > 12) return NumberError::kTooLarge;
    if (d->fraction.size() > 9) return NumberError::kNotANumber;
    const std::string canonical = fmt::format("{}.{}", d->whole.empty() ? "0" : d->whole,
                                              d->fraction.empty() ? "0" : d->fraction);
    double v = 0;
    const auto [end, ec] =
        std::from_chars(canonical.data(), canonical.data() + canonical.size(), v);
    if (ec != std::errc{} || end != canonical.data() + canonical.size())
        return NumberError::kNotANumber;
    return v;
}

Parsed<std::uint64_t> parse_size(std::string_view text) {
    static constexpr std::array<std::pair<std::string_view, unsigned>, 11> kSuffixes{{
        {"", 0},
        {"b", 0},
        {"k", 10},
        {"kb", 10},
        {"kib", 10},
        {"m", 20},
        {"mb", 20},
        {"mib", 20},
        {"g", 30},
        {"gb", 30},
        {"gib", 30},
    }};
    if (looks_negative(text)) return NumberError::kNegative;
    const auto d = scan_decimal(text);
    if (!d) return NumberError::kNotANumber;
    std::optional<unsigned> shift;
    for (const auto& [suffix, s] : kSuffixes)
        if (iequals(d->rest, suffix)) shift = s;
    if (!shift) return NumberError::kNotANumber;

    const auto whole = digits_value(d->whole);
    if (!whole) return whole;
    if (*shift != 0 && (*whole >> (64 - *shift)) != 0) return NumberError::kTooLarge;
    const std::uint64_t value = *whole << *shift;

    // The fraction, rounded down to whole bytes: floor(0.f * 2^shift). 18
    // digits keep f * 2^30 within 128 bits; later digits cannot matter.
    const std::string_view f = d->fraction.substr(0, 18);
    unsigned __int128 numerator = 0;
    unsigned __int128 denominator = 1;
    for (char c : f) {
        numerator = numerator * 10 + static_cast<unsigned>(c - '0');
        denominator *= 10;
    }
    if (*shift == 0) {
        if (numerator != 0 || d->fraction.find_first_not_of('0') != std::string_view::npos)
            return NumberError::kFraction;
        return value;
    }
    const auto extra = static_cast<std::uint64_t>((numerator << *shift) / denominator);
    if (value > std::numeric_limits<std::uint64_t>::max() - extra) return NumberError::kTooLarge;
    return value + extra;
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

}  // namespace seedshare
