// The SQLite store's holdings in memory (tracker/sqlite/holder_index.hpp):
// puts and removals as the table reports them, and the random window that
// get_peers reads.
#include <doctest/doctest.h>

#include <map>
#include <random>
#include <set>
#include <vector>

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

std::set<int> members(std::span<const int> list) {
    return {list.begin(), list.end()};
}

}  // namespace

TEST_CASE("holder index: puts, flips between complete and partial, removals") {
    HolderIndex<int> index;
    index.put(seed(1), 10, true, std::nullopt);
    index.put(seed(1), 11, false, std::nullopt);
    index.put(seed(2), 10, false, std::nullopt);
    CHECK(index.holdings() == 3);
    CHECK(index.seeds() == 2);
    CHECK(members(index.holders(seed(1), true)) == std::set<int>{10});
    CHECK(members(index.holders(seed(1), false)) == std::set<int>{11});

    index.put(seed(1), 11, true, false);  // partial -> complete
    CHECK(members(index.holders(seed(1), true)) == std::set<int>{10, 11});
    CHECK(index.holders(seed(1), false).empty());
    index.put(seed(1), 11, true, true);  // the same again: nothing changes
    CHECK(index.holders(seed(1), true).size() == 2);
    CHECK(index.holdings() == 3);

    index.remove(seed(1), 10, true);
    CHECK(members(index.holders(seed(1), true)) == std::set<int>{11});
    index.remove(seed(1), 10, true);  // not there: nothing changes
    index.remove(seed(9), 10, true);
    CHECK(index.holdings() == 2);
    index.remove(seed(1), 11, true);
    CHECK(index.seeds() == 1);  // a seed nobody holds is forgotten
    CHECK(index.holders(seed(1), true).empty());
    index.clear();
    CHECK(index.holdings() == 0);
    CHECK(index.seeds() == 0);
}

TEST_CASE(
    "holder index: the window from a random point visits each member once, each as likely first") {
    std::vector<int> list(10);
    for (int i = 0; i < 10; ++i)
        list[i] = i;
    std::mt19937_64 rng(7);
    std::map<int, int> first;
    for (int round = 0; round < 10000; ++round) {
        std::vector<int> seen;
        HolderIndex<int>::visit_from_random(list, rng, [&](int m) {
            seen.push_back(m);
            return true;
        });
        REQUIRE(seen.size() == 10);
        CHECK(std::set<int>(seen.begin(), seen.end()).size() == 10);
        ++first[seen.front()];
    }
    for (const auto& [m, count] : first)
        CHECK_MESSAGE((count > 850 && count < 1150), "member " << m << " first " << count);
    // Stops when told.
    int visits = 0;
    HolderIndex<int>::visit_from_random(list, rng, [&](int) { return ++visits < 3; });
    CHECK(visits == 3);
    HolderIndex<int>::visit_from_random({}, rng, [&](int) { return ++visits < 100; });
    CHECK(visits == 3);
}

}  // namespace holder_index_test
