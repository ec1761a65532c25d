#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "common/core/limits.hpp"
#include "common/crypto/sha256.hpp"
#include "common/model/manifest.hpp"
#include "common/model/seed.hpp"
#include "test/support/temp_dir.hpp"

namespace manifest_test {

using namespace seedshare;
using seedshare::test::read_file;

namespace {

const std::filesystem::path kSeeds = std::filesystem::path(SEEDSHARE_SOURCE_DIR) / "seeds";

// THE TEST KEY of seeds/MANIFEST.md: bytes 0x01..0x20. Public, so never a
// real channel's key.
ChannelKey test_key() {
    std::array<std::uint8_t, 32> seed{};
    for (std::size_t i = 0; i < seed.size(); ++i)
        seed[i] = static_cast<std::uint8_t>(i + 1);
    return ChannelKey::from_seed(seed);
}

SeedId id(std::string_view hex) {
    auto v = SeedId::from_hex_string(hex);
    REQUIRE(v);
    return *v;
}

ManifestEntry entry_for_example_seed(std::string path, std::string_view seed_file) {
    auto seed = parse_seed(read_file(kSeeds / "examples" / seed_file));
    REQUIRE(seed);
    return ManifestEntry{std::move(path), seed->id(), seed->length};
}

// The golden examples, as made: seeds/examples/site-v1.manifest and
// site.manifest (version 2: odd.bin moved into data/, empty.bin added).
Manifest golden_v1() {
    Manifest m;
    m.version = 1;
    m.time = 1767225600;  // 2026-01-01T00:00:00Z
    m.name = "example site";
    m.files = {entry_for_example_seed("docs/hello.txt", "hello.txt.seed"),
               entry_for_example_seed("odd.bin", "odd.bin.seed")};
    return sign_manifest(m, test_key());
}

Manifest golden_v2() {
    Manifest m;
    m.version = 2;
    m.previous = manifest_body_hash(golden_v1());
    m.time = 1767229200;  // an hour later
    m.name = "example site";
    m.files = {entry_for_example_seed("data/empty.bin", "empty.bin.seed"),
               entry_for_example_seed("data/odd.bin", "odd.bin.seed"),
               entry_for_example_seed("docs/hello.txt", "hello.txt.seed")};
    return sign_manifest(m, test_key());
}

// A valid signed manifest to break in the rejection tests.
Manifest sample() {
    Manifest m;
    m.version = 3;
    m.previous = sha256(std::string_view("version 2"));
    m.time = 1700000000;
    m.name = "sample channel";
    m.files = {{"a b/c.txt", id(std::string(64, '1')), 10},
               {"a.txt", id(std::string(64, '2')), 0},
               {"dir/x", id(std::string(64, '3')), 12345678901ull}};
    return sign_manifest(m, test_key());
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto nl = text.find('\n', pos);
        lines.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return lines;
}

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines)
        out += l + "\n";
    return out;
}

std::vector<std::string> sample_lines() {
    return lines_of(format_manifest(sample()));
}

// The sample's text with its file lines replaced (and "files N" to match).
std::string with_files(const std::vector<std::string>& file_lines) {
    auto lines = sample_lines();
    std::vector<std::string> out(lines.begin(), lines.begin() + 6);
    out.push_back("files " + std::to_string(file_lines.size()));
    out.insert(out.end(), file_lines.begin(), file_lines.end());
    out.push_back(lines.back());
    return join(out);
}

std::string file_line(std::string_view path, char seed_digit = 'a') {
    return std::string(64, seed_digit) + " 1 " + std::string(path);
}

std::string rejection(const std::string& text) {
    auto r = parse_manifest(text);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

}  // namespace

TEST_CASE("manifest: write, parse, verify: the same manifest, byte for byte") {
    const Manifest m = sample();
    const std::string text = format_manifest(m);
    auto parsed = parse_manifest(text);
    REQUIRE(parsed);
    CHECK(*parsed == m);
    CHECK(format_manifest(*parsed) == text);
    CHECK(verify_manifest_signature(*parsed).ok());
    CHECK(parsed->channel == channel_id_of(test_key().public_key()));
    CHECK(text.starts_with(format_manifest_body(m)));
    CHECK(text.substr(format_manifest_body(m).size()) == "signature " + m.signature.hex() + "\n");
}

