// The publisher's pure decisions: when to publish, and when DIR must first
// be brought back from the network (issue 14: a publisher that lost its files).
#include <doctest/doctest.h>

#include "peer/channel/publisher.hpp"

namespace publisher_rules_test {

using namespace seedshare;

TEST_CASE("publisher: DIR is recovered first only when the network is ahead of it") {
    using V = std::optional<std::uint64_t>;
    CHECK_FALSE(needs_recovery(V{}, V{}));    // a new channel: publish at once
    CHECK_FALSE(needs_recovery(V{3}, V{}));   // no tracker knows a version
    CHECK_FALSE(needs_recovery(V{3}, V{3}));  // up to date
    CHECK_FALSE(needs_recovery(V{4}, V{3}));  // published here, the trackers behind
    CHECK(needs_recovery(V{}, V{1}));         // the state is gone: a wiped disk, a new machine
    CHECK(needs_recovery(V{2}, V{3}));        // an old backup, or the key published elsewhere
}

TEST_CASE("publisher: publish at once, then once two scans agree, never the same files twice") {
    using Kind = PublishDecision::Kind;
    const std::vector<ManifestEntry> a{{"a", SeedId{}, 1}};
    const std::vector<ManifestEntry> b{{"b", SeedId{}, 2}};
    CHECK(decide_publish(a, std::nullopt, std::nullopt, true).kind == Kind::kPublish);
    CHECK(decide_publish(a, std::nullopt, a, true).kind == Kind::kNothing);
    CHECK(decide_publish(b, a, a, false).kind == Kind::kWait);
    CHECK(decide_publish(b, b, a, false).kind == Kind::kPublish);
}

}  // namespace publisher_rules_test
