// The tracker's store on ":memory:" (and on files for restarts), with a fake
// clock: join and token rules, exact expiry, the sweep, holdings, seeds.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <map>
#include <random>
#include <set>

#include "common/core/limits.hpp"
#include "test/registry_suite.hpp"
#include "test/support/temp_dir.hpp"
#include "tracker/sqlite/store.hpp"

namespace store_test {

using namespace seedshare;
using namespace seedshare::tracker;
using namespace seedshare::tracker::registry_test;

namespace {

std::unique_ptr<Store> open_store(Clock& clock, const std::string& path = ":memory:") {
    auto s = Store::open(path, clock.fn(), std::chrono::milliseconds(kRegistryTtlMs));
    REQUIRE_MESSAGE(s.ok(), (s ? "" : s.error().message));
    return std::move(*s);
}

// Runs `sql` on the database at `path` (as an older tracker left it).
void rewrite(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
}

}  // namespace

TEST_CASE("registry suite: the SQLite store") {
    registry_suite([](Clock& clock) { return std::unique_ptr<Registry>(open_store(clock)); });
}

TEST_CASE("hand_out_holders: complete others, then backups, then partial others, at most want") {
    auto h = [](std::uint32_t n, bool complete, bool backup = false) {
        return Holder{ip("10.0.0.1"), 4000, uid(n), complete, backup};
    };
    const std::vector<Holder> others{h(1, false), h(2, true), h(3, false), h(4, true)};
    const std::vector<Holder> backups{h(9, true, true)};
    auto order = [](const std::vector<Holder>& v) {
        std::vector<UserId> out;
        for (const auto& x : v)
            out.push_back(x.user);
        return out;
    };
    // Complete ones keep their (shuffled) order, as do partial ones.
    CHECK(order(hand_out_holders(others, backups, 50)) ==
          std::vector<UserId>{uid(2), uid(4), uid(9), uid(1), uid(3)});
    // The partial ones are the first left out, then the backups.
    CHECK(order(hand_out_holders(others, backups, 3)) ==
          std::vector<UserId>{uid(2), uid(4), uid(9)});
    CHECK(order(hand_out_holders(others, backups, 2)) == std::vector<UserId>{uid(2), uid(4)});
    // Many partial ones do not push the backup out.
    std::vector<Holder> partial;
    for (std::uint32_t n = 100; n < 160; ++n)
        partial.push_back(h(n, false));
    const auto p = hand_out_holders(partial, backups, 50);
    REQUIRE(p.size() == 50);
    CHECK(p[0].backup);
    CHECK(hand_out_holders(others, backups, 0).empty());
}

TEST_CASE("store: writes are batched until flush") {
    Clock clock;
    auto s = open_store(clock);
    CHECK_FALSE(s->has_pending());
    const Token t = join(*s, 1);
    CHECK(s->has_pending());
    CHECK(s->is_live(uid(1), t));  // readable before the commit
    s->flush();
    CHECK_FALSE(s->has_pending());
    s->flush();  // harmless when nothing is pending
}

TEST_CASE("store: a restart answers from the database and keeps tokens") {
    test::TempDir dir;
    const std::string path = (dir / "tracker.db").string();
    Clock clock;
    const Seed seed = make_seed("kept.bin", 9);
    Token t1;
    Token t2;
    {
        auto s = open_store(clock, path);
        t1 = join(*s, 1);
        t2 = join(*s, 2);
        ok(update_files(*s, uid(1), files(t1, true, {{seed.id(), "kept.bin", 100, true}})));
        ok(s->put_seed(uid(1), t1, format_seed(seed)));
        // No flush: closing the store commits the batch.
    }
    clock.now += 1000;
    {
        auto s = open_store(clock, path);
        CHECK(s->is_live(uid(1), t1));
        const auto p = s->get_peers(seed.id(), uid(2), 50);
        REQUIRE(p.size() == 1);
        CHECK(p[0].user == uid(1));
        CHECK(*s->get_seed(seed.id()) == format_seed(seed));
        // Peers that come back with their token keep it.
        const auto back = ok(s->join(uid(2), t2, ip("10.0.0.2"), 4000));
        CHECK(back.kept_token);
        CHECK(back.token == t2);
        ok(s->heartbeat(uid(1), t1));
        s->flush();
    }
    // Long after: both were live when it stopped, so their silence counts
    // from the restart; a TTL later they are expired, but tokens presented
    // are still honoured until the sweep.
    clock.now += 5 * kRegistryTtlMs;
    {
        auto s = open_store(clock, path);
        CHECK(s->get_peers(seed.id(), uid(2), 50).size() == 1);
        CHECK(s->list_files(std::nullopt, 10).files.at(0).holders == 1);
        clock.now += kRegistryTtlMs + 1;
        CHECK(s->get_peers(seed.id(), uid(2), 50).empty());
        CHECK(s->list_files(std::nullopt, 10).files.at(0).holders == 0);
        CHECK(ok(s->join(uid(1), t1, ip("10.0.0.1"), 4000)).token == t1);
        CHECK(s->sweep().users == 1);  // uid(2)
    }
}

TEST_CASE("store: a restart does not expire the peers that were live when it stopped") {
    // Down for a moment (what a peer heartbeating a little before the stop
    // met: expired before it could reconnect), and for long.
    for (const std::int64_t downtime : {std::int64_t{50}, 20 * kRegistryTtlMs}) {
        CAPTURE(downtime);
        test::TempDir dir;
        const std::string path = (dir / "restart.db").string();
        Clock clock;
        Token early;   // expired before the stop
        Token late;    // its last word a little less than a TTL before the stop
        Token recent;  // just before the stop
        {
            auto s = open_store(clock, path);
            early = join(*s, 1);
            clock.now += 1000;
            late = join(*s, 2);
            clock.now += kRegistryTtlMs - 100;
            recent = join(*s, 3);
            CHECK_FALSE(s->is_live(uid(1), early));
            CHECK(s->is_live(uid(2), late));
        }  // stopped 100 ms before uid(2) would have expired
        clock.now += downtime;
        auto s = open_store(clock, path);
        CHECK_FALSE(s->is_live(uid(1), early));
        CHECK(s->is_live(uid(2), late));
        CHECK(s->is_live(uid(3), recent));
        // A whole TTL from the restart to come back, as if they joined now.
        clock.now += kRegistryTtlMs - 1;
        CHECK(s->is_live(uid(2), late));
        ok(s->heartbeat(uid(3), recent));
        clock.now += 2;
        CHECK_FALSE(s->is_live(uid(2), late));
        CHECK(refused(s->heartbeat(uid(2), late)) == RegistryErrc::kUnknownPeer);
        CHECK(s->is_live(uid(3), recent));
        CHECK(s->sweep().users == 2);  // uid(1) and uid(2)
    }
}

TEST_CASE("store: restarts in a row do not keep a dead peer listed") {
    test::TempDir dir;
    const std::string path = (dir / "loop.db").string();
    Clock clock;
    Token dead;
    Token alive;
    {
        auto s = open_store(clock, path);
        dead = join(*s, 1);
        alive = join(*s, 2);
    }
    // The tracker restarts every half TTL; only uid(2) heartbeats to it.
    for (int i = 0; i < 4; ++i) {
        clock.now += kRegistryTtlMs / 2;
        auto s = open_store(clock, path);
        ok(s->heartbeat(uid(2), alive));
    }
    clock.now += 10;
    auto s = open_store(clock, path);
    CHECK(s->is_live(uid(2), alive));
    CHECK_FALSE(s->is_live(uid(1), dead));  // its own last word is over a TTL old
    CHECK(s->sweep().users == 1);
}

TEST_CASE("store: get_peers answers from memory what the holdings table holds, after any change") {
    // Random changes (lists, changes that flip complete, removals, leaves,
    // an expired userid taken over, sweeps, refusals, restarts), each
    // followed by every seed's holders compared with a model: the holdings
    // kept in memory for get_peers never part from the table.
    test::TempDir dir;
    const std::string path = (dir / "tracker.db").string();
    Clock clock;
    auto s = open_store(clock, path);
    constexpr std::uint32_t kUsers = 12, kSeeds = 6;
    std::map<std::uint32_t, Token> tokens;                         // joined users
    std::map<std::uint32_t, std::map<std::uint32_t, bool>> model;  // user -> seed -> complete
    std::mt19937 rng(20261205);
    int refusals = 0;
    auto pick = [&](std::uint32_t n) {
        return std::uniform_int_distribution<std::uint32_t>(0, n - 1)(rng);
    };
    auto expire = [&](std::uint32_t victim) {  // every other user stays live
        for (int half = 0; half < 2; ++half) {
            for (const auto& [n, t] : tokens)
                if (n != victim) ok(s->heartbeat(uid(n), t));
            clock.now += kRegistryTtlMs / 2 + half;
        }
    };
    auto check = [&](int step) {
        std::size_t total = 0;
        for (std::uint32_t seed = 0; seed < kSeeds; ++seed) {
            std::map<UserId, bool> want, got;
            for (const auto& [n, held] : model)
                if (const auto it = held.find(seed); it != held.end()) want[uid(n)] = it->second;
            for (const auto& h : s->get_peers(sid(seed), uid(999), limits::kMaxNumWant))
                got[h.user] = h.complete;
            CHECK_MESSAGE(got == want, "step " << step << ", seed " << seed);
            // A few asked for: as many as there are, complete ones first,
            // each one the model's (a holder asking is never among them).
            const auto few = s->get_peers(sid(seed), uid(0), 3);
            std::size_t complete = 0, others = 0;
            for (const auto& [u, c] : want)
                if (u != uid(0)) (c ? complete : others) += 1;
            CHECK(few.size() == std::min<std::size_t>(3, complete + others));
            for (std::size_t k = 0; k < few.size(); ++k) {
                CHECK(few[k].user != uid(0));
                CHECK((want.contains(few[k].user) && want[few[k].user] == few[k].complete));
                CHECK(few[k].complete == (k < complete));
            }
            total += want.size();
        }
        CHECK(s->stats().holdings == total);
    };
    for (int step = 0; step < 600; ++step) {
        const std::uint32_t n = pick(kUsers);
        const auto joined = tokens.find(n);
        const std::uint32_t op = pick(10);
        INFO("step " << step << ", user " << n << ", op " << op);
        if (joined == tokens.end()) {
            tokens[n] = join(*s, n);
            model[n];
        } else if (op < 2) {  // the whole list
            std::vector<HeldFile> all;
            std::map<std::uint32_t, bool> held;
            for (std::uint32_t seed = 0; seed < kSeeds; ++seed)
                if (pick(2) == 0) {
                    const bool complete = pick(2) == 0;
                    all.push_back(entry(seed, complete));
                    held[seed] = complete;
                }
            ok(update_files(*s, uid(n), files(joined->second, true, all)));
            model[n] = held;
        } else if (op < 5) {  // changes: an add (maybe flipping complete), a removal
            const std::uint32_t add = pick(kSeeds), gone = pick(kSeeds);
            const bool complete = pick(2) == 0;
            ok(update_files(*s, uid(n),
                            files(joined->second, false, {entry(add, complete)}, {sid(gone)})));
            model[n].erase(gone);
            model[n][add] = complete;
        } else if (op == 5) {
            ok(s->leave(uid(n), joined->second));
            tokens.erase(joined);
            model.erase(n);
        } else if (op == 6) {  // expired, then taken over: its holdings are not the new owner's
            expire(n);
            tokens[n] = join(*s, n);
            model[n].clear();
        } else if (op == 7) {  // expired and swept
            expire(n);
            CHECK(s->sweep().users == 1);
            tokens.erase(n);
            model.erase(n);
        } else if (op == 8 && refusals < 4) {  // refused whole: too many files
            ++refusals;
            std::vector<HeldFile> all;
            for (std::uint32_t k = 0; k <= limits::kMaxFilesPerPeer; ++k)
                all.push_back(entry(100 + k));
            CHECK(refused(update_files(*s, uid(n), files(joined->second, true, all))) ==
                  RegistryErrc::kTooManyFiles);
        } else {  // a restart reads the holdings back
            s.reset();
            s = open_store(clock, path);
        }
        check(step);
    }
}

TEST_CASE("store: heartbeats are kept in memory and reach the table by close") {
    test::TempDir dir;
    const std::string path = (dir / "hb.db").string();
    Clock clock;
    Token t;
    {
        auto s = open_store(clock, path);
        t = join(*s, 1);
        s->flush();
        // Less than ttl/8 after the join: a flush would not write it yet.
        clock.now += kRegistryTtlMs / 10;
        ok(s->heartbeat(uid(1), t));
        CHECK_FALSE(s->has_pending());  // no SQL for a heartbeat
        s->flush();
        // A later join sets when the tracker stopped: uid(1) was live then
        // only by its heartbeat.
        clock.now += kRegistryTtlMs * 95 / 100;
        join(*s, 2);
    }  // closing writes every last_seen
    clock.now += 10;
    auto s = open_store(clock, path);
    CHECK(s->is_live(uid(1), t));
    CHECK(s->sweep().users == 0);
    clock.now += kRegistryTtlMs + 1;  // a TTL from the restart
    CHECK_FALSE(s->is_live(uid(1), t));
    CHECK(s->sweep().users == 2);
    CHECK_FALSE(s->token_of(uid(1)));
}

TEST_CASE("store: a flush writes the heartbeats that moved an eighth of the TTL, only those") {
    test::TempDir dir;
    const std::string path = (dir / "flush.db").string();
    Clock clock;
    const std::int64_t joined = clock.now;
    {
        auto s = open_store(clock, path);
        const Token t1 = join(*s, 1);
        const Token t2 = join(*s, 2);
        s->flush();
        const auto writes = s->last_seen_writes();
        // uid(1) heartbeats just short of a step, uid(2) a step after the join.
        clock.now = joined + kRegistryTtlMs / 8 - 1;
        ok(s->heartbeat(uid(1), t1));
        clock.now = joined + kRegistryTtlMs / 8;
        ok(s->heartbeat(uid(2), t2));
        s->flush();
        CHECK(s->last_seen_writes() == writes + 1);
        // uid(1)'s next heartbeats take it past the step: one write, by the
        // next flush; a flush with nothing due writes nothing.
        clock.now = joined + kRegistryTtlMs / 4;
        ok(s->heartbeat(uid(1), t1));
        ok(s->heartbeat(uid(1), t1));
        s->flush();
        CHECK(s->last_seen_writes() == writes + 2);
        s->flush();
        CHECK(s->last_seen_writes() == writes + 2);
        CHECK_FALSE(s->has_pending());
        // Written, then a step again (the clock is at TTL/4): written again.
        ok(s->heartbeat(uid(2), t2));
        s->flush();
        CHECK(s->last_seen_writes() == writes + 3);
        // A step past the table again, then joined again (its token kept)
        // before the flush: the join wrote last_seen, so nothing is due,
        // neither now nor at a heartbeat just after it.
        clock.now += kRegistryTtlMs / 8;
        ok(s->heartbeat(uid(2), t2));
        join(*s, 2, 4000, t2);
        s->flush();
        CHECK(s->last_seen_writes() == writes + 3);
        clock.now += 1;
        ok(s->heartbeat(uid(2), t2));
        s->flush();
        CHECK(s->last_seen_writes() == writes + 3);
        // Under a step (uid(2)'s last heartbeat): written at close.
        s->close();
        CHECK(s->last_seen_writes() == writes + 4);
    }
}

TEST_CASE("store: refuses foreign, newer and busy databases") {
    test::TempDir dir;
    Clock clock;
    const auto open_error = [&](const std::string& path) {
        auto s = Store::open(path, clock.fn(), std::chrono::milliseconds(kRegistryTtlMs));
        REQUIRE_FALSE(s);
        return s.error().message;
    };
    test::write_file(dir / "text", "hello, I am not a database\n");
    CHECK(open_error((dir / "text").string()).find("not a database") != std::string::npos);

    {  // a SQLite database of something else
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((dir / "other.db").string().c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    CHECK(open_error((dir / "other.db").string()).find("not a seedshare tracker database") !=
          std::string::npos);

    const std::string path = (dir / "t.db").string();
    { open_store(clock, path); }
    rewrite(path, "PRAGMA user_version = 5");
    const auto newer = open_error(path);
    CHECK(newer.find("schema version 5, newer than this tracker's 4") != std::string::npos);

    const std::string busy = (dir / "busy.db").string();
    auto first = open_store(clock, busy);
    CHECK(open_error(busy).find("locked") != std::string::npos);
    CHECK(open_error((dir / "no" / "such" / "dir.db").string()).find("cannot open") !=
          std::string::npos);
}

TEST_CASE("store: a version 2 database gets the backup column, a backup peer is kept as one") {
    test::TempDir dir;
    const std::string path = (dir / "v2.db").string();
    Clock clock;
    Token t;
    {
        auto s = open_store(clock, path);
        t = join(*s, 1);
        ok(update_files(*s, uid(1), files(t, true, {entry(1)})));
    }
    // Back to what version 2 wrote.
    rewrite(path,
            "ALTER TABLE users DROP COLUMN backup; "
            "ALTER TABLE channels DROP COLUMN chain; "
            "PRAGMA user_version = 2");
    {
        auto s = open_store(clock, path);
        CHECK(s->token_of(uid(1)) == t);
        const auto p = s->get_peers(sid(1), uid(9), 50);
        REQUIRE(p.size() == 1);
        CHECK_FALSE(p[0].backup);
        ok(s->join(uid(1), t, ip("10.0.0.1"), 4000, true));
    }
    // Reopened: the flag was stored with the peer.
    auto s = open_store(clock, path);
    const auto p = s->get_peers(sid(1), uid(9), 50);
    REQUIRE(p.size() == 1);
    CHECK(p[0].backup);
}

TEST_CASE("store: a version 1 database gets the channel tables, keeping what it had") {
    test::TempDir dir;
    const std::string path = (dir / "v1.db").string();
    Clock clock;
    Token t;
    {
        auto s = open_store(clock, path);
        t = join(*s, 1);
        ok(update_files(*s, uid(1), files(t, true, {entry(1)})));
    }
    // Back to what version 1 wrote.
    rewrite(path,
            "DROP TABLE follows; DROP TABLE channels; "
            "ALTER TABLE users DROP COLUMN backup; PRAGMA user_version = 1");
    auto s = open_store(clock, path);
    CHECK(s->token_of(uid(1)) == t);
    CHECK(s->stats().holdings == 1);
    ok(follow(*s, 1, t, true, {{chid(1), 0}}));
    CHECK(ok(put(*s, 1, t, head(1, 2))) == ManifestStored::kNewHead);
    CHECK(s->get_manifest(chid(1)) == text_of(head(1, 2)));
}

TEST_CASE("store: a version 2 database gets the heads' chain column, keeping its heads") {
    test::TempDir dir;
    const std::string path = (dir / "v2.db").string();
    Clock clock;
    Token t;
    {
        auto s = open_store(clock, path);
        t = join(*s, 1);
        ok(follow(*s, 1, t, true, {{chid(1), 0}}));
        CHECK(ok(put(*s, 1, t, head(1, 2))) == ManifestStored::kNewHead);
    }
    // Back to what version 2 wrote.
    rewrite(path,
            "ALTER TABLE channels DROP COLUMN chain; "
            "ALTER TABLE users DROP COLUMN backup; PRAGMA user_version = 2");
    auto s = open_store(clock, path);
    CHECK(s->get_manifest(chid(1)) == text_of(head(1, 2)));
    CHECK(refused(put(*s, 1, t, head(1, 1))) == RegistryErrc::kManifestStale);
    ManifestSummary handed = head(1, 3, 1);
    handed.chain = {Digest{}};
    handed.chain[0].bytes[0] = 7;
    CHECK(ok(put(*s, 1, t, handed)) == ManifestStored::kNewHead);
    CHECK(refused(put(*s, 1, t, head(1, 4))) == RegistryErrc::kManifestHandedOver);
}

TEST_CASE("store: a version 3 database gets its heads' whole chains from their texts") {
    // A head whose chain has two links, as a version 3 tracker kept it: the
    // last chain id only. Two such heads: a candidate that wins and one
    // that loses on the whole chain, each decided the other way on the
    // last id alone.
    const auto both = two_links_both_ways();
    REQUIRE(both.size() == 2);
    for (const TwoLinks& two : both) {
        CAPTURE(two.candidate_wins);
        test::TempDir dir;
        const std::string path = (dir / "v3.db").string();
        Clock clock;
        Token t;
        {
            auto s = open_store(clock, path);
            t = join(*s, 1);
            ok(follow(*s, 1, t, true, {{two.summary.channel, 0}}));
            CHECK(ok(s->put_manifest(uid(1), t, two.text, two.summary)) ==
                  ManifestStored::kNewHead);
        }
        // Back to what version 3 wrote.
        rewrite(path,
                "UPDATE channels SET chain = substr(chain, 33); "
                "PRAGMA user_version = 3");
        auto s = open_store(clock, path);
        CHECK(s->get_manifest(two.summary.channel) == two.text);
        // Decided on the whole chain, as it was read back from the text.
        const auto r = s->put_manifest(uid(1), t, "candidate", two.candidate);
        if (two.candidate_wins)
            CHECK(ok(r) == ManifestStored::kNewHead);
        else
            CHECK(refused(r) == RegistryErrc::kManifestHandedOver);
    }
}

}  // namespace store_test