TEST_CASE("manifest: the bytes of its files, saturating where a hostile signer's lengths wrap") {
    Manifest m;
    m.files = {ManifestEntry{"a", SeedId{}, 5}, ManifestEntry{"b", SeedId{}, 7}};
    CHECK(manifest_bytes(m) == 12);
    m.files.push_back(ManifestEntry{"c", SeedId{}, UINT64_MAX - 3});
    CHECK(manifest_bytes(m) == UINT64_MAX);  // a plain sum would be 8
    CHECK(manifest_bytes(Manifest{}) == 0);
}

TEST_CASE("manifest: the body hash and the signed bytes") {
    const Manifest m = sample();
    CHECK(manifest_body_hash(m) == sha256(format_manifest_body(m)));
    // The signature is not part of the version's id.
    Manifest other = m;
    other.signature.bytes[0] ^= 1;
    CHECK(manifest_body_hash(other) == manifest_body_hash(m));
    // The prefix: 32 bytes, NUL last.
    CHECK(kManifestSignaturePrefix.size() == 32);
    CHECK(kManifestSignaturePrefix.back() == '\0');
    CHECK(manifest_signed_bytes(m) ==
          std::string("seedshare manifest signature v1") + '\0' + format_manifest_body(m));
    // The signature is over prefix + body: not over the body alone.
    CHECK(verify(test_key().public_key(), manifest_signed_bytes(m), m.signature));
    CHECK_FALSE(verify(test_key().public_key(), format_manifest_body(m), m.signature));
}

TEST_CASE("manifest: golden examples parse, verify, re-format and keep their pinned hashes") {
    struct Golden {
        const char* file;
        Manifest made;
        const char* body_hash;  // as seeds/MANIFEST.md documents it
    };
    const Golden goldens[] = {
        {"site-v1.manifest", golden_v1(),
         "820c7188d5c904796ab087c756e5162598a9e2dd8819746e07d82ebc38f21f97"},
        {"site.manifest", golden_v2(),
         "a9c9617813a36d806a46cab900d506ddc52df0dafdf11e612f1e566bec5a449b"},
    };
    // SEEDSHARE_WRITE_GOLDEN=1 rewrites the examples from the code (then
    // update the hashes here and in seeds/MANIFEST.md).
    const bool write = std::getenv("SEEDSHARE_WRITE_GOLDEN") != nullptr;
    for (const auto& g : goldens) {
        CAPTURE(g.file);
        const auto path = kSeeds / "examples" / g.file;
        if (write) test::write_file(path, format_manifest(g.made));
        const std::string text = read_file(path);
        auto m = parse_manifest(text);
        REQUIRE(m);
        CHECK(*m == g.made);
        CHECK(verify_manifest_signature(*m).ok());
        CHECK(format_manifest(*m) == text);
        CHECK(manifest_body_hash(*m).hex() == g.body_hash);
        CHECK(m->channel.hex() == test_key().public_key().hex());
        // A copy in the fuzz corpus.
        CHECK(read_file(std::filesystem::path(SEEDSHARE_SOURCE_DIR) /
                        "test/fuzz/corpus/manifest_parser_fuzz" / g.file) == text);
    }
    CHECK(golden_v2().previous == manifest_body_hash(golden_v1()));
    CHECK(freshness(version_of(golden_v1()), version_of(golden_v2())) == Freshness::kNewer);
}

