#include "common/http/prometheus.hpp"

#include <fmt/format.h>

#include <cmath>

namespace seedshare::http {

namespace {

std::string number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
    return fmt::format("{}", v);
}

void write_labels(std::string& out, const Labels& labels, std::string_view le = {}) {
    if (labels.empty() && le.empty()) return;
    out += '{';
    bool first = true;
    for (const auto& [k, v] : labels) {
        if (!first) out += ',';
        first = false;
        out += fmt::format("{}=\"{}\"", k, escape_label_value(v));
    }
    if (!le.empty()) {
        if (!first) out += ',';
        out += fmt::format("le=\"{}\"", le);
    }
    out += '}';
}

}  // namespace

std::string escape_label_value(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (const char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

void MetricsText::family(std::string_view name, std::string_view type, std::string_view help) {
    // (HELP escapes only \ and newline; a quote is fine there.)
    std::string h;
    for (const char c : help)
        h += c == '\\' ? std::string("\\\\") : c == '\n' ? std::string("\\n") : std::string(1, c);
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, h, name, type);
}

void MetricsText::sample(std::string_view name, const Labels& labels, double value) {
    out_ += name;
    write_labels(out_, labels);
    out_ += ' ';
    out_ += number(value);
    out_ += '\n';
}

void MetricsText::histogram(std::string_view name, const Labels& labels,
                            const std::vector<double>& upper,
                            const std::vector<std::uint64_t>& counts, double sum) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= upper.size() && i < counts.size(); ++i) {
        cumulative += counts[i];
        out_ += fmt::format("{}_bucket", name);
        write_labels(out_, labels, i < upper.size() ? number(upper[i]) : "+Inf");
        out_ += fmt::format(" {}\n", cumulative);
    }
    out_ += fmt::format("{}_sum", name);
    write_labels(out_, labels);
    out_ += fmt::format(" {}\n{}_count", number(sum), name);
    write_labels(out_, labels);
    out_ += fmt::format(" {}\n", cumulative);
}

void LatencyHistogram::observe(std::chrono::nanoseconds took) {
    const double s = std::chrono::duration<double>(took).count();
    std::size_t i = 0;
    while (i < kBounds.size() && s > kBounds[i])
        ++i;
    counts_[i].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, took.count())),
                      std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
    Snapshot s;
    for (const auto& c : counts_)
        s.counts.push_back(c.load(std::memory_order_relaxed));
    s.sum = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
}

std::uint64_t LatencyHistogram::Snapshot::count() const {
    std::uint64_t n = 0;
    for (const auto c : counts)
        n += c;
    return n;
}

}  // namespace seedshare::http
