// Hand-overs (common/model/handover.hpp) and the version 2 manifests that
// carry them: the golden examples of seeds/MANIFEST.md, the strict record
// parser, the chain rules, freshness across a hand-over, and what a
// publisher may sign (chain_to_publish).
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "common/core/limits.hpp"
#include "common/crypto/sha256.hpp"
#include "common/model/manifest.hpp"
#include "common/model/seed.hpp"
#include "peer/channel/publisher.hpp"
#include "test/support/temp_dir.hpp"

namespace handover_test {

using namespace seedshare;
using seedshare::test::read_file;

namespace {

const std::filesystem::path kSeeds = std::filesystem::path(SEEDSHARE_SOURCE_DIR) / "seeds";

// THE TEST KEYS of seeds/MANIFEST.md: bytes first..first+31. Public.
ChannelKey key_from(std::uint8_t first) {
    std::array<std::uint8_t, 32> seed{};
    for (std::size_t i = 0; i < seed.size(); ++i)
        seed[i] = static_cast<std::uint8_t>(first + i);
    return ChannelKey::from_seed(seed);
}
ChannelKey key1() {
    return key_from(0x01);
}
ChannelKey key2() {
    return key_from(0x21);
}
ChannelKey key3() {
    return key_from(0x41);
}
ChannelId channel() {
    return channel_id_of(key1().public_key());
}

ManifestEntry example(std::string path, std::string_view seed_file) {
    auto seed = parse_seed(read_file(kSeeds / "examples" / seed_file));
    REQUIRE(seed);
    return ManifestEntry{std::move(path), seed->id(), seed->length};
}

// seeds/examples/site.handover: key 1 hands the example channel over to key
// 2 from version 3; site-v3.manifest is version 3, by key 2.
HandoverRecord golden_record() {
    return sign_handover(channel(), 3, key1(), key2().public_key());
}
Manifest golden_v3() {
    auto v2 = parse_manifest(read_file(kSeeds / "examples" / "site.manifest"));
    REQUIRE(v2);
    Manifest m;
    m.channel = channel();
    m.handovers = {link_of(golden_record())};
    m.version = 3;
    m.previous = manifest_body_hash(*v2);
    m.time = 1767232800;  // an hour after version 2
    m.name = "example site";
    m.files = {example("data/empty.bin", "empty.bin.seed"), example("data/odd.bin", "odd.bin.seed"),
               example("docs/hello.txt", "hello.txt.seed"), example("hello.txt", "hello.txt.seed")};
    return sign_manifest(m, key2());
}

Manifest by(const ChannelKey& key, std::vector<Handover> chain, std::uint64_t version) {
    Manifest m;
    m.channel = channel();
    m.handovers = std::move(chain);
    m.version = version;
    if (version > 1) m.previous = sha256(std::to_string(version - 1));
    m.time = 1700000000;
    m.name = "c";
    return sign_manifest(m, key);
}

std::string record_rejection(const std::string& text) {
    auto r = parse_handover(text);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

}  // namespace

TEST_CASE("handover: golden examples parse, verify and keep their pinned hashes") {
    const bool write = std::getenv("SEEDSHARE_WRITE_GOLDEN") != nullptr;
    const auto record_path = kSeeds / "examples" / "site.handover";
    const auto v3_path = kSeeds / "examples" / "site-v3.manifest";
    if (write) {
        test::write_file(record_path, format_handover(golden_record()));
        test::write_file(v3_path, format_manifest(golden_v3()));
    }
    const std::string record_text = read_file(record_path);
    auto r = parse_handover(record_text);
    REQUIRE(r);
    CHECK(*r == golden_record());
    CHECK(format_handover(*r) == record_text);
    CHECK(verify_handover_signature(*r).ok());
    CHECK(r->to == key2().public_key());

    const std::string text = read_file(v3_path);
    auto m = parse_manifest(text);
    REQUIRE(m);
    CHECK(*m == golden_v3());
    CHECK(format_manifest(*m) == text);
    CHECK(text.starts_with("seedshare-manifest 2\n"));
    CHECK(verify_manifest_signature(*m).ok());
    CHECK(manifest_body_hash(*m).hex() ==
          "15e5600d4239cfe4386f3bf9a43d7ebace9c4ce19540d2ab89470eef0350df63");
    CHECK(handover_record(m->channel, m->handovers, 0) == *r);
    // A version by key 2 follows version 2 (by key 1); key 1's own version 3
    // is refused once the hand-over is known.
    auto v2 = parse_manifest(read_file(kSeeds / "examples" / "site.manifest"));
    REQUIRE(v2);
    CHECK(freshness(version_of(*v2), version_of(*m)) == Freshness::kNewer);
    CHECK(freshness(version_of(*m), version_of(by(key1(), {}, 4))) == Freshness::kHandedOver);
    // Copies in the fuzz corpora.
    const std::filesystem::path corpus =
        std::filesystem::path(SEEDSHARE_SOURCE_DIR) / "test/fuzz/corpus";
    CHECK(read_file(corpus / "handover_parser_fuzz" / "site.handover") == record_text);
    CHECK(read_file(corpus / "manifest_parser_fuzz" / "site-v3.manifest") == text);
}

TEST_CASE("handover: the record parser is strict") {
    const std::string good = format_handover(golden_record());
    REQUIRE(parse_handover(good));
    CHECK(record_rejection("") != "");
    CHECK(record_rejection(good.substr(0, good.size() - 1)).find("newline") != std::string::npos);
    CHECK(record_rejection("seedshare-handover 2\n" + good.substr(good.find('\n') + 1))
              .find("not a seedshare hand-over") != std::string::npos);
    std::string crlf = good;
    crlf.insert(crlf.find('\n'), "\r");
    CHECK(record_rejection(crlf).find("control character") != std::string::npos);
    CHECK(record_rejection(good + "x\n").find("after the signature") != std::string::npos);
    CHECK(record_rejection(std::string(limits::kMaxHandoverBytes + 1, 'a')).find("limit") !=
          std::string::npos);
    auto replaced = [&](const std::string& from, const std::string& to) {
        std::string t = good;
        t.replace(t.find(from), from.size(), to);
        return t;
    };
    CHECK(record_rejection(replaced("from 3", "from 0")).find("line 3") != std::string::npos);
    CHECK(record_rejection(replaced("from 3", "from 03")).find("line 3") != std::string::npos);
    CHECK(record_rejection(replaced("from 3", "from 9223372036854775808")).find("line 3") !=
          std::string::npos);
    CHECK(record_rejection(replaced("\nby ", "\nbz ")).find("line 4") != std::string::npos);
    CHECK(record_rejection(replaced("\nto ", "\nby ")).find("line 5") != std::string::npos);
    std::string upper = good;
    const auto at = upper.find("\nto ") + 4;
    for (std::size_t i = at; i < at + 64; ++i)
        upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
    if (upper != good) CHECK(record_rejection(upper).find("line 5") != std::string::npos);
    // Parsed but not signed by `by`, or handing over to itself.
    auto forged = golden_record();
    forged.from = 4;
    CHECK_FALSE(verify_handover_signature(forged).ok());
    CHECK_FALSE(
        verify_handover_signature(sign_handover(channel(), 3, key1(), key1().public_key())).ok());
}

TEST_CASE("handover: a chain is signed link by link, numbers go up, versions follow it") {
    const auto r1 = sign_handover(channel(), 5, key1(), key2().public_key());
    const auto r2 = sign_handover(channel(), 8, key2(), key3().public_key());
    const std::vector<Handover> one{link_of(r1)}, two{link_of(r1), link_of(r2)};
    CHECK(verify_handover_chain(channel(), two).ok());
    CHECK(publishing_key(channel(), two) == key3().public_key());
    CHECK(verify_manifest_signature(by(key3(), two, 8)).ok());
    CHECK(verify_manifest_signature(by(key2(), one, 5)).ok());
    // A version below the last hand-over's number, or by a key before it.
    CHECK_FALSE(verify_manifest_signature(by(key2(), one, 4)).ok());
    CHECK_FALSE(verify_manifest_signature(by(key1(), one, 6)).ok());
    CHECK_FALSE(verify_manifest_signature(by(key2(), two, 9)).ok());
    // A link not signed by the key before it (key 3 skips key 2).
    const auto skip = sign_handover(channel(), 5, key2(), key3().public_key());
    CHECK_FALSE(verify_handover_chain(channel(), {link_of(skip)}).ok());
    // Numbers that do not go up.
    const auto r2_early = sign_handover(channel(), 5, key2(), key3().public_key());
    CHECK_FALSE(verify_handover_chain(channel(), {link_of(r1), link_of(r2_early)}).ok());
    // Another channel's record does not fit this chain.
    const auto elsewhere =
        sign_handover(channel_id_of(key2().public_key()), 5, key1(), key2().public_key());
    CHECK_FALSE(append_handover(channel(), {}, elsewhere).ok());
    // Appending: the next link, the same one again, a fork.
    CHECK(append_handover(channel(), {}, r1).value() == one);
    CHECK(append_handover(channel(), one, r1).value() == one);
    CHECK(append_handover(channel(), one, r2).value() == two);
    const auto fork = sign_handover(channel(), 6, key1(), key3().public_key());
    CHECK_FALSE(append_handover(channel(), one, fork).ok());
    // At most kMaxHandovers links: a manifest claiming more is refused unread.
    const Manifest signed_v5 = by(key2(), one, 5);
    std::string text = format_manifest(signed_v5);
    const std::string count_line = "handovers 1\n";
    text.replace(text.find(count_line), count_line.size(),
                 "handovers " + std::to_string(limits::kMaxHandovers + 1) + "\n");
    auto r = parse_manifest(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("limit") != std::string::npos);
    // Format 2 with no hand-over is a second spelling of format 1: refused.
    std::string zero = format_manifest(signed_v5);
    zero.replace(zero.find(count_line), count_line.size(), "handovers 0\n");
    CHECK_FALSE(parse_manifest(zero));
    // Format 1 never carries hand-over lines.
    std::string v1_with = format_manifest(signed_v5);
    v1_with.replace(0, std::string("seedshare-manifest 2").size(), "seedshare-manifest 1");
    CHECK_FALSE(parse_manifest(v1_with));
}

TEST_CASE("handover: freshness follows the chain, refuses the old key and forks") {
    const auto r1 = sign_handover(channel(), 5, key1(), key2().public_key());
    const auto r2 = sign_handover(channel(), 8, key2(), key3().public_key());
    const auto fork = sign_handover(channel(), 5, key1(), key3().public_key());
    const auto old4 = version_of(by(key1(), {}, 4));
    const auto old6 = version_of(by(key1(), {}, 6));
    const auto new5 = version_of(by(key2(), {link_of(r1)}, 5));
    const auto new7 = version_of(by(key2(), {link_of(r1)}, 7));
    const auto third8 = version_of(by(key3(), {link_of(r1), link_of(r2)}, 8));
    const auto forked5 = version_of(by(key3(), {link_of(fork)}, 5));

    CHECK(freshness(old4, new5) == Freshness::kNewer);
    CHECK(freshness(new5, new7) == Freshness::kNewer);
    CHECK(freshness(new5, third8) == Freshness::kNewer);
    // The old key's versions after its hand-over: refused, whatever the number.
    CHECK(freshness(new5, old6) == Freshness::kHandedOver);
    CHECK(freshness(new5, old4) == Freshness::kHandedOver);
    CHECK(freshness(third8, new7) == Freshness::kHandedOver);
    // Held the old key's version 6 (before hearing of the hand-over from 5):
    // the hand-over voids it, though 5 < 6.
    CHECK(freshness(old6, new5) == Freshness::kNewer);
    CHECK(replaces_held(new5, old6));
    // Two hand-overs by one key (a fork): whichever is held, the same one
    // wins, the lower id where the chains split, whatever the numbers, and
    // whatever either branch did after the split.
    CHECK(freshness(new5, forked5) == Freshness::kForked);
    CHECK(freshness(forked5, new7) == Freshness::kForked);
    CHECK(freshness(forked5, third8) == Freshness::kForked);
    const bool forked_wins = forked5.chain[0] < new5.chain[0];
    CHECK(replaces_held(forked5, new5) == forked_wins);
    CHECK(replaces_held(new5, forked5) == !forked_wins);
    CHECK(replaces_held(forked5, new7) == forked_wins);
    CHECK(replaces_held(new7, forked5) == !forked_wins);
    CHECK(replaces_held(third8, forked5) == !forked_wins);
    CHECK(replaces_held(forked5, third8) == forked_wins);
    CHECK(&fork_winner(new7, forked5) == (forked_wins ? &forked5 : &new7));
    CHECK(&fork_winner(forked5, new7) == (forked_wins ? &forked5 : &new7));
}

TEST_CASE("handover: every version has one place in one order, so all peers converge") {
    // Versions on one chain, a conflict, a hand-over, a second hand-over by
    // the same key (a fork), and hand-overs after the fork on both branches:
    // for any two, exactly one replaces the other, and the order is
    // transitive, so whatever order peers hear them in, they end on the same
    // one.
    const auto r1 = sign_handover(channel(), 5, key1(), key2().public_key());
    const auto r2 = sign_handover(channel(), 8, key2(), key3().public_key());
    const auto fork = sign_handover(channel(), 5, key1(), key3().public_key());
    const auto after_fork = sign_handover(channel(), 13, key3(), key2().public_key());
    Manifest other7 = by(key2(), {link_of(r1)}, 7);
    other7.name = "other";
    const std::vector<ManifestVersion> all{
        version_of(by(key1(), {}, 4)),
        version_of(by(key1(), {}, 6)),
        version_of(by(key2(), {link_of(r1)}, 5)),
        version_of(by(key2(), {link_of(r1)}, 7)),
        version_of(sign_manifest(other7, key2())),  // a conflict with the one before
        version_of(by(key3(), {link_of(r1), link_of(r2)}, 8)),
        version_of(by(key3(), {link_of(r1), link_of(r2)}, 9)),
        version_of(by(key3(), {link_of(fork)}, 5)),
        version_of(by(key3(), {link_of(fork)}, 12)),
        version_of(by(key2(), {link_of(fork), link_of(after_fork)}, 14)),
    };
    const auto same = [](const ManifestVersion& a, const ManifestVersion& b) {
        return a.number == b.number && a.body_hash == b.body_hash;
    };
    for (std::size_t i = 0; i < all.size(); ++i)
        for (std::size_t j = 0; j < all.size(); ++j) {
            CAPTURE(i);
            CAPTURE(j);
            if (same(all[i], all[j])) {
                CHECK_FALSE(replaces_held(all[i], all[j]));
                continue;
            }
            CHECK(replaces_held(all[i], all[j]) != replaces_held(all[j], all[i]));
            for (std::size_t k = 0; k < all.size(); ++k)
                if (replaces_held(all[i], all[j]) && replaces_held(all[j], all[k]))
                    CHECK(replaces_held(all[i], all[k]));
        }
    // One greatest: the highest number on the winning branch.
    const bool forked_wins = all[7].chain[0] < all[2].chain[0];
    const auto& top = forked_wins ? all[9] : all[6];
    for (const auto& v : all)
        if (!same(v, top)) CHECK(replaces_held(top, v));
}

TEST_CASE("handover: what a publisher may sign (chain_to_publish)") {
    const auto r1 = sign_handover(channel(), 5, key1(), key2().public_key());
    const std::vector<Handover> one{link_of(r1)};
    // The first key, no hand-over: its own channel.
    CHECK(chain_to_publish(channel(), {}, std::nullopt, key1().public_key()).value().empty());
    // The new key with its record: the chain gains it (once).
    CHECK(chain_to_publish(channel(), {}, r1, key2().public_key()).value() == one);
    CHECK(chain_to_publish(channel(), one, r1, key2().public_key()).value() == one);
    CHECK(chain_to_publish(channel(), one, std::nullopt, key2().public_key()).value() == one);
    // The old key, once the chain it knows hands it over: refused, naming why.
    auto old = chain_to_publish(channel(), one, std::nullopt, key1().public_key());
    REQUIRE_FALSE(old);
    CHECK(old.error().message.find("handed publishing") != std::string::npos);
    // A key never handed the channel.
    CHECK_FALSE(chain_to_publish(channel(), {}, std::nullopt, key3().public_key()));
    // A record that forks the chain known.
    const auto fork = sign_handover(channel(), 6, key1(), key3().public_key());
    CHECK_FALSE(chain_to_publish(channel(), one, fork, key3().public_key()));
}

TEST_CASE("handover: a new publisher's DIR names the channel it was handed (handed_over_channel)") {
    const auto r1 = sign_handover(channel(), 5, key1(), key2().public_key());
    const auto r2 = sign_handover(channel(), 7, key2(), key3().public_key());
    const std::string by_key2 = format_manifest(by(key2(), {link_of(r1)}, 5));
    // The key the chain names (last, or earlier): the record's channel.
    CHECK(handed_over_channel(by_key2, key2().public_key()) == std::optional(channel()));
    CHECK(handed_over_channel(format_manifest(by(key3(), {link_of(r1), link_of(r2)}, 7)),
                              key2().public_key()) == std::optional(channel()));
    // No hand-over, another key, or text that is not a valid version: none.
    CHECK_FALSE(handed_over_channel(format_manifest(by(key1(), {}, 4)), key1().public_key()));
    CHECK_FALSE(handed_over_channel(by_key2, key3().public_key()));
    CHECK_FALSE(handed_over_channel("not a manifest", key2().public_key()));
    std::string forged = by_key2;
    forged[forged.size() - 3] = forged[forged.size() - 3] == '0' ? '1' : '0';  // the signature
    CHECK_FALSE(handed_over_channel(forged, key2().public_key()));
}

}  // namespace handover_test