TEST_CASE("manifest: paths") {
    for (const char* ok :
         {"a", "a/b", "dir/sub dir/file name.txt", "ünïcödé/ok", "x..y/z.", "a/b.c/d"})
        CHECK_MESSAGE(validate_manifest_path(ok).ok(), ok);
    struct Bad {
        std::string path;
        const char* says;
    };
    const Bad bad[] = {
        {"", "empty"},
        {"/etc/passwd", "absolute"},
        {"..", "'..' is not a file name"},
        {"../x", "component 1 of the path: the name '..'"},
        {"a/../../x", "component 2 of the path: the name '..'"},
        {"a/./b", "component 2 of the path: the name '.'"},
        {".seedshare/state", "component 1 of the path starts with '.'"},
        {"a/.hidden", "component 2 of the path starts with '.'"},
        {"a/.../b", "component 2 of the path starts with '.'"},
        {"a//b", "empty component"},
        {"a/", "ends with '/'"},
        {"a\\b", "path separator"},
        {"a/\x01", "control character"},
        {"a/\xff", "not valid UTF-8"},
        {std::string(256, 'x'), "longer than 255 bytes"},
        {std::string(4096, 'x'), "longer than 255 bytes"},
        {std::string(4097, 'x'), "longer than 4096 bytes"},
    };
    for (const auto& b : bad) {
        CAPTURE(b.path);
        auto r = validate_manifest_path(b.path);
        REQUIRE_FALSE(r.ok());
        CHECK_MESSAGE(r.error().message.find(b.says) != std::string::npos, r.error().message);
    }
    std::string deep;
    for (std::size_t i = 0; i < limits::kMaxPathComponents; ++i)
        deep += (i ? "/d" : "d");
    CHECK(validate_manifest_path(deep).ok());
    auto r = validate_manifest_path(deep + "/d");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("more than 32 components") != std::string::npos);
    std::string long_ok(240, 'y');  // 17 components of 240 bytes and 16 slashes
    for (int i = 0; i < 16; ++i)
        long_ok += "/" + std::string(240, 'y');
    CHECK(long_ok.size() == limits::kMaxPathBytes);
    CHECK(validate_manifest_path(long_ok).ok());
}

TEST_CASE("manifest: file lines: traversal, absolute, order, duplicates, a file as a directory") {
    CHECK(parse_manifest(with_files({file_line("a"), file_line("b/c")})).ok());
    CHECK(parse_manifest(with_files({})).ok());
    CHECK(rejection(with_files({file_line("../etc/passwd")})) ==
          "line 8: file 1: path '../etc/passwd': component 1 of the path: the name '..' is not a "
          "file name");
    CHECK(rejection(with_files({file_line("a/../../x")})).find("'..'") != std::string::npos);
    CHECK(rejection(with_files({file_line("/etc/passwd")})) ==
          "line 8: file 1: path '/etc/passwd': the path is absolute (starts with '/')");
    CHECK(rejection(with_files({file_line("b"), file_line("a")})) ==
          "line 9: file 2: path 'a' is out of order (paths are sorted bytewise; it comes before "
          "'b')");
    CHECK(rejection(with_files({file_line("a"), file_line("a", 'b')})) ==
          "line 9: file 2: path 'a' is listed twice");
    // Bytewise: 'B' (0x42) < 'a' (0x61), and UTF-8 after ASCII.
    CHECK(parse_manifest(with_files({file_line("B"), file_line("a"), file_line("é")})).ok());
    CHECK_FALSE(parse_manifest(with_files({file_line("a"), file_line("B")})).ok());
    // "a" and "a/b" cannot both be files, even with other paths between them.
    CHECK(rejection(with_files({file_line("a"), file_line("a/b")})) ==
          "line 9: file 2: path 'a/b' is inside 'a', which is a file");
    CHECK(rejection(with_files(
              {file_line("a"), file_line("a b"), file_line("a!"), file_line("a/b/c")})) ==
          "line 11: file 4: path 'a/b/c' is inside 'a', which is a file");
    CHECK(rejection(with_files({file_line("x/a"), file_line("x/a/b")})) ==
          "line 9: file 2: path 'x/a/b' is inside 'x/a', which is a file");
    CHECK(parse_manifest(with_files({file_line("a b"), file_line("a/b"), file_line("ab")})).ok());
    // A path may hold spaces: it is the rest of the line.
    auto m = parse_manifest(with_files({file_line("my  file.txt ")}));
    REQUIRE(m);
    CHECK(m->files[0].path == "my  file.txt ");
    CHECK(rejection(with_files({std::string(64, 'a') + " 1"}))
              .find("expected '<seed id> <length> <path>'") != std::string::npos);
    CHECK(rejection(with_files({std::string(64, 'A') + " 1 a"})) ==
          "line 8: file 1: the seed id must be 64 lowercase hex digits");
    CHECK(rejection(with_files({std::string(64, 'a') + " 01 a"})) ==
          "line 8: file 1: length '01' is not a decimal number");
    CHECK(rejection(with_files({std::string(64, 'a') + " 18446744073709551616 a"}))
              .find("is not a decimal number") != std::string::npos);
    CHECK(rejection(with_files({std::string(64, 'a') + "  1 a"})).find("length '' is not") !=
          std::string::npos);
}

