// Which earlier versions of a channel the backup keeps and serves
// (--keep-versions), decided without I/O.
#include <doctest/doctest.h>

#include <string>

#include "common/crypto/sha256.hpp"
#include "peer/backup/version_retention.hpp"

namespace version_retention_test {

using namespace seedshare;

namespace {

SeedId id_of(int n) {
    SeedId id;
    id.bytes = sha256("retention " + std::to_string(n)).bytes;
    return id;
}

KeptVersion kept(std::uint64_t version, std::initializer_list<int> seeds) {
    KeptVersion k{version, {}};
    for (const int s : seeds)
        k.seeds.insert(id_of(s));
    return k;
}

std::set<SeedId> ids(std::initializer_list<int> seeds) {
    std::set<SeedId> out;
    for (const int s : seeds)
        out.insert(id_of(s));
    return out;
}

}  // namespace

TEST_CASE("retention: keeping one version (the current) drops every kept version") {
    const auto plan = plan_retention({kept(1, {1}), kept(2, {2})}, 3, ids({3}), 1);
    CHECK(plan.drop == std::vector<std::uint64_t>{1, 2});
    CHECK(plan.serve.empty());
}

TEST_CASE("retention: the newest keep - 1 versions before the current stay, oldest dropped first") {
    const std::vector<KeptVersion> archive{kept(4, {4}), kept(1, {1}), kept(3, {3}), kept(2, {2})};
    const auto plan = plan_retention(archive, 5, ids({5}), 3);
    CHECK(plan.drop == std::vector<std::uint64_t>{1, 2});
    CHECK(plan.serve == ids({3, 4}));

    // Fewer kept than allowed: all stay.
    const auto roomy = plan_retention(archive, 5, ids({5}), 10);
    CHECK(roomy.drop.empty());
    CHECK(roomy.serve == ids({1, 2, 3, 4}));
}

TEST_CASE("retention: the versions skipped by the subscriber do not count") {
    // The subscriber went 2 -> 7 -> 9: what was kept is 2 and 7.
    const auto plan = plan_retention({kept(2, {2}), kept(7, {7})}, 9, ids({9}), 2);
    CHECK(plan.drop == std::vector<std::uint64_t>{2});
    CHECK(plan.serve == ids({7}));
}

TEST_CASE(
    "retention: a seed the current version names is served by the subscriber, not kept twice") {
    // A file reverted to version 1's content in version 3.
    const auto plan = plan_retention({kept(1, {1, 10}), kept(2, {2})}, 3, ids({1, 3}), 3);
    CHECK(plan.drop.empty());
    CHECK(plan.serve == ids({10, 2}));
}

TEST_CASE("retention: a kept version numbered the current stays unserved, a higher one goes") {
    // 3 kept, then a stop while installing 4: DIR is still recorded as 3 and
    // some of its files are only in the archive; 5 only the archive saw.
    const auto plan = plan_retention({kept(2, {2}), kept(3, {3}), kept(5, {5})}, 3, ids({3}), 2);
    CHECK(plan.drop == std::vector<std::uint64_t>{5});
    CHECK(plan.serve == ids({2}));
    // Keeping one version: the older ones go, the current one stays.
    const auto one = plan_retention({kept(2, {2}), kept(3, {3})}, 3, ids({3}), 1);
    CHECK(one.drop == std::vector<std::uint64_t>{2});
    CHECK(one.serve.empty());
}

TEST_CASE("retention: a seed kept in two versions is served once") {
    const auto plan = plan_retention({kept(1, {7, 1}), kept(2, {7, 2})}, 3, ids({3}), 3);
    CHECK(plan.drop.empty());
    CHECK(plan.serve == ids({1, 2, 7}));
}

}  // namespace version_retention_test
