#include <doctest/doctest.h>
#include <fmt/format.h>

#include <string>

#include "common/crypto/sha256.hpp"
#include "peer/backup/backup_planner.hpp"

namespace backup_planner_test {

using namespace seedshare;

namespace {

SeedId id_of(int n) {
    SeedId id;
    id.bytes = sha256(std::to_string(n)).bytes;
    return id;
}

ListedSeed listed(int n, std::uint64_t length, std::uint32_t holders = 1) {
    return ListedSeed{id_of(n), fmt::format("file{}", n), length, holders};
}

// A state where seeds 0..count-1 are listed and looked up (held by `source`).
BackupState looked_up(int count, std::uint64_t length, const std::string& source = "a:1") {
    BackupState s;
    for (int i = 0; i < count; ++i) {
        s.listed.push_back(listed(i, length));
        s.sources[id_of(i)] = {source};
    }
    return s;
}

}  // namespace

TEST_CASE("backup planner: new seeds are looked up within the allowance, then fetched") {
    BackupState s;
    for (int i = 0; i < 5; ++i)
        s.listed.push_back(listed(i, 100));
    s.new_allowance = 3;
    auto plan = plan_backup(s, BackupLimits{});
    CHECK(plan.lookup.size() == 3);
    CHECK(plan.fetch.empty());
    CHECK(plan.waiting == 2);

    for (const auto& id : plan.lookup)
        s.sources[id] = {"a:1"};
    s.new_allowance = 0;
    plan = plan_backup(s, BackupLimits{});
    CHECK(plan.lookup.empty());
    CHECK(plan.fetch.size() == 3);
    CHECK(plan.waiting == 2);  // not looked up yet: the rate holds them
}

TEST_CASE("backup planner: held and fetching seeds are left alone, fetches bounded") {
    auto s = looked_up(10, 100);
    s.held[id_of(0)] = 100;
    s.fetching[id_of(1)] = 100;
    s.resting.insert(id_of(2));
    BackupLimits limits;
    limits.max_fetches = 3;
    const auto plan = plan_backup(s, limits);
    REQUIRE(plan.fetch.size() == 2);  // 3 at once, one under way
    for (const auto& f : plan.fetch) {
        CHECK(f.id != id_of(0));
        CHECK(f.id != id_of(1));
        CHECK(f.id != id_of(2));
    }
    CHECK(plan.waiting == 5);
    CHECK(plan.skipped.empty());
}

TEST_CASE("backup planner: rarest first, then by name") {
    BackupState s;
    s.listed = {listed(1, 10, 3), listed(2, 10, 1), listed(3, 10, 2)};
    for (int i = 1; i <= 3; ++i)
        s.sources[id_of(i)] = {"a:1"};
    BackupLimits limits;
    limits.max_fetches = 2;
    const auto plan = plan_backup(s, limits);
    REQUIRE(plan.fetch.size() == 2);
    CHECK(plan.fetch[0].id == id_of(2));
    CHECK(plan.fetch[1].id == id_of(3));
}

TEST_CASE("backup planner: a file beyond the quota is skipped and named, smaller ones still fit") {
    BackupState s;
    s.listed = {listed(1, 600), listed(2, 500), listed(3, 300)};
    for (int i = 1; i <= 3; ++i)
        s.sources[id_of(i)] = {"a:1"};
    s.held[id_of(9)] = 200;
    BackupLimits limits;
    limits.max_size = 1000;  // 800 left
    const auto plan = plan_backup(s, limits);
    // Sorted by name: file1 (600) fits, then file2 (500) does not, file3 (300)... 800-600 = 200:
    // no.
    REQUIRE(plan.fetch.size() == 1);
    CHECK(plan.fetch[0].id == id_of(1));
    REQUIRE(plan.skipped.size() == 2);
    CHECK(plan.skipped[0].first.name == "file2");
    CHECK(plan.skipped[0].second == BackupSkip::kBeyondQuota);
    CHECK(plan.skipped[1].first.name == "file3");

    // A single file larger than the whole quota: skipped, never fetched, but
    // looked up once so the backup can name its holders (directory role).
    BackupState big;
    big.listed = {listed(5, 5000)};
    big.new_allowance = 10;
    const auto p2 = plan_backup(big, limits);
    CHECK(p2.fetch.empty());
    REQUIRE(p2.lookup.size() == 1);
    CHECK(p2.lookup[0] == id_of(5));
    REQUIRE(p2.skipped.size() == 1);
    CHECK(p2.skipped[0].second == BackupSkip::kBeyondQuota);
    big.sources[id_of(5)] = {"a:1"};  // once looked up: skipped still, not asked again
    const auto p3 = plan_backup(big, limits);
    CHECK(p3.lookup.empty());
    CHECK(p3.fetch.empty());
    REQUIRE(p3.skipped.size() == 1);
    big.sources.erase(id_of(5));
    big.new_allowance = 0;  // the rate holds for these too
    CHECK(plan_backup(big, limits).lookup.empty());
}

TEST_CASE("backup planner: the channels' bytes count against the quota") {
    BackupState s;
    s.listed = {listed(1, 600)};
    s.sources[id_of(1)] = {"a:1"};
    BackupLimits limits;
    limits.max_size = 1000;
    REQUIRE(plan_backup(s, limits).fetch.size() == 1);
    s.others = 401;  // the channels followed hold 401: 599 left
    const auto plan = plan_backup(s, limits);
    CHECK(plan.fetch.empty());
    REQUIRE(plan.skipped.size() == 1);
    CHECK(plan.skipped[0].second == BackupSkip::kBeyondQuota);
    s.others = 400;
    CHECK(plan_backup(s, limits).fetch.size() == 1);
    s.others = 5000;  // over the quota already (it was lowered): nothing, no wrap
    CHECK(plan_backup(s, limits).fetch.empty());
}

TEST_CASE("backup planner: a full disk stops fetching and says so") {
    auto s = looked_up(3, 100);
    BackupLimits limits;
    limits.disk_reserve = 50;
    s.free_disk = 260;  // room for two of 100 above the reserve of 50
    auto plan = plan_backup(s, limits);
    CHECK(plan.fetch.size() == 2);
    CHECK(plan.disk_full);
    CHECK(plan.waiting == 1);

    s.free_disk = 10;
    plan = plan_backup(s, limits);
    CHECK(plan.fetch.empty());
    CHECK(plan.disk_full);
    CHECK(plan.skipped.empty());  // waiting for room, not skipped for good
}

TEST_CASE("backup planner: a hostile sharer's thousands of seeds are bounded") {
    // One source announcing 10 000 seeds.
    auto s = looked_up(10000, 1, "evil:1");
    BackupLimits limits;
    limits.max_per_source = 100;
    limits.max_fetches = 1000000;
    auto plan = plan_backup(s, limits);
    CHECK(plan.fetch.size() == 100);
    CHECK(plan.skipped.size() == 9900);
    CHECK(plan.skipped.back().second == BackupSkip::kSourceLimit);

    // A seed another source also holds is still taken.
    s.listed.push_back(listed(20000, 1));
    s.sources[id_of(20000)] = {"evil:1", "good:1"};
    for (const auto& f : plan.fetch)
        s.held[f.id] = 1;
    plan = plan_backup(s, limits);
    REQUIRE(plan.fetch.size() == 1);
    CHECK(plan.fetch[0].id == id_of(20000));

    // Many sources: the total holds.
    BackupState many;
    for (int i = 0; i < 500; ++i) {
        many.listed.push_back(listed(i, 1));
        many.sources[id_of(i)] = {fmt::format("p:{}", i)};
    }
    limits.max_seeds = 300;
    plan = plan_backup(many, limits);
    CHECK(plan.fetch.size() == 300);
    CHECK(plan.skipped.size() == 200);
    CHECK(plan.skipped.back().second == BackupSkip::kSeedLimit);

    // Unseen seeds: only the allowance is looked up, whatever the listing.
    BackupState fresh;
    for (int i = 0; i < 5000; ++i)
        fresh.listed.push_back(listed(i, 1));
    fresh.new_allowance = 20;
    plan = plan_backup(fresh, BackupLimits{});
    CHECK(plan.lookup.size() == 20);
    CHECK(plan.waiting == 4980);
}

TEST_CASE("backup planner: the same seed listed twice is planned once") {
    auto s = looked_up(1, 10);
    s.listed.push_back(s.listed[0]);
    const auto plan = plan_backup(s, BackupLimits{});
    CHECK(plan.fetch.size() == 1);
    CHECK(plan.waiting == 0);
}

TEST_CASE("backup planner: a seed with no complete holder left is not asked about") {
    BackupState s;
    s.listed = {listed(1, 10, 0), listed(2, 10, 1)};
    s.new_allowance = 10;
    const auto plan = plan_backup(s, BackupLimits{});
    REQUIRE(plan.lookup.size() == 1);
    CHECK(plan.lookup[0] == id_of(2));
    CHECK(plan.waiting == 0);
    CHECK(plan.skipped.empty());
}

}  // namespace backup_planner_test