TEST_CASE("manifest: the file count") {
    auto lines = sample_lines();  // 3 files: lines 8..10, signature line 11
    REQUIRE(lines[6] == "files 3");
    auto more = lines;
    more[6] = "files 4";
    CHECK(rejection(join(more)) ==
          "line 12: the file ends after 4 lines, but 'files' declares 4 file lines and "
          "'signature' follows them");
    more.push_back("extra");  // enough lines, but 'signature' comes early
    CHECK(rejection(join(more)) == "line 11: 'signature' after 3 of the 4 file lines declared");
    auto fewer = lines;
    fewer[6] = "files 2";
    CHECK(rejection(join(fewer)) == "line 10: more file lines than the 2 declared");
    auto huge = lines;
    huge[6] = "files 100001";
    CHECK(rejection(join(huge)) == "line 7: 100001 files is above the limit of 100000");
    huge[6] = "files 99999999999999999999";
    CHECK(rejection(join(huge)).find("is not a decimal number") != std::string::npos);
    huge[6] = "files 100000";  // under the limit, but the lines are not there
    CHECK(rejection(join(huge)) ==
          "line 12: the file ends after 4 lines, but 'files' declares 100000 file lines "
          "and 'signature' follows them");
    auto neg = lines;
    neg[6] = "files -1";
    CHECK(rejection(join(neg)) == "line 7: files '-1' is not a decimal number");
}

TEST_CASE("manifest: the limits hold at their edges") {
    // kMaxManifestFiles files parse (short paths), and one more does not.
    std::vector<std::string> files;
    files.reserve(limits::kMaxManifestFiles);
    for (std::size_t i = 0; i < limits::kMaxManifestFiles; ++i)
        files.push_back(std::string(64, 'c') + " 1 " + fmt::format("{:06}", i));
    const std::string text = with_files(files);
    CHECK(text.size() <= limits::kMaxManifestBytes);
    auto m = parse_manifest(text);
    REQUIRE(m);
    CHECK(m->files.size() == limits::kMaxManifestFiles);
    // Over the byte limit: refused before parsing.
    std::string big = text;
    big.resize(limits::kMaxManifestBytes + 1, 'x');
    CHECK(rejection(big) == "manifest is 16777217 bytes, more than the limit of 16777216");
}

