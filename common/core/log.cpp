#include "common/core/log.hpp"

#include <array>
#include <chrono>
#include <ctime>

namespace seedshare {

std::optional<LogLevel> parse_log_level(std::string_view text) {
    if (text == "debug") return LogLevel::kDebug;
    if (text == "info") return LogLevel::kInfo;
    if (text == "warn") return LogLevel::kWarn;
    if (text == "error") return LogLevel::kError;
    if (text == "off") return LogLevel::kOff;
    return std::nullopt;
}

void Logger::write(LogLevel l, std::string_view message) const {
    static constexpr std::array<std::string_view, 4> kNames{"debug", "info", "warn", "error"};
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm tm{};
    ::localtime_r(&t, &tm);
    std::string line = fmt::format("{}{:02}:{:02}:{:02}.{:03} {:<5} {}: {}\n",
                                   clear_line_ ? "\r\x1b[K" : "", tm.tm_hour, tm.tm_min, tm.tm_sec,
                                   ms, kNames[static_cast<std::size_t>(l)], name_, message);
    std::fwrite(line.data(), 1, line.size(), out_);
    std::fflush(out_);
}

}  // namespace seedshare
