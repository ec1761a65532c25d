// Command-line values both programs check the same way. Each returns the
// value, or an Error whose message is the one line to print: the option, the
// text as typed and the problem ("--max-peers 'abc': not a number (expected
// 1 to 1000)"). Pure: no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "common/core/log.hpp"
#include "common/core/result.hpp"

namespace seedshare {

// A command line that cannot be run. `message` is the one line to print
// (after the program's name); the programs exit with code 2.
struct UsageError {
    std::string message;
};

// The value of `r`, or throws UsageError with its error's message.
template <class T>
T checked(Result<T> r) {
    if (!r) throw UsageError{r.error().message};
    return std::move(*r);
}

// A whole number from min to max.
Result<std::uint64_t> whole_option(std::string_view option, std::string_view text,
                                   std::uint64_t min, std::uint64_t max);

// A TCP port to listen on, 0 (any free port) to 65535.
Result<std::uint16_t> port_option(std::string_view option, std::string_view text);

// Seconds, a decimal ("0.5", "2") from min to max.
Result<double> seconds_option(std::string_view option, std::string_view text, double min,
                              double max);

// A size or rate (parse_size: "10K", "1.5M", "4096") from min to max; `unit`
// names what is counted in messages ("bytes", "bytes per second").
Result<std::uint64_t> size_option(std::string_view option, std::string_view text, std::uint64_t min,
                                  std::uint64_t max, std::string_view unit = "bytes");

// A log level: debug, info, warn, error or off.
Result<LogLevel> log_level_option(std::string_view option, std::string_view text);

// An IP address to listen on ("::", "0.0.0.0", "127.0.0.1", "::1").
Result<std::string> ip_option(std::string_view option, std::string_view text);

}  // namespace seedshare
