// A small leveled logger. Each component owns a Logger (no global logger), so
// a tracker and several peers in one test process keep their lines apart.
// A line is formatted first and written with one call, so lines from the I/O
// thread and worker threads do not interleave.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace seedshare {

enum class LogLevel { kDebug, kInfo, kWarn, kError, kOff };

std::optional<LogLevel> parse_log_level(std::string_view text);

class Logger {
  public:
    explicit Logger(std::string name, LogLevel level = LogLevel::kInfo, std::FILE* out = stderr)
        : name_(std::move(name)), level_(level), out_(out) {}

    // A logger for a part of this component: "peer" -> "peer 127.0.0.1:4000".
    Logger sub(std::string_view what) const {
        Logger l(fmt::format("{} {}", name_, what), level_, out_);
        l.clear_line_ = clear_line_;
        return l;
    }

    // Start each line by clearing the terminal line (a live progress line
    // is redrawn below it).
    void set_clear_line(bool on) { clear_line_ = on; }

    bool enabled(LogLevel l) const { return l >= level_; }
    LogLevel level() const { return level_; }
    void set_level(LogLevel l) { level_ = l; }

    template <class... A>
    void debug(fmt::format_string<A...> f, A&&... a) const {
        if (enabled(LogLevel::kDebug))
            write(LogLevel::kDebug, fmt::format(f, std::forward<A>(a)...));
    }
    template <class... A>
    void info(fmt::format_string<A...> f, A&&... a) const {
        if (enabled(LogLevel::kInfo)) write(LogLevel::kInfo, fmt::format(f, std::forward<A>(a)...));
    }
    template <class... A>
    void warn(fmt::format_string<A...> f, A&&... a) const {
        if (enabled(LogLevel::kWarn)) write(LogLevel::kWarn, fmt::format(f, std::forward<A>(a)...));
    }
    template <class... A>
    void error(fmt::format_string<A...> f, A&&... a) const {
        if (enabled(LogLevel::kError))
            write(LogLevel::kError, fmt::format(f, std::forward<A>(a)...));
    }

  private:
    void write(LogLevel l, std::string_view message) const;

    std::string name_;
    LogLevel level_;
    std::FILE* out_;
    bool clear_line_ = false;
};

}  // namespace seedshare