TEST_CASE("manifest: header fields: order, duplicates, unknown, values") {
    const auto lines = sample_lines();
    auto with = [&](std::size_t i, std::string line) {
        auto l = lines;
        l[i] = std::move(line);
        return join(l);
    };
    CHECK(rejection(with(0, "seedshare-manifest 3")) ==
          "line 1: unsupported manifest format version '3' (this build reads 1 and 2)");
    // Format 2 wants its hand-overs right after the channel.
    CHECK(rejection(with(0, "seedshare-manifest 2")) ==
          "line 3: field 'version' out of order: 'handovers' comes here");
    CHECK(rejection(with(0, "seedshare-seed 1")) ==
          "line 1: not a seedshare manifest (expected 'seedshare-manifest 1')");
    CHECK(rejection("") == "line 1: empty manifest");
    CHECK(rejection(with(1, "channel " + std::string(64, 'G'))) ==
          "line 2: channel must be 64 lowercase hex digits (the channel's public key)");
    CHECK(rejection(with(2, "colour blue")) == "line 3: unknown field 'colour'");
    CHECK(rejection(with(2, "channel " + std::string(64, 'a'))) ==
          "line 3: duplicate field 'channel' (first on line 2)");
    CHECK(rejection(with(2, lines[3])) ==
          "line 3: field 'previous' out of order: 'version' comes here");
    CHECK(rejection(with(2, "version")) == "line 3: expected 'version VALUE', got 'version'");
    CHECK(rejection(with(2, "version 0")) == "line 3: version 0: versions start at 1");
    CHECK(rejection(with(2, "version 03")) == "line 3: version '03' is not a decimal number");
    CHECK(rejection(with(2, "version 9223372036854775808")) ==
          "line 3: version 9223372036854775808 is above the limit of 9223372036854775807");
    CHECK(parse_manifest(with(2, "version 9223372036854775807")).ok());
    CHECK(rejection(with(3, "previous " + std::string(63, '0'))) ==
          "line 4: previous must be 64 lowercase hex digits");
    CHECK(rejection(with(3, "previous " + std::string(64, '0'))) ==
          "line 4: previous is zeros, but version 3 must name the body hash of the one before");
    {
        auto l = lines;
        l[2] = "version 1";
        CHECK(rejection(join(l)) == "line 4: previous must be 64 zeros for version 1");
        l[3] = "previous " + std::string(64, '0');
        CHECK(parse_manifest(join(l)).ok());
    }
    CHECK(rejection(with(4, "time -5")) == "line 5: time '-5' is not a decimal number");
    CHECK(rejection(with(4, "time 9223372036854775808")) ==
          "line 5: time 9223372036854775808 is above the limit of 9223372036854775807");
    CHECK(parse_manifest(with(4, "time 0")).ok());
    CHECK(rejection(with(5, "name ")) == "line 6: the channel name is empty");
    CHECK(rejection(with(5, "name " + std::string(256, 'n'))) ==
          "line 6: the channel name is longer than 255 bytes");
    CHECK(rejection(with(5, "name bad \xc0\x80")) ==
          "line 6: the channel name is not valid UTF-8 (at byte 4)");
    CHECK(parse_manifest(with(5, "name a/b \\ c: ünïcode, " + std::string(200, 'n'))).ok());
    CHECK(rejection(with(10, "signature " + std::string(127, 'a'))) ==
          "line 11: signature must be 128 lowercase hex digits");
    CHECK(rejection(with(10, "sig " + std::string(128, 'a'))) == "line 11: unknown field 'sig'");
    {
        auto l = lines;
        l.pop_back();
        CHECK(rejection(join(l)) == "line 11: unexpected end of file: missing 'signature'");
        l.resize(3);
        CHECK(rejection(join(l)) == "line 4: unexpected end of file: missing 'previous'");
    }
}

TEST_CASE("manifest: framing: CR, control characters, final newline, trailing text") {
    const std::string text = format_manifest(sample());
    CHECK(rejection(text.substr(0, text.size() - 1)) ==
          "line 11: missing newline at the end of the file");
    CHECK(rejection(text + "\n") == "line 12: unexpected text after the signature");
    CHECK(rejection(text + "extra\n") == "line 12: unexpected text after the signature");
    auto lines = sample_lines();
    std::string crlf;
    for (const auto& l : lines)
        crlf += l + "\r\n";
    CHECK(rejection(crlf) ==
          "line 1: manifest has CRLF (Windows) line endings; manifests use LF only");
    auto cr = lines;
    cr[5] += "\r";
    CHECK(rejection(join(cr)) ==
          "line 6: manifest has CRLF (Windows) line endings; manifests use LF only");
    auto tab = lines;
    tab[5] = "name a\tb";
    CHECK(rejection(join(tab)) == "line 6: control character (byte 0x09) in line");
    auto del = lines;
    del[8] += "\x7f";
    CHECK(rejection(join(del)) == "line 9: control character (byte 0x7f) in line");
    auto nul = lines;
    nul[7] = std::string(64, 'a') + " 1 a\0b";
    nul[7] += std::string("\0b", 2);
    CHECK(rejection(join(nul)).find("control character (byte 0x00)") != std::string::npos);
}

