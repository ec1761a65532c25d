#include "peer/swarm/request_budget.hpp"

#include <algorithm>

namespace seedshare {

std::uint64_t RequestBudget::total_target(double rate, std::uint32_t block_bytes,
                                          std::uint64_t most) {
    const std::uint64_t least = kMinBlocks * block_bytes;
    const double want = rate > 0 ? rate * std::chrono::duration<double>(kWindow).count() : 0;
    const auto bytes = static_cast<std::uint64_t>(std::min(want, static_cast<double>(most)));
    return std::clamp(bytes, std::min(least, most), std::max(least, most));
}

}  // namespace seedshare
