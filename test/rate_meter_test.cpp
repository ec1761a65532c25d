#include <doctest/doctest.h>

#include <chrono>

#include "peer/swarm/rate_meter.hpp"

namespace rate_meter_test {

using namespace seedshare;
using namespace std::chrono_literals;

namespace {
const RateMeter::TimePoint t0 = RateMeter::TimePoint(std::chrono::hours(1));
}

TEST_CASE("rate meter: nothing until a sample's span has passed, then bytes over the span") {
    RateMeter m(t0);
    m.add(1000, t0 + 100ms);
    CHECK(m.rate() == 0);  // a sample spans at least kSample
    m.add(1000, t0 + 500ms);
    CHECK(m.rate() == doctest::Approx(4000.0));  // 2000 bytes in 0.5 s
}

TEST_CASE("rate meter: later samples are averaged in, the newest weighing less than the past") {
    RateMeter m(t0);
    m.add(1000, t0 + 1s);  // 1000 B/s
    m.add(3000, t0 + 2s);  // a sample of 3000 B/s
    CHECK(m.rate() == doctest::Approx(0.6 * 1000 + 0.4 * 3000));
}

TEST_CASE("rate meter: a pause before bytes move again is not counted as slowness") {
    RateMeter paused(t0);
    paused.resume(t0 + 10s);  // nothing moved in those 10 s
    paused.add(1000, t0 + 11s);
    CHECK(paused.rate() == doctest::Approx(1000.0));

    RateMeter counted(t0);
    counted.add(1000, t0 + 11s);
    CHECK(counted.rate() == doctest::Approx(1000.0 / 11));

    // Bytes already counted in the sample under way keep its start.
    RateMeter busy(t0);
    busy.add(500, t0 + 100ms);
    busy.resume(t0 + 200ms);
    busy.add(500, t0 + 1s);
    CHECK(busy.rate() == doctest::Approx(1000.0));
}

}  // namespace rate_meter_test
