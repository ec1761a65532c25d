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
#include "tracker/core/registry.hpp"

namespace seedshare::tracker::registry_test {

inline constexpr std::int64_t kRegistryTtlMs = 90'000;

inline UserId uid(std::uint32_t n) {
    UserId u;
    u.bytes[0] = static_cast<std::uint8_t>(n * 97);  // spread over the id space
    u.bytes[1] = static_cast<std::uint8_t>(n >> 8);
    u.bytes[2] = static_cast<std::uint8_t>(n);
    u.bytes[15] = 1;
    return u;
}

inline SeedId sid(std::uint32_t n) {
    SeedId s;
    s.bytes[0] = static_cast<std::uint8_t>(n >> 16);
    s.bytes[1] = static_cast<std::uint8_t>(n >> 8);
    s.bytes[2] = static_cast<std::uint8_t>(n);
    s.bytes[31] = 7;
    return s;
}

inline asio::ip::address ip(const char* text) {
    return asio::ip::make_address(text);
}

inline Seed make_seed(const std::string& name, std::uint8_t salt) {
    Seed s;
    s.name = name;
    s.length = 100;
    s.chunk_size = 64;
    s.file_hash.bytes[0] = salt;
    s.trackers = {HostPort{"127.0.0.1", 7000}};
    s.chunk_hashes.resize(2);
    s.chunk_hashes[1].bytes[5] = salt;
    return s;
}

struct Clock {
    std::int64_t now = 1'700'000'000'000;
    NowMs fn() {
        return [this] { return now; };
    }
};

template <class T>
const T& ok(const RegistryResult<T>& a) {
    if (const auto* e = std::get_if<RegistryError>(&a))
        FAIL("refused: " << static_cast<int>(e->code));
    return std::get<T>(a);
}

template <class T>
RegistryErrc refused(const RegistryResult<T>& a) {
    const auto* e = std::get_if<RegistryError>(&a);
    REQUIRE_MESSAGE(e != nullptr, "expected a refusal");
    return e->code;
}

inline Token join(Registry& s, std::uint32_t n, std::uint16_t port = 4000,
                  const Token& presented = {}) {
    return ok(s.join(uid(n), presented, ip("10.0.0.1"), port)).token;
}

// A peer's token and a change to its holdings.
struct FilesArg {
    Token token;
    FileChanges changes;
};

inline FilesArg files(const Token& t, bool replace, std::vector<HeldFile> add,
                      std::vector<SeedId> remove = {}) {
    return FilesArg{t, FileChanges{replace, std::move(add), std::move(remove)}};
}

inline RegistryResult<FilesUpdated> update_files(Registry& s, const UserId& user,
                                                 const FilesArg& a) {
    return s.update_files(user, a.token, a.changes);
}

inline HeldFile entry(std::uint32_t n, bool complete = true) {
    return HeldFile{sid(n), "file" + std::to_string(n), 1000 + n, complete};
}

inline std::set<UserId> users_of(const std::vector<Holder>& p) {
    std::set<UserId> out;
    for (const auto& e : p)
        out.insert(e.user);
    return out;
}

inline std::optional<FileSummary> find_file(const FilePage& f, const SeedId& id) {
    for (const auto& i : f.files)
        if (i.id == id) return i;
    return std::nullopt;
}

inline ChannelId chid(std::uint32_t n) {
    ChannelId c;
    c.bytes[0] = static_cast<std::uint8_t>(n >> 16);
    c.bytes[1] = static_cast<std::uint8_t>(n >> 8);
    c.bytes[2] = static_cast<std::uint8_t>(n);
    c.bytes[31] = 9;
    return c;
}

// A manifest as check_manifest_for_upload would summarise it; `body` tells
// two manifests of one version apart.
inline ManifestSummary head(std::uint32_t channel, std::uint64_t version, std::uint8_t body = 0) {
    ManifestSummary m;
    m.channel = chid(channel);
    m.version = version;
    m.body_hash.bytes[0] = body;
    m.body_hash.bytes[1] = static_cast<std::uint8_t>(version);
    m.name = "channel " + std::to_string(channel);
    m.files = 2;
    m.size = 1000 * version;
    return m;
}

// Its text (the registry keeps it as uploaded).
inline std::string text_of(const ManifestSummary& m) {
    return "manifest " + m.channel.hex() + " " + std::to_string(m.version) + " " +
           m.body_hash.hex() + "\n";
}

inline RegistryResult<ManifestStored> put(Registry& s, std::uint32_t user, const Token& t,
                                          const ManifestSummary& m) {
    return s.put_manifest(uid(user), t, text_of(m), Result<ManifestSummary>(m));
}

inline RegistryResult<Done> follow(Registry& s, std::uint32_t user, const Token& t, bool replace,
                                   std::vector<FollowedChannel> add,
                                   std::vector<ChannelId> remove = {}) {
    return s.follow_channels(uid(user), t,
                             FollowChanges{replace, std::move(add), std::move(remove)});
}

inline std::set<UserId> users_of(const std::vector<Follower>& p) {
    std::set<UserId> out;
    for (const auto& e : p)
        out.insert(e.user);
    return out;
}

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
        constexpr std::uint32_t kHolders = 300;
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
            }
            seen.insert(users.begin(), users.end());
        }
        CHECK(seen.size() == kHolders - 2);  // every other holder shows up sometime
        // Asking for more than there are gives all of them.
        CHECK(s->get_peers(sid(1), uid(3), 200).size() == 200);
        CHECK(s->get_peers(sid(2), uid(3), 50).empty());
        const Token lone = join(*s, 1000);
        ok(update_files(*s, uid(1000), files(lone, true, {entry(9)})));
        CHECK(s->get_peers(sid(9), uid(1000), 50).empty());  // only the asker holds it
        CHECK(s->get_peers(sid(9), uid(1), 50).size() == 1);
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

    SUBCASE("a channel's head: only a newer, valid version of a followed channel") {
        Clock clock;
        auto s = open(clock);
        const Token t = join(*s, 1);
        const ManifestSummary v3 = head(1, 3);
        // Not followed: refused, nothing kept.
        CHECK(refused(put(*s, 1, t, v3)) == RegistryErrc::kChannelNotFollowed);
        CHECK_FALSE(s->get_manifest(chid(1)));
        ok(follow(*s, 1, t, true, {{chid(1), 0}}));
        // Does not parse or verify: refused with the checker's reason.
        const auto bad =
            s->put_manifest(uid(1), t, "forged", Result<ManifestSummary>(Error{"bad signature"}));
        REQUIRE(refused(bad) == RegistryErrc::kManifestInvalid);
        CHECK(std::get<RegistryError>(bad).manifest_error == "bad signature");
        Token wrong = t;
        wrong.bytes[0] ^= 1;
        CHECK(refused(put(*s, 1, wrong, v3)) == RegistryErrc::kUnknownPeer);
        CHECK_FALSE(s->get_manifest(chid(1)));

        CHECK(ok(put(*s, 1, t, v3)) == ManifestStored::kNewHead);
        CHECK(s->get_manifest(chid(1)) == text_of(v3));
        CHECK(ok(put(*s, 1, t, v3)) == ManifestStored::kAlreadyHead);  // the same again
        // Older: refused, saying what the head is.
        const auto older = put(*s, 1, t, head(1, 2));
        REQUIRE(refused(older) == RegistryErrc::kManifestStale);
        CHECK(std::get<RegistryError>(older).version == 2);
        CHECK(std::get<RegistryError>(older).head_version == 3);
        CHECK(s->get_manifest(chid(1)) == text_of(v3));
        // Newer: the new head.
        const ManifestSummary v7 = head(1, 7);
        CHECK(ok(put(*s, 1, t, v7)) == ManifestStored::kNewHead);
        CHECK(s->get_manifest(chid(1)) == text_of(v7));
        CHECK(refused(put(*s, 1, t, v3)) == RegistryErrc::kManifestStale);
        CHECK_FALSE(s->get_manifest(chid(2)));
        // What list_channels says of it comes from the summary.
        const auto page = s->list_channels(std::nullopt, 10);
        REQUIRE(page.channels.size() == 1);
        CHECK(page.channels[0].head == v7);
        CHECK(page.channels[0].followers == 1);
        CHECK_FALSE(page.more);
        CHECK(s->stats().channels == 1);
    }

    SUBCASE("a conflict (one version, two bodies) ends the same whatever the order") {
        const ManifestSummary a = head(1, 5, 1);
        const ManifestSummary b = head(1, 5, 2);
        std::string kept[2];
        for (int order = 0; order < 2; ++order) {
            Clock clock;
            auto s = open(clock);
            const Token t = join(*s, 1);
            ok(follow(*s, 1, t, true, {{chid(1), 5}}));
            const ManifestSummary& first = order == 0 ? a : b;
            const ManifestSummary& second = order == 0 ? b : a;
            CHECK(ok(put(*s, 1, t, first)) == ManifestStored::kNewHead);
            const auto r = put(*s, 1, t, second);
            if (const auto* e = std::get_if<RegistryError>(&r)) {
                CHECK(e->code == RegistryErrc::kManifestConflict);
                CHECK(e->head_version == 5);
                CHECK(s->get_manifest(chid(1)) == text_of(first));
            } else {
                CHECK(std::get<ManifestStored>(r) == ManifestStored::kNewHead);
                CHECK(s->get_manifest(chid(1)) == text_of(second));
            }
            kept[order] = *s->get_manifest(chid(1));
        }
        CHECK(kept[0] == kept[1]);
    }

    SUBCASE("follows: replaced or changed, bounded per peer") {
        Clock clock;
        auto s = open(clock);
        const Token t = join(*s, 1);
        std::vector<FollowedChannel> all;
        for (std::uint32_t n = 0; n < limits::kMaxChannelsPerPeer; ++n)
            all.push_back({chid(n), n});
        ok(follow(*s, 1, t, true, all));
        CHECK(s->stats().follows == limits::kMaxChannelsPerPeer);
        const auto over = follow(*s, 1, t, false, {{chid(5000), 1}});
        REQUIRE(refused(over) == RegistryErrc::kTooManyChannels);
        CHECK(std::get<RegistryError>(over).channels == limits::kMaxChannelsPerPeer + 1);
        CHECK(s->stats().follows == limits::kMaxChannelsPerPeer);   // nothing changed
        ok(follow(*s, 1, t, false, {{chid(5000), 1}}, {chid(0)}));  // a swap is fine
        ok(follow(*s, 1, t, true, {{chid(7), 2}}));                 // the full list replaces
        CHECK(s->stats().follows == 1);
        Token wrong = t;
        wrong.bytes[2] ^= 1;
        CHECK(refused(follow(*s, 1, wrong, true, {})) == RegistryErrc::kUnknownPeer);
        // The version held is updated, and reported by channel_peers.
        ok(follow(*s, 1, t, false, {{chid(7), 9}}));
        const auto p = s->channel_peers(chid(7), uid(2), 50);
        REQUIRE(p.size() == 1);
        CHECK(p[0].version == 9);
        CHECK(p[0].port == 4000);
        CHECK(p[0].address == ip("10.0.0.1"));
        ok(follow(*s, 1, t, false, {}, {chid(7)}));
        CHECK(s->channel_peers(chid(7), uid(2), 50).empty());
    }

    SUBCASE("channel_peers: a random subset of live serving followers, never the asker") {
        Clock clock;
        auto s = open(clock);
        constexpr std::uint32_t kFollowers = 300;
        std::vector<Token> tokens;
        for (std::uint32_t n = 0; n < kFollowers; ++n) {
            tokens.push_back(join(*s, n, static_cast<std::uint16_t>(n == 7 ? 0 : 5000 + n)));
            ok(follow(*s, n, tokens.back(), true, {{chid(1), n}}));
        }
        std::set<UserId> seen;
        for (int round = 0; round < 200; ++round) {
            const auto p = s->channel_peers(chid(1), uid(3), 50);
            REQUIRE(p.size() == 50);
            const auto users = users_of(p);
            CHECK(users.size() == 50);
            CHECK(users.count(uid(3)) == 0);
            CHECK(users.count(uid(7)) == 0);  // port 0: does not serve
            for (const auto& e : p)
                CHECK(e.version == e.user.bytes[2] + 256u * e.user.bytes[1]);
            seen.insert(users.begin(), users.end());
        }
        CHECK(seen.size() == kFollowers - 2);
        CHECK(s->channel_peers(chid(1), uid(3), 200).size() == 200);
        CHECK(s->channel_peers(chid(2), uid(3), 50).empty());
        // Expired followers vanish at once, before any sweep; the port-0
        // follower still counts as a follower in the listing.
        ok(put(*s, 1, tokens[1], head(1, 1)));
        CHECK(s->list_channels(std::nullopt, 10).channels.at(0).followers == kFollowers);
        clock.now += kRegistryTtlMs / 2;
        ok(s->heartbeat(uid(4), tokens[4]));
        ok(s->heartbeat(uid(7), tokens[7]));
        clock.now += kRegistryTtlMs / 2 + 1;
        const auto p = s->channel_peers(chid(1), uid(3), 50);
        CHECK(users_of(p) == std::set<UserId>{uid(4)});
        CHECK(s->list_channels(std::nullopt, 10).channels.at(0).followers == 2);
        const auto swept = s->sweep();
        CHECK(swept.users == kFollowers - 2);
        CHECK(swept.follows == kFollowers - 2);
        CHECK(s->stats().follows == 2);
    }

    SUBCASE("leave, and a join that takes an expired userid, drop its follows") {
        Clock clock;
        auto s = open(clock);
        const Token a = join(*s, 1);
        const Token b = join(*s, 2);
        ok(follow(*s, 1, a, true, {{chid(1), 1}}));
        ok(follow(*s, 2, b, true, {{chid(1), 1}}));
        ok(s->leave(uid(2), b));
        CHECK(users_of(s->channel_peers(chid(1), uid(9), 50)) == std::set<UserId>{uid(1)});
        CHECK(s->stats().follows == 1);
        clock.now += kRegistryTtlMs + 1;
        ok(s->join(uid(1), Token{}, ip("10.0.0.1"), 4000));  // a new owner of the userid
        CHECK(s->channel_peers(chid(1), uid(9), 50).empty());
        CHECK(s->stats().follows == 0);
    }

    SUBCASE("a head outlives its last follower for the retention period") {
        Clock clock;
        auto s = open(clock);
        const auto retention =
            std::chrono::duration_cast<std::chrono::milliseconds>(limits::kChannelRetention)
                .count();
        const Token t = join(*s, 1);
        // Time passes with uid(1) heartbeating, so it stays live.
        const auto pass = [&](std::int64_t ms) {
            for (std::int64_t left = ms; left > 0; left -= kRegistryTtlMs / 2) {
                clock.now += std::min<std::int64_t>(left, kRegistryTtlMs / 2);
                ok(s->heartbeat(uid(1), t));
            }
        };
        ok(follow(*s, 1, t, true, {{chid(1), 4}, {chid(2), 1}}));
        ok(put(*s, 1, t, head(1, 4)));
        ok(put(*s, 1, t, head(2, 1)));
        s->sweep();
        pass(3 * retention);  // followed: kept however long
        s->sweep();
        CHECK(s->stats().channels == 2);
        ok(follow(*s, 1, t, true, {{chid(2), 1}}));  // channel 1 loses its follower
        s->sweep();
        pass(retention / 2);
        s->sweep();
        CHECK(s->get_manifest(chid(1)));  // within the retention: a restarted publisher learns it
        pass(2 * retention);
        s->sweep();
        s->sweep();
        CHECK_FALSE(s->get_manifest(chid(1)));
        CHECK(s->get_manifest(chid(2)));
        CHECK(s->stats().channels == 1);
        // The last follower expiring starts the retention too.
        clock.now += kRegistryTtlMs + 1;
        CHECK(s->sweep().follows == 1);
        CHECK(s->get_manifest(chid(2)));
        clock.now += 3 * retention;
        s->sweep();
        s->sweep();
        CHECK(s->stats().channels == 0);
    }

    SUBCASE("list_channels pages in id order") {
        Clock clock;
        auto s = open(clock);
        std::vector<ChannelId> ids;
        for (std::uint32_t u = 0; u < 3; ++u) {  // 2500 channels over 3 peers
            const Token t = join(*s, u);
            std::vector<FollowedChannel> f;
            for (std::uint32_t n = u * 1000; n < std::min(2500u, (u + 1) * 1000); ++n)
                f.push_back({chid(n), 1});
            ok(follow(*s, u, t, true, f));
            for (const auto& c : f) {
                ManifestSummary m = head(0, 1);
                m.channel = c.channel;
                ok(put(*s, u, t, m));
            }
        }
        std::optional<ChannelId> after;
        int pages = 0;
        while (true) {
            const auto page = s->list_channels(after, limits::kMaxListChannelsPage);
            ++pages;
            for (const auto& c : page.channels) {
                ids.push_back(c.head.channel);
                CHECK(c.followers == 1);
            }
            if (!page.more) break;
            REQUIRE(pages < 10);
            after = page.channels.back().head.channel;
        }
        CHECK(pages == 3);
        CHECK(ids.size() == 2500);
        CHECK(std::is_sorted(ids.begin(), ids.end()));
        CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
        CHECK(s->list_channels(ids[1499], 1000).channels.size() == 1000);
        CHECK_FALSE(s->list_channels(ids[1499], 1000).more);
        CHECK(s->list_channels(std::nullopt, 0).channels.size() == 1);  // at least 1
    }
}

}  // namespace seedshare::tracker::registry_test
