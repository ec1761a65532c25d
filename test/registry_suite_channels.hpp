// The registry suite's channel cases (test/registry_suite.hpp runs them):
// heads kept only when newer and valid, conflicts settled alike in either
// order, follows bounded and swept with their peer, channel peers, the
// retention of unfollowed heads, and paging.
#pragma once

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "common/core/limits.hpp"
#include "common/model/handover.hpp"
#include "common/model/manifest.hpp"
#include "test/registry_suite_support.hpp"
#include "tracker/core/registry.hpp"

namespace seedshare::tracker::registry_test {

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

// A real manifest of version 3 whose chain has two links (its first key
// handed over from 2, that key from 3), signed; and a candidate that a store
// holding it decides one way with its whole chain and the other way with its
// last id only (what a tracker kept before schema 4): an extension of the
// chain, or (when the ids happen to be ordered so that the extension would
// pass either way) a version by the key that handed over.
struct TwoLinks {
    std::string text;
    ManifestSummary summary;
    ManifestSummary candidate;
    bool candidate_wins = false;  // with the whole chain
};
// `base`: the first key's seed byte (the ids, and so the branch taken, differ).
inline TwoLinks two_links(std::uint8_t base) {
    const auto key = [](std::uint8_t n) {
        std::array<std::uint8_t, 32> seed{};
        seed.fill(n);
        return ChannelKey::from_seed(seed);
    };
    const ChannelKey k1 = key(base), k2 = key(base + 1), k3 = key(base + 2);
    Manifest m;
    m.channel = channel_id_of(k1.public_key());
    m.handovers = {link_of(sign_handover(m.channel, 2, k1, k2.public_key())),
                   link_of(sign_handover(m.channel, 3, k2, k3.public_key()))};
    m.version = 3;
    m.previous.bytes[0] = 1;
    m.time = 1700000000;
    m.name = "two links";
    m = sign_manifest(std::move(m), k3);
    TwoLinks out;
    out.text = format_manifest(m);
    out.summary = *check_manifest_for_upload(out.text);
    const auto& ids = out.summary.chain;
    out.candidate = out.summary;
    out.candidate.version = 4;
    out.candidate.body_hash.bytes[0] ^= 1;
    if (ids[1] < ids[0]) {
        // Held as {ids[1]}: {ids[0], ids[1], z} would fork at ids[0] and lose.
        Digest z;
        z.bytes.fill(7);
        out.candidate.chain.push_back(z);
        out.candidate_wins = true;
    } else {
        // Held as {ids[1]}: {ids[0]} would fork at ids[0] and win.
        out.candidate.chain = {ids[0]};
        out.candidate_wins = false;
    }
    return out;
}

// Two of them, one taking each branch.
inline std::vector<TwoLinks> two_links_both_ways() {
    std::vector<TwoLinks> out;
    bool seen[2] = {false, false};
    for (std::uint8_t base = 61; base < 61 + 3 * 16 && !(seen[0] && seen[1]); base += 3) {
        auto t = two_links(base);
        if (seen[t.candidate_wins]) continue;
        seen[t.candidate_wins] = true;
        out.push_back(std::move(t));
    }
    return out;
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

template <class Open>
void registry_channel_suite(Open open) {
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

    SUBCASE("a hand-over: a chain past the head's replaces it; the old key and forks are refused") {
        Clock clock;
        auto s = open(clock);
        const Token t = join(*s, 1);
        ok(follow(*s, 1, t, true, {{chid(1), 0}}));
        Digest x, y, z;  // chain ids (handover_chain_ids): x, then x+z; y forks
        x.bytes[0] = 1;
        y.bytes[0] = 2;
        z.bytes[0] = 3;
        const ManifestSummary old5 = head(1, 5);
        CHECK(ok(put(*s, 1, t, old5)) == ManifestStored::kNewHead);
        // The first key's version 6 was never heard of here: the new key's
        // version 6 (chain x) replaces version 5.
        ManifestSummary new6 = head(1, 6, 1);
        new6.chain = {x};
        CHECK(ok(put(*s, 1, t, new6)) == ManifestStored::kNewHead);
        CHECK(s->get_manifest(chid(1)) == text_of(new6));
        CHECK(ok(put(*s, 1, t, new6)) == ManifestStored::kAlreadyHead);
        // The old key's later version: refused, whatever its number.
        const auto old9 = put(*s, 1, t, head(1, 9));
        REQUIRE(refused(old9) == RegistryErrc::kManifestHandedOver);
        CHECK(std::get<RegistryError>(old9).version == 9);
        CHECK(std::get<RegistryError>(old9).head_version == 6);
        // A fork (another hand-over by the first key) whose id where the
        // chains split is higher: it loses (fork_winner), whatever its number.
        ManifestSummary fork = head(1, 8, 2);
        fork.chain = {y};
        CHECK(refused(put(*s, 1, t, fork)) == RegistryErrc::kManifestHandedOver);
        CHECK(s->get_manifest(chid(1)) == text_of(new6));
        // The chain goes on (x, then z): the head follows, even to a lower
        // number (a version the third key's hand-over voids).
        ManifestSummary new7 = head(1, 7, 3);
        new7.chain = {x};
        CHECK(ok(put(*s, 1, t, new7)) == ManifestStored::kNewHead);
        ManifestSummary third7 = head(1, 7, 4);
        third7.chain = {x, z};
        CHECK(ok(put(*s, 1, t, third7)) == ManifestStored::kNewHead);
        CHECK(s->get_manifest(chid(1)) == text_of(third7));
        // The second key, handed over since: refused.
        ManifestSummary second8 = head(1, 8, 5);
        second8.chain = {x};
        CHECK(refused(put(*s, 1, t, second8)) == RegistryErrc::kManifestHandedOver);
        ManifestSummary third8 = head(1, 8, 6);
        third8.chain = {x, z};
        CHECK(ok(put(*s, 1, t, third8)) == ManifestStored::kNewHead);
        // Listed with its whole chain.
        const auto page = s->list_channels(std::nullopt, 10);
        REQUIRE(page.channels.size() == 1);
        CHECK(page.channels[0].head == third8);
    }

    SUBCASE("a fork (one key handing over twice) ends the same whatever the order") {
        // Two chains from one key: x and y (y's id lower), then x goes on
        // (x, z). Where they split y wins, whatever the numbers, and the
        // losing branch does not come back by handing over again.
        Digest x, y, z;
        x.bytes[0] = 9;
        y.bytes[0] = 4;
        z.bytes[0] = 1;
        ManifestSummary on_x = head(1, 9, 1);
        on_x.chain = {x};
        ManifestSummary on_y = head(1, 6, 2);
        on_y.chain = {y};
        ManifestSummary on_xz = head(1, 7, 3);
        on_xz.chain = {x, z};
        const std::vector<std::vector<ManifestSummary>> orders{
            {on_x, on_y},        {on_y, on_x},        {on_x, on_y, on_xz},
            {on_xz, on_y, on_x}, {on_y, on_xz, on_x}, {on_x, on_xz, on_y}};
        for (std::size_t o = 0; o < orders.size(); ++o) {
            CAPTURE(o);
            Clock clock;
            auto s = open(clock);
            const Token t = join(*s, 1);
            ok(follow(*s, 1, t, true, {{chid(1), 0}}));
            for (const auto& m : orders[o])
                (void)put(*s, 1, t, m);
            CHECK(s->get_manifest(chid(1)) == text_of(on_y));
        }
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
