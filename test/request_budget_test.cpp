#include <doctest/doctest.h>

#include "peer/swarm/request_budget.hpp"

namespace request_budget_test {

using namespace seedshare;

namespace {
constexpr std::uint32_t kBlock = 256u << 10;
constexpr std::uint64_t kMost = 16u << 20;
}  // namespace

TEST_CASE("request budget: what arrives in the window, at least a few blocks, at most the cap") {
    // Nothing measured yet: a few blocks, not a pipeline at every peer.
    CHECK(RequestBudget::total_target(0, kBlock, kMost) == RequestBudget::kMinBlocks * kBlock);
    // A getter receiving 4 MiB/s keeps 4 MiB requested in all (1 s of it),
    // however many peers it has: before, 512 KiB at each of 38 peers was 19 MiB.
    CHECK(RequestBudget::total_target(4.0 * (1 << 20), kBlock, kMost) == 4u << 20);
    // Slow: still the minimum.
    CHECK(RequestBudget::total_target(100e3, kBlock, kMost) == RequestBudget::kMinBlocks * kBlock);
    // Fast (loopback): capped.
    CHECK(RequestBudget::total_target(1e9, kBlock, kMost) == kMost);
    // A cap below the minimum wins.
    CHECK(RequestBudget::total_target(0, kBlock, kBlock) == kBlock);
}

TEST_CASE("request budget: a block may be asked for while the total is under the target") {
    const auto target = RequestBudget::total_target(0, kBlock, kMost);
    CHECK(RequestBudget::may_request(0, target));
    CHECK(RequestBudget::may_request(target - 1, target));
    CHECK_FALSE(RequestBudget::may_request(target, target));
    CHECK_FALSE(RequestBudget::may_request(target + kBlock, target));
}

}  // namespace request_budget_test
