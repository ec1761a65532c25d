#include "common/core/cli_values.hpp"

#include <fmt/format.h>
#include <asio/ip/address.hpp>

#include "common/core/numbers.hpp"

namespace seedshare {

namespace {

// "16M" for 16 MiB, "1024" for 1024: a bound written the way users type it.
std::string size_text(std::uint64_t n) {
    static constexpr std::pair<unsigned, const char*> kUnits[] = {{30, "G"}, {20, "M"}, {10, "K"}};
    for (const auto& [shift, unit] : kUnits)
        if (n != 0 && n % (std::uint64_t{1} << shift) == 0)
            return fmt::format("{}{}", n >> shift, unit);
    return std::to_string(n);
}

Error problem(std::string_view option, std::string_view text, std::string_view what,
              std::string_view expected) {
    return Error{fmt::format("{} '{}': {} (expected {})", option, text, what, expected)};
}

}  // namespace

Result<std::uint64_t> whole_option(std::string_view option, std::string_view text,
                                   std::uint64_t min, std::uint64_t max) {
    const std::string expected = fmt::format("a whole number from {} to {}", min, max);
    const auto v = parse_whole(text);
    if (!v) return problem(option, text, describe(v.error()), expected);
    if (*v < min || *v > max) return problem(option, text, "out of range", expected);
    return *v;
}

Result<std::uint16_t> port_option(std::string_view option, std::string_view text) {
    const auto v = whole_option(option, text, 0, 65535);
    if (!v) return v.error();
    return static_cast<std::uint16_t>(*v);
}

Result<double> seconds_option(std::string_view option, std::string_view text, double min,
                              double max) {
    const std::string expected = fmt::format("seconds from {} to {}", min, max);
    const auto v = parse_decimal(text);
    if (!v) {
        const auto what =
            v.error() == NumberError::kFraction ? "not a number" : describe(v.error());
        return problem(option, text, what, expected);
    }
    if (*v < min || *v > max) return problem(option, text, "out of range", expected);
    return *v;
}

Result<std::uint64_t> size_option(std::string_view option, std::string_view text, std::uint64_t min,
                                  std::uint64_t max, std::string_view unit) {
    const std::string expected =
        fmt::format("{} to {} {}, e.g. 512K, 1.5M, 2G", size_text(min), size_text(max), unit);
    const auto v = parse_size(text);
    if (!v) {
        switch (v.error()) {
            case NumberError::kNotANumber:
                return problem(option, text, "not a size", expected);
            case NumberError::kFraction:
                return problem(option, text, "a fraction of a byte", expected);
            default:
                return problem(option, text, describe(v.error()), expected);
        }
    }
    if (*v < min || *v > max) return problem(option, text, "out of range", expected);
    return *v;
}

Result<LogLevel> log_level_option(std::string_view option, std::string_view text) {
    const auto l = parse_log_level(text);
    if (!l)
        return Error{
            fmt::format("{} '{}': expected debug, info, warn, error or off", option, text)};
    return *l;
}

Result<std::string> ip_option(std::string_view option, std::string_view text) {
    asio::error_code ec;
    asio::ip::make_address(std::string(text), ec);
    if (ec)
        return Error{fmt::format(
            "{} '{}': not an IP address (expected e.g. ::, 0.0.0.0 or 127.0.0.1)", option, text)};
    return std::string(text);
}

}  // namespace seedshare
