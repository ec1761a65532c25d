#include <doctest/doctest.h>

#include <vector>

#include "peer/swarm/connection_budget.hpp"

namespace connection_budget_test {

using namespace seedshare;
using namespace std::chrono_literals;
using Conn = ConnectionBudget::Conn;
using Verdict = ConnectionBudget::Verdict;

namespace {
const auto t0 = ConnectionBudget::Clock::time_point{} + 1h;
// The requesting swarm's open connections: at min_share, not starving.
constexpr std::size_t kFed = 4;

ConnectionBudget budget(std::size_t cap) {
    return ConnectionBudget({.cap = cap, .idle_grace = 10s, .min_share = 4});
}
// A connection of a complete swarm (an upload) or a downloading one, whose
// last block crossed `idle` ago.
Conn upload(ConnectionBudget::Clock::duration idle) {
    return {.swarm_complete = true, .remote_complete = false, .last_block = t0 - idle};
}
Conn download(ConnectionBudget::Clock::duration idle) {
    return {.swarm_complete = false, .remote_complete = false, .last_block = t0 - idle};
}
Conn seed_to_seed(ConnectionBudget::Clock::duration idle) {
    return {.swarm_complete = true, .remote_complete = true, .last_block = t0 - idle};
}
}  // namespace

TEST_CASE("connection budget: below the cap every connection is admitted") {
    const auto b = budget(4);
    const std::vector<Conn> conns{download(0s), download(0s)};
    CHECK(b.make_room(conns, 0, kFed, t0).verdict == Verdict::kAdmit);
    CHECK(b.make_room(conns, 1, kFed, t0).verdict == Verdict::kAdmit);
    // Dials in progress and channel connections count toward the cap.
    CHECK(b.make_room(conns, 2, kFed, t0).verdict == Verdict::kRefuse);
}

TEST_CASE("connection budget: full of connections that move data, a new one is refused") {
    const auto b = budget(3);
    const std::vector<Conn> conns{download(1s), upload(9s), download(0s)};
    CHECK(b.make_room(conns, 0, kFed, t0).verdict == Verdict::kRefuse);
}

TEST_CASE("connection budget: seed to seed gives way first, whatever its age") {
    const auto b = budget(4);
    const std::vector<Conn> conns{upload(60s), download(60s), seed_to_seed(0s), upload(30s)};
    const auto d = b.make_room(conns, 0, kFed, t0);
    CHECK(d.verdict == Verdict::kEvict);
    CHECK(d.victim == 2);
}

TEST_CASE("connection budget: then the longest idle upload, before any idle download") {
    const auto b = budget(5);
    const std::vector<Conn> conns{download(600s), upload(11s), upload(40s), upload(5s),
                                  download(20s)};
    const auto d = b.make_room(conns, 0, kFed, t0);
    CHECK(d.verdict == Verdict::kEvict);
    CHECK(d.victim == 2);  // idle 40 s; the download idle 600 s waits
}

TEST_CASE("connection budget: an idle download gives way when nothing else can") {
    const auto b = budget(3);
    const std::vector<Conn> conns{upload(2s), download(12s), download(30s)};
    const auto d = b.make_room(conns, 0, kFed, t0);
    CHECK(d.verdict == Verdict::kEvict);
    CHECK(d.victim == 2);
}

TEST_CASE("connection budget: idle means at least the grace: a new connection is safe") {
    const auto b = budget(2);
    // Both connected (or moved a block) within the grace.
    CHECK(b.make_room(std::vector<Conn>{upload(9999ms), download(0s)}, 0, kFed, t0).verdict ==
          Verdict::kRefuse);
    CHECK(b.make_room(std::vector<Conn>{upload(10s), download(0s)}, 0, kFed, t0).verdict ==
          Verdict::kEvict);
}

TEST_CASE("connection budget: over the cap (a cap lowered), still one victim per new connection") {
    const auto b = budget(2);
    const std::vector<Conn> conns{upload(20s), upload(30s), upload(40s)};
    const auto d = b.make_room(conns, 1, kFed, t0);
    CHECK(d.verdict == Verdict::kEvict);
    CHECK(d.victim == 2);
    // Only channel connections and dials: nothing may give way.
    CHECK(b.make_room(std::vector<Conn>{}, 2, kFed, t0).verdict == Verdict::kRefuse);
}

TEST_CASE("connection budget: a starving swarm takes an active connection from one with plenty") {
    const auto b = budget(4);
    // Every connection moves blocks. Two swarms: a complete one with 3
    // connections (at most min_share: kept), a downloading one with 1.
    std::vector<Conn> conns{upload(1s), upload(2s), upload(3s), download(5s)};
    for (std::size_t i = 0; i < 3; ++i)
        conns[i].swarm_connections = 3;
    conns[3].swarm_connections = 1;
    CHECK(b.make_room(conns, 0, 0, t0).verdict == Verdict::kRefuse);
    // The complete swarm has 5 now (more than min_share).
    for (std::size_t i = 0; i < 3; ++i)
        conns[i].swarm_connections = 5;
    // A fed swarm still waits; a starving one takes the least recently
    // active upload.
    CHECK(b.make_room(conns, 0, kFed, t0).verdict == Verdict::kRefuse);
    auto d = b.make_room(conns, 0, 3, t0);
    CHECK(d.verdict == Verdict::kEvict);
    CHECK(d.victim == 2);
    // A download of a swarm with plenty goes after the uploads; an idle
    // connection before any active one.
    conns[3].swarm_connections = 6;
    conns[3].last_block = t0 - 60s;  // idle
    d = b.make_room(conns, 0, 0, t0);
    CHECK(d.verdict == Verdict::kEvict);
    CHECK(d.victim == 3);
    conns[3].last_block = t0 - 9s;  // active, older than every upload
    d = b.make_room(conns, 0, 0, t0);
    CHECK(d.victim == 2);
}

TEST_CASE("connection budget: each downloading swarm's share of the cap") {
    const auto b = budget(512);
    CHECK(b.share(0, 50) == 50);  // nothing downloads: the swarm's own limit
    CHECK(b.share(1, 50) == 50);
    CHECK(b.share(10, 50) == 50);   // 51 each fits: the own limit binds
    CHECK(b.share(64, 50) == 8);    // the 20-subscriber case: 64 files at once
    CHECK(b.share(1000, 50) == 4);  // never below min_share
    CHECK(b.share(1000, 2) == 2);   // nor above the swarm's own limit
}

}  // namespace connection_budget_test
