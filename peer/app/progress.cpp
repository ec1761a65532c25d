#include "peer/app/progress.hpp"

#include <fmt/format.h>

#include <sys/ioctl.h>

#include <algorithm>
#include <cstdlib>

#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"

namespace seedshare {

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
    : mode_(mode),
      out_(out),
      total_(total_bytes),
      already_(already_bytes),
      start_(std::chrono::steady_clock::now()) {
    // Log lines start one interval in, when the rate means something.
    if (mode_ == Mode::kLog) last_print_ = start_;
}

std::string Progress::line(std::uint64_t done, double rate, std::size_t peers, std::size_t width,
                           bool bar) const {
    const double fraction =
        total_ == 0 ? 1.0 : static_cast<double>(done) / static_cast<double>(total_);
    // Fields by priority; the first always shows, the others while they fit,
    // and the bar takes what is left.
    std::vector<std::string> fields;
    fields.push_back(fmt::format("{:5.1f}%", 100.0 * fraction));
    fields.push_back(fmt::format("{} of {}", format_bytes(done), format_bytes(total_)));
    if (peers == 0 && rate < 1) {
        fields.push_back("waiting for peers");
    } else {
        const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : -1;
        fields.push_back(fmt::format("{}/s", format_bytes(static_cast<std::uint64_t>(rate))));
        fields.push_back(fmt::format("ETA {}", duration_text(eta)));
        fields.push_back(count_of(peers, "peer"));
    }
    // Stay one column short of the edge: a full line makes some terminals wrap.
    const std::size_t room = width > 1 ? width - 1 : 0;
    std::string text = fields[0];
    for (std::size_t i = 1; i < fields.size(); ++i) {
        if (text.size() + 2 + fields[i].size() > room) break;
        text += "  " + fields[i];
    }
    constexpr std::size_t kMinBar = 10, kMaxBar = 40;
    if (bar && text.size() + 2 + kMinBar + 2 <= room) {
        const std::size_t inner = std::min(kMaxBar, room - text.size() - 4);
        const auto filled = static_cast<std::size_t>(fraction * static_cast<double>(inner));
        std::string bar_text(inner + 4, '.');
        bar_text.front() = '[';
        std::fill_n(bar_text.begin() + 1, std::min(filled, inner), '#');
        bar_text.replace(inner + 1, 3, "]  ");
        text.insert(0, bar_text);
    }
    if (text.size() > room) text.resize(room);
    return text;
}

std::size_t Progress::terminal_width() const {
    winsize ws{};
    if (::ioctl(::fileno(out_), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    if (const char* cols = std::getenv("COLUMNS"))
        if (const auto n = parse_u64(cols); n && *n > 0 && *n < 10000)
            return static_cast<std::size_t>(*n);
    return 80;
}

void Progress::update(std::uint64_t verified, std::uint64_t received, std::size_t peers) {
    if (mode_ == Mode::kQuiet) return;
    const auto now = std::chrono::steady_clock::now();
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
    // Moves with the bytes as they arrive, not only with whole verified chunks.
    const std::uint64_t done = std::max(verified, std::min(total_, already_ + received));
    if (mode_ == Mode::kTerminal) {
        fmt::print(out_, "\r\x1b[K{}", line(done, rate, peers, terminal_width()));
        line_shown_ = true;
    } else {
        fmt::print(out_, "progress: {}\n", line(done, rate, peers, kLogWidth, false));
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
    std::string out =
        fetched == 0
            ? fmt::format(
                  "got {}: {} in {:.2f} s, nothing fetched (it was all here already), "
                  "whole-file SHA-256 verified\n",
                  name, format_bytes(total), secs)
            : fmt::format(
                  "got {}: {} in {:.2f} s ({}/s average), {} fetched, whole-file SHA-256 "
                  "verified\n",
                  name, format_bytes(total), secs,
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
