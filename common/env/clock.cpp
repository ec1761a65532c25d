#include "common/env/clock.hpp"

namespace seedshare {

Clock& Clock::real() {
    static RealClock clock;
    return clock;
}

}  // namespace seedshare
