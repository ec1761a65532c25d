// The live progress line: fits the terminal, shows a bar when there is room,
// and says when it is waiting for peers.
#include <doctest/doctest.h>

#include "peer/app/progress.hpp"

namespace progress_test {

using namespace seedshare;

TEST_CASE("progress: the live line fits every width, one column short of the edge") {
    Progress p(Progress::Mode::kQuiet, stderr, 256u << 20, 0);
    for (const std::size_t width : {1u, 2u, 10u, 20u, 40u, 60u, 80u, 120u, 300u}) {
        CAPTURE(width);
        const auto line = p.line(100u << 20, 12.5 * (1 << 20), 3, width);
        CHECK(line.size() <= (width > 1 ? width - 1 : 0));
        if (width >= 10) CHECK(line.find("39.1%") != std::string::npos);
    }
    // Wide: every field and a bar; 40 columns: no wrap, the most useful fields.
    const auto wide = p.line(100u << 20, 12.5 * (1 << 20), 3, 120);
    CHECK(wide.find('[') == 0);
    CHECK(wide.find("100.00 MiB of 256.00 MiB") != std::string::npos);
    CHECK(wide.find("12.50 MiB/s") != std::string::npos);
    CHECK(wide.find("ETA 0:12") != std::string::npos);
    CHECK(wide.find("3 peers") != std::string::npos);
    const auto narrow = p.line(100u << 20, 12.5 * (1 << 20), 1, 40);
    CHECK(narrow.size() <= 39);
    CHECK(narrow.find("39.1%") != std::string::npos);
}

TEST_CASE("progress: the bar fills with the bytes, and no bar in log lines") {
    Progress p(Progress::Mode::kQuiet, stderr, 1000, 0);
    const auto half = p.line(500, 10, 1, 100);
    const auto bar = half.substr(1, half.find(']') - 1);
    CHECK(bar.size() >= 10);
    const auto filled = std::count(bar.begin(), bar.end(), '#');
    CHECK(filled == static_cast<long>(bar.size() / 2));
    CHECK(p.line(1000, 10, 1, 100).find('.') > p.line(1000, 10, 1, 100).find(']'));
    CHECK(p.line(500, 10, 1, 100, false).find('[') == std::string::npos);
}

TEST_CASE("progress: nobody connected and nothing moving reads as waiting, in the singular too") {
    Progress p(Progress::Mode::kQuiet, stderr, 1000, 0);
    CHECK(p.line(0, 0, 0, 100).find("waiting for peers") != std::string::npos);
    CHECK(p.line(0, 100, 1, 100).find("1 peer") != std::string::npos);
    CHECK(p.line(0, 100, 1, 100).find("1 peers") == std::string::npos);
}

TEST_CASE("progress: the summary of a download that fetched nothing names no rate") {
    const auto s = Progress::summary("x", 1000, 0, std::chrono::seconds(1), {});
    CHECK(s.find("B/s") == std::string::npos);
    CHECK(s.find("nothing fetched") != std::string::npos);
    const auto t = Progress::summary("x", 1000, 1000, std::chrono::seconds(1), {});
    CHECK(t.find("1000 B/s average") != std::string::npos);
}

}  // namespace progress_test
