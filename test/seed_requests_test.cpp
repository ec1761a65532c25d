#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "common/crypto/sha256.hpp"
#include "peer/channel/seed_requests.hpp"

namespace seed_requests_test {

using namespace seedshare;
using Answer = SeedRequests::Answer;

namespace {

SeedId id_of(int n) {
    SeedId id;
    id.bytes = sha256(std::to_string(n)).bytes;
    return id;
}

std::vector<SeedId> ids(int count) {
    std::vector<SeedId> out;
    for (int i = 0; i < count; ++i)
        out.push_back(id_of(i));
    return out;
}

}  // namespace

TEST_CASE("seed requests: each seed asked of one peer at a time, a few per peer") {
    SeedRequests r(ids(10), 4);
    CHECK(r.finished());         // no peer to ask: nothing more can happen
    CHECK(r.assign(1).empty());  // not a link yet
    r.link_up(1);
    CHECK_FALSE(r.finished());
    r.link_up(2);
    const auto a = r.assign(1);
    const auto b = r.assign(2);
    CHECK(a.size() == 4);
    CHECK(b.size() == 4);
    for (const auto& id : a) {
        CHECK(std::find(b.begin(), b.end(), id) == b.end());
        CHECK(r.outstanding(1, id));
        CHECK_FALSE(r.outstanding(2, id));
    }
    CHECK(r.assign(1).empty());  // its 4 are outstanding
    r.answered(1, a[0], Answer::kReceived);
    CHECK(r.assign(1).size() == 1);
    CHECK(r.received() == 1);
    CHECK(r.missing().size() == 9);
}

TEST_CASE("seed requests: a seed a peer lacks goes to another, never back to it") {
    SeedRequests r(ids(1), 8);
    r.link_up(1);
    const auto a = r.assign(1);
    REQUIRE(a.size() == 1);
    r.answered(1, a[0], Answer::kUnknown);
    CHECK(r.assign(1).empty());
    CHECK(r.finished());  // no other peer to ask
    r.link_up(2);
    CHECK_FALSE(r.finished());
    const auto b = r.assign(2);
    REQUIRE(b.size() == 1);
    CHECK(b[0] == a[0]);
    r.answered(2, b[0], Answer::kReceived);
    CHECK(r.finished());
    CHECK(r.missing().empty());
}

TEST_CASE("seed requests: a peer that leaves or forges gives its requests to others") {
    SeedRequests r(ids(6), 3);
    r.link_up(1);
    r.link_up(2);
    const auto a = r.assign(1);
    REQUIRE(a.size() == 3);
    r.link_down(1);
    CHECK_FALSE(r.outstanding(1, a[0]));
    r.answered(1, a[0], Answer::kReceived);  // late: ignored
    CHECK(r.received() == 0);
    auto b = r.assign(2);
    CHECK(b.size() == 3);
    r.answered(2, b[0], Answer::kForged);  // 2 is dropped with all it was asked
    CHECK(r.assign(2).empty());
    CHECK(r.finished());  // 1 and 2 are gone
    CHECK(r.missing().size() == 6);
    r.link_up(3);
    std::size_t asked = 0;
    for (int round = 0; round < 10 && !r.finished(); ++round) {
        for (const auto& id : r.assign(3)) {
            r.answered(3, id, Answer::kReceived);
            ++asked;
        }
    }
    CHECK(asked == 6);
    CHECK(r.finished());
    CHECK(r.received() == 6);
}

TEST_CASE("seed requests: unasked answers change nothing") {
    SeedRequests r(ids(2), 1);
    r.link_up(1);
    const auto a = r.assign(1);
    REQUIRE(a.size() == 1);
    r.answered(1, id_of(1000), Answer::kReceived);  // never wanted
    r.answered(2, a[0], Answer::kReceived);         // asked of 1, not 2
    CHECK(r.received() == 0);
    CHECK(r.outstanding(1, a[0]));
    CHECK_FALSE(r.finished());
}

TEST_CASE("seed requests: nothing wanted is finished at once") {
    SeedRequests r({}, 4);
    CHECK(r.finished());
    r.link_up(1);
    CHECK(r.assign(1).empty());
}

}  // namespace seed_requests_test