TEST_CASE("manifest: signatures: forged, re-signed by another key, non-canonical") {
    const Manifest m = sample();
    REQUIRE(verify_manifest_signature(m).ok());
    // Any change to the body breaks the signature.
    for (auto change : std::vector<void (*)(Manifest&)>{
             [](Manifest& x) { x.version += 1; },
             [](Manifest& x) { x.time += 1; },
             [](Manifest& x) { x.name += "!"; },
             [](Manifest& x) { x.files[0].length += 1; },
             [](Manifest& x) { x.files[1].path = "a.tx"; },
             [](Manifest& x) { x.files[2].seed.bytes[5] ^= 1; },
             [](Manifest& x) { x.files.pop_back(); },
             [](Manifest& x) { x.previous.bytes[0] ^= 1; },
         }) {
        Manifest forged = m;
        change(forged);
        auto parsed = parse_manifest(format_manifest(forged));
        REQUIRE(parsed);  // well formed: only the signature tells
        auto r = verify_manifest_signature(*parsed);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == "the signature does not match channel " + m.channel.hex());
    }
    // Signed by someone else, but claiming the test key's channel.
    Manifest other = sign_manifest(m, ChannelKey::generate());
    CHECK(verify_manifest_signature(other).ok());  // valid for its own channel
    CHECK(other.channel != m.channel);
    other.channel = m.channel;
    CHECK_FALSE(verify_manifest_signature(other).ok());
    // S + L: the same signature to Crypto++ 8.7, refused here.
    Manifest malleated = m;
    unsigned carry = 0;
    static constexpr std::uint8_t kL[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                            0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                            0,    0,    0,    0,    0,    0,    0,    0,
                                            0,    0,    0,    0,    0,    0,    0,    0x10};
    for (std::size_t i = 0; i < 32; ++i) {
        const unsigned sum = malleated.signature.bytes[32 + i] + kL[i] + carry;
        malleated.signature.bytes[32 + i] = static_cast<std::uint8_t>(sum);
        carry = sum >> 8;
    }
    auto parsed = parse_manifest(format_manifest(malleated));
    REQUIRE(parsed);
    auto r = verify_manifest_signature(*parsed);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "the signature is not canonical (S is not below the group order)");
    // A channel id of small order (the identity) with R = identity, S = 0.
    Manifest identity = m;
    identity.channel = ChannelId{};
    identity.channel.bytes[0] = 1;
    identity.signature = Signature{};
    identity.signature.bytes[0] = 1;
    r = verify_manifest_signature(identity);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "the channel id is not a usable Ed25519 public key");
}

TEST_CASE("manifest: freshness: newer, same, rollback, conflict, and one winner everywhere") {
    const Digest h1 = sha256(std::string_view("one"));
    const Digest h2 = sha256(std::string_view("two"));
    const ManifestVersion held{5, h1, {}};
    CHECK(freshness(std::nullopt, held) == Freshness::kNewer);
    CHECK(freshness(held, ManifestVersion{6, h2, {}}) == Freshness::kNewer);
    CHECK(freshness(held, ManifestVersion{5, h1, {}}) == Freshness::kSame);
    CHECK(freshness(held, ManifestVersion{4, h2, {}}) == Freshness::kOlder);
    CHECK(freshness(held, ManifestVersion{4, h1, {}}) == Freshness::kOlder);
    CHECK(freshness(held, ManifestVersion{5, h2, {}}) == Freshness::kConflict);
    const ManifestVersion a{5, h1, {}};
    const ManifestVersion b{5, h2, {}};
    // Whichever a peer held first, both pick the same one: the lower hash.
    const ManifestVersion& lower = h1 < h2 ? a : b;
    CHECK(conflict_winner(a, b) == lower);
    CHECK(conflict_winner(b, a) == lower);
    CHECK(conflict_winner(a, a) == a);
    const Manifest m = sample();
    CHECK(version_of(m) == ManifestVersion{3, manifest_body_hash(m), {}});
}

TEST_CASE("manifest: parse_verified_manifest takes only a signed version of the channel") {
    const Manifest m = golden_v2();
    const std::string text = format_manifest(m);
    auto ok = parse_verified_manifest(text, m.channel);
    REQUIRE(ok);
    CHECK(*ok == m);
    // Another channel's id.
    ChannelId other = m.channel;
    other.bytes[0] ^= 1;
    auto wrong = parse_verified_manifest(text, other);
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().message.find("another channel") != std::string::npos);
    // Signed by another key, claiming this channel.
    std::array<std::uint8_t, 32> seed{};
    seed.fill(0x42);
    Manifest forged = sign_manifest(m, ChannelKey::from_seed(seed));
    forged.channel = m.channel;
    CHECK_FALSE(parse_verified_manifest(format_manifest(forged), m.channel));
    // Not a manifest at all.
    CHECK_FALSE(parse_verified_manifest("seedshare-seed 1\n", m.channel));
}

}  // namespace manifest_test
