#include "peer/progress.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/numbers.hpp"

namespace seedshare {

using Clock = std::chrono::steady_clock;

namespace {
std::string duration_text(double seconds) {
    if (seconds < 0 || seconds > 360000) return "--:--";
    const auto s = static_cast<long>(seconds + 0.5);
    if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    return fmt::format("{}:{:02}", s / 60, s % 60);
}
}  // namespace

Progress::Progress(Mode mode, std::FILE* out, std::uint64_t total_bytes,
                   std::uint64_t already_bytes)
    : mode_(mode), out_(out), total_(total_bytes), already_(already_bytes), start_(Clock::now()) {
    // Log lines start one interval in, when the rate means something.
    if (mode_ == Mode::kLog) last_print_ = start_;
}

std::string Progress::line(std::uint64_t verified, double rate, std::size_t peers) const {
    const double pct =
        total_ == 0 ? 100.0 : 100.0 * static_cast<double>(verified) / static_cast<double>(total_);
    const double eta = rate > 0 ? static_cast<double>(total_ - verified) / rate : -1;
    return fmt::format("{:5.1f}%  {} of {}  {}/s  ETA {}  {} peer{}", pct, format_bytes(verified),
                       format_bytes(total_), format_bytes(static_cast<std::uint64_t>(rate)),
                       duration_text(eta), peers, peers == 1 ? "" : "s");
}

void Progress::update(std::uint64_t verified, std::uint64_t received, std::size_t peers) {
    if (mode_ == Mode::kQuiet) return;
    const auto now = Clock::now();
    samples_.emplace_back(now, received);
    while (samples_.size() > 2 && now - samples_.front().first > std::chrono::seconds(3))
        samples_.pop_front();
    const double span = std::chrono::duration<double>(now - samples_.front().first).count();
    const double rate =
        span > 0.2 ? static_cast<double>(received - samples_.front().second) / span : 0;
    const auto every =
        mode_ == Mode::kTerminal ? std::chrono::milliseconds(200) : std::chrono::milliseconds(5000);
    if (now - last_print_ < every) return;
    last_print_ = now;
    if (mode_ == Mode::kTerminal) {
        fmt::print(out_, "\r\x1b[K{}", line(verified, rate, peers));
        line_shown_ = true;
    } else {
        fmt::print(out_, "progress: {}\n", line(verified, rate, peers));
    }
    std::fflush(out_);
}

void Progress::clear() {
    if (line_shown_) {
        fmt::print(out_, "\r\x1b[K");
        std::fflush(out_);
        line_shown_ = false;
    }
}

std::string Progress::summary(const std::string& name, std::uint64_t total, std::uint64_t fetched,
                              std::chrono::duration<double> elapsed,
                              const std::vector<PeerStats>& peers) {
    const double secs = std::max(elapsed.count(), 1e-6);
    std::string out = fmt::format(
        "got {}: {} in {:.2f} s ({}/s average), {} fetched, whole-file SHA-256 verified\n", name,
        format_bytes(total), secs,
        format_bytes(static_cast<std::uint64_t>(static_cast<double>(fetched) / secs)),
        format_bytes(fetched));
    auto sorted = peers;
    std::sort(sorted.begin(), sorted.end(),
              [](const auto& a, const auto& b) { return a.downloaded > b.downloaded; });
    for (const auto& p : sorted) {
        if (p.downloaded == 0) continue;
        out += fmt::format("  from {}: {} ({:.0f}%)\n", p.name, format_bytes(p.downloaded),
                           fetched == 0 ? 0.0
                                        : 100.0 * static_cast<double>(p.downloaded) /
                                              static_cast<double>(fetched));
    }
    return out;
}

}  // namespace seedshare
