// What a download shows while it runs and when it ends. On a terminal: one
// live line (percent, bytes, rate, ETA, peers) redrawn in place; otherwise a
// plain log line every few seconds; nothing with --quiet. The summary
// (size, time, average rate, bytes per peer) is always printed.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <string>
#include <vector>

#include "peer/swarm/swarm.hpp"

namespace seedshare {

class Progress {
  public:
    enum class Mode { kTerminal, kLog, kQuiet };

    Progress(Mode mode, std::FILE* out, std::uint64_t total_bytes, std::uint64_t already_bytes);

    // Call regularly (every 250 ms is plenty); prints when due.
    void update(std::uint64_t verified_bytes, std::uint64_t received_bytes, std::size_t peers);
    // Several files: the totals grow as their seeds become known.
    void set_totals(std::uint64_t total_bytes, std::uint64_t already_bytes) {
        total_ = total_bytes;
        already_ = already_bytes;
    }
    // Removes the live line (before other output or at the end).
    void clear();

    // "got NAME: 1.00 GiB in 2.31 s (443.2 MiB/s) ..." plus one line per peer.
    static std::string summary(const std::string& name, std::uint64_t total, std::uint64_t fetched,
                               std::chrono::duration<double> elapsed,
                               const std::vector<PeerStats>& peers);

    // The live line for `done` of the total bytes at `rate` bytes/s, at most
    // width - 1 columns: a bar when there is room, then percent, bytes, rate,
    // ETA and peers, dropping from the right what does not fit.
    std::string line(std::uint64_t done, double rate, std::size_t peers, std::size_t width,
                     bool bar = true) const;

  private:
    static constexpr std::size_t kLogWidth = 200;  // log lines: every field (and no bar)
    std::size_t terminal_width() const;

    Mode mode_;
    std::FILE* out_;
    std::uint64_t total_;
    std::uint64_t already_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_print_{};
    // (time, received bytes) samples over the last few seconds, for the rate.
    std::deque<std::pair<std::chrono::steady_clock::time_point, std::uint64_t>> samples_;
    bool line_shown_ = false;
};

}  // namespace seedshare
