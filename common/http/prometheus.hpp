// Prometheus text exposition (format 0.0.4), written by hand because it is a
// few lines of output, not a parser: families with HELP and TYPE, samples
// with escaped label values, histograms with cumulative buckets. And a
// latency histogram whose counts are atomics, so the thread that observes
// (the I/O thread) and the thread that writes /metrics (an HTTP thread)
// share it without a lock.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seedshare::http {

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

using Labels = std::vector<std::pair<std::string, std::string>>;

class MetricsText {
  public:
    // Starts a family: `type` is counter, gauge or histogram.
    void family(std::string_view name, std::string_view type, std::string_view help);
    void sample(std::string_view name, const Labels& labels, double value);
    void sample(std::string_view name, double value) { sample(name, {}, value); }
    // A histogram's samples: `upper` the bucket bounds (ascending, without
    // +Inf), `counts` the observations in each bucket (not cumulative) plus
    // one for above the last bound.
    void histogram(std::string_view name, const Labels& labels, const std::vector<double>& upper,
                   const std::vector<std::uint64_t>& counts, double sum);
    const std::string& text() const { return out_; }

  private:
    std::string out_;
};

// A label value or HELP text escaped for the exposition format.
std::string escape_label_value(std::string_view v);

class LatencyHistogram {
  public:
    // Seconds: 100 us to 2.5 s.
    static constexpr std::array<double, 14> kBounds{
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5};
    void observe(std::chrono::nanoseconds took);
    // The bucket counts (the last: above 2.5 s) and the sum, in seconds.
    struct Snapshot {
        std::vector<std::uint64_t> counts;
        double sum = 0;
        std::uint64_t count() const;
    };
    Snapshot snapshot() const;

  private:
    std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> counts_{};
    std::atomic<std::uint64_t> sum_ns_{0};
};

}  // namespace seedshare::http
