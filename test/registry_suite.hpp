// The registry suite: the cases every Registry (tracker/core/registry.hpp)
// must pass, written against the interface only, with a fake clock. An
// implementation's test runs them with a function that opens a fresh, empty
// registry on a Clock and kRegistryTtlMs:
//
//     TEST_CASE("registry suite: sqlite") { registry_suite(open_fn); }
//
// (test/store_test.cpp for SQLite; the etcd registry of issue 16 next.)
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/core/limits.hpp"
#include "test/registry_suite_channels.hpp"
#include "test/registry_suite_support.hpp"
#include "tracker/core/registry.hpp"

namespace seedshare::tracker::registry_test {

// Runs every case (one SUBCASE each) on registries made by `open(clock)`.
template <class Open>
void registry_suite(Open open) {
    SUBCASE("join issues a token, and a live userid is refused without it") {
        Clock clock;
        auto s = open(clock);
        const Token t = join(*s, 1);
        CHECK_FALSE(t.is_zero());
        CHECK(s->is_live(uid(1), t));
        CHECK(s->token_of(uid(1)) == t);

        // No token, or a wrong one: refused, and nothing changes.
        CHECK(refused(s->join(uid(1), Token{}, ip("10.6.6.6"), 1)) == RegistryErrc::kUserIdInUse);
        Token wrong = t;
        wrong.bytes[0] ^= 1;
        CHECK(refused(s->join(uid(1), wrong, ip("10.6.6.6"), 1)) == RegistryErrc::kUserIdInUse);
        CHECK(s->token_of(uid(1)) == t);
        ok(update_files(*s, uid(1), files(t, true, {entry(1)})));
        const auto p = s->get_peers(sid(1), uid(9), 50);
        REQUIRE(p.size() == 1);
        CHECK(p[0].address == ip("10.0.0.1"));
        CHECK(p[0].port == 4000);

        // The right token keeps the identity (and takes the new address and port).
        auto again = ok(s->join(uid(1), t, ip("10.0.0.2"), 4001));
        CHECK(again.kept_token);
        CHECK(again.token == t);
        const auto p2 = s->get_peers(sid(1), uid(9), 50);
        REQUIRE(p2.size() == 1);
        CHECK(p2[0].address == ip("10.0.0.2"));
        CHECK(p2[0].port == 4001);

        // A different userid gets a different token.
        CHECK(join(*s, 2) != t);
    }

    SUBCASE("an expired userid can be taken, without its old holdings") {
        Clock clock;
        auto s = open(clock);
        const Token t = join(*s, 1);
        ok(update_files(*s, uid(1), files(t, true, {entry(1)})));
        clock.now += kRegistryTtlMs;  // silent exactly the TTL: still live
        CHECK(refused(s->join(uid(1), Token{}, ip("10.0.0.9"), 1)) == RegistryErrc::kUserIdInUse);
        clock.now += 1;  // longer than the TTL: expired
        const auto taken = ok(s->join(uid(1), Token{}, ip("10.0.0.9"), 1));
        CHECK_FALSE(taken.kept_token);
        CHECK(taken.token != t);
        CHECK(s->get_peers(sid(1), uid(9), 50).empty());
        CHECK(s->list_files(std::nullopt, 100).files.empty());  // the orphaned file is gone
        CHECK(refused(s->heartbeat(uid(1), t)) == RegistryErrc::kUnknownPeer);
    }

    SUBCASE("an expired userid presenting its token keeps it") {
        Clock clock;
        auto s = open(clock);
        const Token t = join(*s, 1);
        clock.now += 10 * kRegistryTtlMs;
        CHECK_FALSE(s->is_live(uid(1), t));
        const auto back = ok(s->join(uid(1), t, ip("10.0.0.1"), 4000));
        CHECK(back.kept_token);
        CHECK(back.token == t);
        CHECK(s->is_live(uid(1), t));
    }

    SUBCASE("heartbeat needs the token and a live entry") {
        Clock clock;
        auto s = open(clock);
        const Token t = join(*s, 1);
        Token wrong = t;
        wrong.bytes[3] ^= 0x40;
        CHECK(refused(s->heartbeat(uid(1), wrong)) == RegistryErrc::kUnknownPeer);
        CHECK(refused(s->heartbeat(uid(2), t)) == RegistryErrc::kUnknownPeer);
        clock.now += kRegistryTtlMs - 1;
        ok(s->heartbeat(uid(1), t));  // renews
        clock.now += kRegistryTtlMs;
        ok(s->heartbeat(uid(1), t));
        CHECK(s->is_live(uid(1), t));
        clock.now += kRegistryTtlMs + 1;
        CHECK(refused(s->heartbeat(uid(1), t)) == RegistryErrc::kUnknownPeer);
        CHECK(refused(update_files(*s, uid(1), files(t, true, {entry(1)}))) ==
              RegistryErrc::kUnknownPeer);
    }

    SUBCASE("expiry is exact, before any sweep") {
        Clock clock;
        auto s = open(clock);
        const Token a = join(*s, 1);
        const Token b = join(*s, 2);
        ok(update_files(*s, uid(1), files(a, true, {entry(1, true)})));
        ok(update_files(*s, uid(2), files(b, true, {entry(1, false)})));
        {
            const auto p = s->get_peers(sid(1), uid(3), 50);
            CHECK(users_of(p) == std::set<UserId>{uid(1), uid(2)});
            const auto f = find_file(s->list_files(std::nullopt, 100), sid(1));
            REQUIRE(f);
            CHECK(f->holders == 2);
            CHECK(f->complete_holders == 1);
        }
        clock.now += kRegistryTtlMs - 10;
        ok(s->heartbeat(uid(2), b));
        clock.now += 11;  // uid(1) silent for TTL + 1 ms
        {
            const auto p = s->get_peers(sid(1), uid(3), 50);
            CHECK(users_of(p) == std::set<UserId>{uid(2)});
            const auto f = find_file(s->list_files(std::nullopt, 100), sid(1));
            REQUIRE(f);
            CHECK(f->holders == 1);
            CHECK(f->complete_holders == 0);
        }
        CHECK(s->stats().users == 2);  // still there: only the sweep deletes
        CHECK(s->stats().live_users == 1);
    }

    SUBCASE("the sweep deletes expired peers, their holdings and unheld files") {
        Clock clock;
        auto s = open(clock);
        const Token a = join(*s, 1);
        const Token b = join(*s, 2);
        ok(update_files(*s, uid(1), files(a, true, {entry(1), entry(2)})));
        ok(update_files(*s, uid(2), files(b, true, {entry(2)})));
        CHECK(s->sweep().users == 0);
        clock.now += kRegistryTtlMs / 2;
        ok(s->heartbeat(uid(2), b));
        clock.now += kRegistryTtlMs / 2 + 1;
        const auto r = s->sweep();
        CHECK(r.users == 1);
        CHECK(r.holdings == 2);
        CHECK(r.files == 1);  // file 1 had only uid(1); file 2 is still held by uid(2)
        const auto st = s->stats();
        CHECK(st.users == 1);
        CHECK(st.holdings == 1);
        CHECK(st.files == 1);
        CHECK_FALSE(s->token_of(uid(1)));
        // Swept in steps.
        for (std::uint32_t n = 10; n < 35; ++n)
            join(*s, n);
        clock.now += kRegistryTtlMs + 1;
        CHECK(s->sweep(10).users == 10);
        CHECK(s->sweep(10).users == 10);
        CHECK(s->sweep(10).users == 6);  // the last 5 and uid(2)
        CHECK(s->sweep(10).users == 0);
        CHECK(s->stats().files == 0);
    }

    SUBCASE("holdings, in full and as changes") {
        Clock clock;
        auto s = open(clock);
        const Token t = join(*s, 1);
        auto r =
            ok(update_files(*s, uid(1), files(t, true, {entry(1), entry(2, false), entry(3)})));
        CHECK(r.need_seed == std::vector<SeedId>{sid(1), sid(2), sid(3)});
        CHECK(s->stats().holdings == 3);
        // A change: 2 becomes complete, 3 goes, 4 comes.
        r = ok(update_files(*s, uid(1), files(t, false, {entry(2, true), entry(4)}, {sid(3)})));
        CHECK(r.need_seed == std::vector<SeedId>{sid(2), sid(4)});
        auto listed = s->list_files(std::nullopt, 100);
        CHECK(listed.files.size() == 3);  // 3 had no other holder: gone
        CHECK_FALSE(find_file(listed, sid(3)));
        CHECK(find_file(listed, sid(2))->complete_holders == 1);
        // Removing something not held is harmless.
        ok(update_files(*s, uid(1), files(t, false, {}, {sid(99)})));
        // The full list replaces everything.
        ok(update_files(*s, uid(1), files(t, true, {entry(5)})));
        listed = s->list_files(std::nullopt, 100);
        REQUIRE(listed.files.size() == 1);
        CHECK(listed.files[0].id == sid(5));
        CHECK(listed.files[0].name == "file5");
        CHECK(listed.files[0].length == 1005);
        CHECK(s->stats().holdings == 1);
        // An empty full list.
        ok(update_files(*s, uid(1), files(t, true, {})));
        CHECK(s->stats().files == 0);
    }

    SUBCASE("a peer may hold at most kMaxFilesPerPeer files") {
        Clock clock;
        auto s = open(clock);
        const Token t = join(*s, 1);
        std::vector<HeldFile> all;
        for (std::uint32_t n = 0; n < limits::kMaxFilesPerPeer; ++n)
            all.push_back(entry(n));
        ok(update_files(*s, uid(1), files(t, true, all)));
        CHECK(s->stats().holdings == limits::kMaxFilesPerPeer);
        const auto over = update_files(*s, uid(1), files(t, false, {entry(70000)}, {}));
        CHECK(refused(over) == RegistryErrc::kTooManyFiles);
        CHECK(s->stats().holdings == limits::kMaxFilesPerPeer);  // nothing changed
        CHECK_FALSE(find_file(s->list_files(sid(69999), 10), sid(70000)));
        // Swapping one for another is fine.
        ok(update_files(*s, uid(1), files(t, false, {entry(70000)}, {sid(0)})));
    }

    SUBCASE("seed texts are checked against the holdings and served by id") {
        Clock clock;
        auto s = open(clock);
        const Seed seed = make_seed("movie.mkv", 3);
        const std::string text = format_seed(seed);
        const SeedId id = seed.id();
        const Token t = join(*s, 1);
        // Claimed with another name and length: the seed text will win.
        auto r = ok(update_files(*s, uid(1), files(t, true, {{id, "wrong-name", 5, true}})));
        CHECK(r.need_seed == std::vector<SeedId>{id});
        CHECK_FALSE(s->get_seed(id));

        CHECK(refused(s->put_seed(uid(1), t, "not a seed\n")) == RegistryErrc::kSeedUnparsable);
        CHECK(refused(s->put_seed(uid(1), t, format_seed(make_seed("other", 4)))) ==
              RegistryErrc::kSeedNotHeld);  // parses, but is not held
        Token wrong = t;
        wrong.bytes[0] ^= 1;
        CHECK(refused(s->put_seed(uid(1), wrong, text)) == RegistryErrc::kUnknownPeer);
        CHECK_FALSE(s->get_seed(id));

        ok(s->put_seed(uid(1), t, text));
        REQUIRE(s->get_seed(id));
        CHECK(*s->get_seed(id) == text);
        const auto f = find_file(s->list_files(std::nullopt, 10), id);
        REQUIRE(f);
        CHECK(f->name == "movie.mkv");
        CHECK(f->length == 100);

        // Another holder is not asked for it again.
        const Token t2 = join(*s, 2);
        CHECK(ok(update_files(*s, uid(2), files(t2, true, {{id, "movie.mkv", 100, false}})))
                  .need_seed.empty());
        // The first text stays.
        ok(s->put_seed(uid(2), t2, text));
        CHECK(*s->get_seed(id) == text);
        CHECK_FALSE(s->get_seed(sid(42)));
    }

    SUBCASE("get_peers is a random subset of live serving holders, never the asker") {
        Clock clock;
        auto s = open(clock);
        constexpr std::uint32_t kHolders = 300;  // even userids complete, odd ones partial
        for (std::uint32_t n = 0; n < kHolders; ++n) {
            const Token t = join(*s, n, static_cast<std::uint16_t>(n == 7 ? 0 : 5000 + n));
            ok(update_files(*s, uid(n), files(t, true, {entry(1, n % 2 == 0)})));
        }
        std::set<UserId> seen;
        for (int round = 0; round < 200; ++round) {
            const auto p = s->get_peers(sid(1), uid(3), 50);
            REQUIRE(p.size() == 50);
            const auto users = users_of(p);
            CHECK(users.size() == 50);  // distinct
            CHECK(users.count(uid(3)) == 0);
            CHECK(users.count(uid(7)) == 0);  // port 0: does not serve
            for (const auto& e : p) {
                CHECK(e.port != 0);
                CHECK(e.complete == (e.user.bytes[2] % 2 == 0));
                CHECK(e.complete);  // 150 complete holders: complete ones first
            }
            seen.insert(users.begin(), users.end());
        }
        CHECK(seen.size() == kHolders / 2);  // every complete holder shows up sometime
        // Beyond the complete ones: a random subset of the partial ones.
        seen.clear();
        for (int round = 0; round < 100; ++round) {
            const auto p = s->get_peers(sid(1), uid(3), 200);
            REQUIRE(p.size() == 200);
            CHECK(users_of(p).size() == 200);
            for (std::size_t i = 0; i < p.size(); ++i) {
                CHECK(p[i].complete == (i < kHolders / 2));
                CHECK(p[i].complete == (p[i].user.bytes[2] % 2 == 0));
                if (!p[i].complete) seen.insert(p[i].user);
            }
        }
        CHECK(seen.size() == kHolders / 2 - 2);  // every partial one but 3 and 7, sometime
        // Asking for more than there are gives all of them.
        CHECK(s->get_peers(sid(1), uid(3), 200).size() == 200);
        CHECK(s->get_peers(sid(2), uid(3), 50).empty());
        const Token lone = join(*s, 1000);
        ok(update_files(*s, uid(1000), files(lone, true, {entry(9)})));
        CHECK(s->get_peers(sid(9), uid(1000), 50).empty());  // only the asker holds it
        CHECK(s->get_peers(sid(9), uid(1), 50).size() == 1);
    }

    SUBCASE("get_peers hands out a backup peer after the other complete holders, if room") {
        Clock clock;
        auto s = open(clock);
        for (std::uint32_t n = 1; n <= 4; ++n) {  // 1, 2 complete; 3, 4 partial
            const Token t = join(*s, n, static_cast<std::uint16_t>(5000 + n));
            ok(update_files(*s, uid(n), files(t, true, {entry(1, n <= 2)})));
        }
        const Token b = ok(s->join(uid(10), Token{}, ip("10.0.0.9"), 6000, true)).token;
        ok(update_files(*s, uid(10), files(b, true, {entry(1, true)})));
        for (int round = 0; round < 20; ++round) {
            const auto p = s->get_peers(sid(1), uid(99), 50);
            REQUIRE(p.size() == 5);
            CHECK(p[0].complete);
            CHECK(p[1].complete);
            CHECK_FALSE(p[0].backup);
            CHECK_FALSE(p[1].backup);
            CHECK(p[2].user == uid(10));  // the backup, after the complete others
            CHECK(p[2].backup);
            CHECK(p[2].port == 6000);
            CHECK_FALSE(p[3].complete);
            CHECK_FALSE(p[4].complete);
            CHECK_FALSE(p[3].backup);
            CHECK_FALSE(p[4].backup);
        }
        // Spared when the complete others fill what was asked for.
        for (int round = 0; round < 20; ++round) {
            const auto p = s->get_peers(sid(1), uid(99), 2);
            REQUIRE(p.size() == 2);
            CHECK(users_of(p) == std::set<UserId>{uid(1), uid(2)});
        }
        // Handed out before the partial ones, even when they alone would fill it.
        for (int round = 0; round < 20; ++round) {
            const auto p = s->get_peers(sid(1), uid(99), 4);
            REQUIRE(p.size() == 4);
            CHECK(p[2].user == uid(10));
            CHECK_FALSE(p[3].complete);
        }
        // Only the backup left: it is handed out.
        for (std::uint32_t n = 1; n <= 4; ++n)
            ok(s->leave(uid(n), *s->token_of(uid(n))));
        const auto alone = s->get_peers(sid(1), uid(99), 50);
        REQUIRE(alone.size() == 1);
        CHECK(alone[0].backup);
        // A rejoin says it again: joined as a plain peer, it is one.
        ok(s->join(uid(10), b, ip("10.0.0.9"), 6000, false));
        const auto plain = s->get_peers(sid(1), uid(99), 50);
        REQUIRE(plain.size() == 1);
        CHECK_FALSE(plain[0].backup);
    }

    SUBCASE("get_peers: many partial holders do not hide the backup") {
        // 60 partial holders, 3 complete ones and a backup; 50 asked for.
        Clock clock;
        auto s = open(clock);
        for (std::uint32_t n = 100; n < 160; ++n) {
            const Token t = join(*s, n, static_cast<std::uint16_t>(5000 + n));
            ok(update_files(*s, uid(n), files(t, true, {entry(1, false)})));
        }
        const Token b = ok(s->join(uid(10), Token{}, ip("10.0.0.9"), 6000, true)).token;
        ok(update_files(*s, uid(10), files(b, true, {entry(1, true)})));
        // Only partial others: the backup first.
        for (int round = 0; round < 20; ++round) {
            const auto p = s->get_peers(sid(1), uid(99), 50);
            REQUIRE(p.size() == 50);
            CHECK(p[0].user == uid(10));
            CHECK(p[0].backup);
            for (std::size_t i = 1; i < p.size(); ++i)
                CHECK_FALSE(p[i].complete);
        }
        for (std::uint32_t n = 1; n <= 3; ++n) {
            const Token t = join(*s, n, static_cast<std::uint16_t>(5000 + n));
            ok(update_files(*s, uid(n), files(t, true, {entry(1, true)})));
        }
        for (int round = 0; round < 20; ++round) {
            const auto p = s->get_peers(sid(1), uid(99), 50);
            REQUIRE(p.size() == 50);
            CHECK(users_of(p).size() == 50);
            for (std::size_t i = 0; i < 3; ++i) {  // the complete others first
                CHECK(p[i].complete);
                CHECK_FALSE(p[i].backup);
            }
            CHECK(p[3].user == uid(10));  // then the backup
            CHECK(p[3].backup);
            for (std::size_t i = 4; i < p.size(); ++i) {  // then partial ones
                CHECK_FALSE(p[i].complete);
                CHECK_FALSE(p[i].backup);
            }
        }
    }

    SUBCASE("leave forgets the peer at once") {
        Clock clock;
        auto s = open(clock);
        const Token t = join(*s, 1);
        ok(update_files(*s, uid(1), files(t, true, {entry(1)})));
        Token wrong = t;
        wrong.bytes[9] ^= 2;
        CHECK(refused(s->leave(uid(1), wrong)) == RegistryErrc::kUnknownPeer);
        CHECK(s->get_peers(sid(1), uid(2), 50).size() == 1);
        ok(s->leave(uid(1), t));
        CHECK(s->get_peers(sid(1), uid(2), 50).empty());
        CHECK(s->stats().users == 0);
        CHECK(s->stats().files == 0);
        CHECK(refused(s->heartbeat(uid(1), t)) == RegistryErrc::kUnknownPeer);
        CHECK(ok(s->join(uid(1), Token{}, ip("10.0.0.1"), 1)).token != t);
    }

    SUBCASE("list_files pages in id order") {
        Clock clock;
        auto s = open(clock);
        const Token t = join(*s, 1);
        std::vector<HeldFile> all;
        for (std::uint32_t n = 0; n < 2500; ++n)
            all.push_back(entry(n));
        ok(update_files(*s, uid(1), files(t, true, all)));
        std::vector<SeedId> ids;
        std::optional<SeedId> after;
        int pages = 0;
        while (true) {
            const auto page = s->list_files(after, limits::kMaxListFilesPage);
            ++pages;
            for (const auto& f : page.files)
                ids.push_back(f.id);
            if (!page.more) break;
            REQUIRE(pages < 10);
            after = page.files.back().id;
        }
        CHECK(pages == 3);
        CHECK(ids.size() == 2500);
        CHECK(std::is_sorted(ids.begin(), ids.end()));
        CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
        CHECK(s->list_files(std::nullopt, 1000).more);
        CHECK_FALSE(s->list_files(ids[1499], 1000).more);  // exactly the last 1000
    }

    registry_channel_suite(open);
}

}  // namespace seedshare::tracker::registry_test
