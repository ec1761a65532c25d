// The SQLite store's holdings in memory (tracker/sqlite/holder_index.hpp),
// and the random order GetPeers visits holders in
// (tracker/core/random_visit.hpp).
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

#include "tracker/core/random_visit.hpp"
#include "tracker/sqlite/holder_index.hpp"

namespace holder_index_test {

using namespace seedshare;
using namespace seedshare::tracker;

namespace {

SeedId seed(std::uint8_t n) {
    SeedId s;
    s.bytes[0] = n;
    return s;
}

std::set<int> members(const HolderIndex<int>& index, std::uint8_t n, bool complete) {
    const auto v = index.holders(seed(n), complete);
    return {v.begin(), v.end()};
}

}  // namespace

TEST_CASE("holder index: puts, flips between complete and partial, removals") {
    HolderIndex<int> index;
    index.put(seed(1), 10, true);
    index.put(seed(1), 11, false);
    index.put(seed(2), 10, false);
    CHECK(index.holdings() == 3);
    CHECK(index.seeds() == 2);
    CHECK(index.members() == 2);
    CHECK(members(index, 1, true) == std::set<int>{10});
    CHECK(members(index, 1, false) == std::set<int>{11});

    index.put(seed(1), 11, true);  // partial -> complete
    CHECK(members(index, 1, true) == std::set<int>{10, 11});
    CHECK(members(index, 1, false).empty());
    index.put(seed(1), 11, true);  // the same again: nothing changes
    CHECK(index.holders(seed(1), true).size() == 2);
    CHECK(index.holdings() == 3);

    index.remove(seed(1), 10);
    CHECK(members(index, 1, true) == std::set<int>{11});
    CHECK(members(index, 2, false) == std::set<int>{10});
    index.remove(seed(1), 10);  // not there: nothing changes
    index.remove(seed(9), 10);
    index.remove(seed(1), 99);
    CHECK(index.holdings() == 2);
    index.remove(seed(1), 11);
    CHECK(index.seeds() == 1);    // a seed nobody holds is forgotten
    CHECK(index.members() == 1);  // so is a member that holds nothing
    CHECK(index.holders(seed(1), true).empty());
    index.clear();
    CHECK(index.holdings() == 0);
    CHECK(index.seeds() == 0);
}

TEST_CASE("holder index: a flip found from the seed's side, after the member's refs moved") {
    // Member 7 holds seeds 0-4 (more holdings than seed 4 has holders, so
    // put() looks for it among seed 4's holders); removing seed 0 moves its
    // last ref (seed 4's) to the front, which seed 4's entry must follow.
    HolderIndex<int> index;
    for (std::uint8_t s = 0; s < 5; ++s)
        index.put(seed(s), 7, false);
    index.remove(seed(0), 7);
    index.put(seed(4), 7, true);  // partial -> complete
    CHECK(members(index, 4, true) == std::set<int>{7});
    CHECK(members(index, 4, false).empty());
    CHECK(index.holdings() == 4);
    index.put(seed(4), 7, true);  // again: found, nothing changes
    CHECK(index.holdings() == 4);
    index.remove_all(7);
    CHECK(index.holdings() == 0);
    CHECK(index.seeds() == 0);
}

TEST_CASE("holder index: remove_all takes every holding of one member, and the others stay") {
    HolderIndex<int> index;
    for (int m = 0; m < 20; ++m)
        for (std::uint8_t s = 0; s < 5; ++s)
            index.put(seed(s), m, (m + s) % 2 == 0);
    CHECK(index.holdings() == 100);
    for (int m = 0; m < 20; m += 3)
        index.remove_all(m);
    index.remove_all(99);  // holds nothing: nothing changes
    std::size_t total = 0;
    for (std::uint8_t s = 0; s < 5; ++s) {
        std::set<int> complete, partial;
        for (int m = 0; m < 20; ++m)
            if (m % 3 != 0) ((m + s) % 2 == 0 ? complete : partial).insert(m);
        CHECK(members(index, s, true) == complete);
        CHECK(members(index, s, false) == partial);
        total += complete.size() + partial.size();
    }
    CHECK(index.holdings() == total);
    CHECK(index.members() == 13);
}

TEST_CASE("holder index: random changes agree with a model") {
    // Each change moves entries around in two directions (a seed's list, a
    // member's refs); a wrong back-pointer shows up as a member in the
    // wrong list, or missing.
    HolderIndex<int> index;
    std::map<int, std::map<std::uint8_t, bool>> model;
    std::mt19937 rng(5);
    auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
    for (int step = 0; step < 5000; ++step) {
        // The first half: many members, few seeds (a member's holdings are
        // the shorter side); the second: few members, many seeds.
        const int m = step < 2500 ? pick(30) : pick(4);
        const auto s = static_cast<std::uint8_t>(step < 2500 ? pick(8) : pick(40));
        const int op = pick(10);
        if (op < 6) {
            const bool complete = pick(2) == 0;
            index.put(seed(s), m, complete);
            model[m][s] = complete;
        } else if (op < 9) {
            index.remove(seed(s), m);
            model[m].erase(s);
        } else {
            index.remove_all(m);
            model.erase(m);
        }
        if (step % 50 != 0) continue;
        std::size_t total = 0;
        for (std::uint8_t k = 0; k < 40; ++k) {
            std::set<int> complete, partial;
            for (const auto& [mm, held] : model)
                if (const auto it = held.find(k); it != held.end())
                    (it->second ? complete : partial).insert(mm);
            REQUIRE(members(index, k, true) == complete);
            REQUIRE(members(index, k, false) == partial);
            total += complete.size() + partial.size();
        }
        REQUIRE(index.holdings() == total);
        std::size_t holding_members = 0;
        for (const auto& [mm, held] : model)
            holding_members += held.empty() ? 0 : 1;
        REQUIRE(index.members() == holding_members);
    }
}

TEST_CASE("random visit: each index once, each as likely first, a skipped run favours no one") {
    std::mt19937_64 rng(7);
    for (std::size_t n : {1u, 2u, 3u, 10u, 12u, 97u, 1024u, 1025u, 5000u}) {
        std::vector<std::size_t> seen;
        visit_in_random_order(n, rng, [&](std::size_t i) {
            seen.push_back(i);
            return true;
        });
        CHECK(seen.size() == n);
        CHECK(std::set<std::size_t>(seen.begin(), seen.end()).size() == n);
    }
    // First visited: uniform over 10.
    std::map<std::size_t, int> first;
    for (int round = 0; round < 10000; ++round)
        visit_in_random_order(10, rng, [&](std::size_t i) {
            ++first[i];
            return false;
        });
    CHECK(first.size() == 10);
    for (const auto& [i, count] : first)
        CHECK_MESSAGE((count > 850 && count < 1150), "index " << i << " first " << count);
    // Indexes 0..5 skipped (peers that left together): the first one taken
    // is about equally likely any of 6..11, not mostly 6.
    std::map<std::size_t, int> taken;
    for (int round = 0; round < 12000; ++round)
        visit_in_random_order(12, rng, [&](std::size_t i) {
            if (i < 6) return true;
            ++taken[i];
            return false;
        });
    CHECK(taken.size() == 6);
    for (const auto& [i, count] : taken)
        CHECK_MESSAGE((count > 1600 && count < 2400), "index " << i << " taken " << count);
    // The same past 1,024 (the moved positions in a map): a run of 2,500
    // of 5,000 skipped, the first taken spread over the other 2,500 (in 5
    // bins of 500), and so is the first visited.
    std::map<std::size_t, int> bins, first_bins;
    for (int round = 0; round < 5000; ++round) {
        visit_in_random_order(5000, rng, [&](std::size_t i) {
            if (i < 2500) return true;
            ++bins[(i - 2500) / 500];
            return false;
        });
        visit_in_random_order(5000, rng, [&](std::size_t i) {
            ++first_bins[i / 1000];
            return false;
        });
    }
    CHECK(bins.size() == 5);
    for (const auto& [b, count] : bins)
        CHECK_MESSAGE((count > 850 && count < 1150), "bin " << b << " taken " << count);
    CHECK(first_bins.size() == 5);
    for (const auto& [b, count] : first_bins)
        CHECK_MESSAGE((count > 850 && count < 1150), "bin " << b << " first " << count);
    // ahead() names every index once, each at least 8 visits before its
    // own (or from the start), in the order they are visited.
    for (std::size_t n : {5u, 20u, 2000u}) {
        std::vector<std::size_t> order, ahead;
        std::vector<std::size_t> ahead_before;  // ahead() calls made before each visit
        visit_in_random_order(
            n, rng,
            [&](std::size_t i) {
                order.push_back(i);
                ahead_before.push_back(ahead.size());
                return true;
            },
            [&](std::size_t j) { ahead.push_back(j); });
        REQUIRE(order.size() == n);
        CHECK(ahead == order);
        for (std::size_t k = 0; k < n; ++k)
            CHECK(ahead_before[k] == std::min(n, k + 9));
    }
    int visits = 0;
    visit_in_random_order(20, rng, [&](std::size_t) { return ++visits < 3; });
    CHECK(visits == 3);
    visit_in_random_order(0, rng, [&](std::size_t) { return ++visits < 100; });
    CHECK(visits == 3);
}

}  // namespace holder_index_test
