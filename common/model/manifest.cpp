#include "common/model/manifest.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "common/core/limits.hpp"
#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"
#include "common/core/utf8.hpp"
#include "common/crypto/sha256.hpp"
#include "common/model/seed.hpp"

namespace seedshare {

namespace {

constexpr std::string_view kMagic = "seedshare-manifest";
constexpr std::string_view kCrlfEndings =
    "manifest has CRLF (Windows) line endings; manifests use LF only";

// The fields, in the one order they come in. "files" ends the header; the
// file lines follow, then "signature".
// "handovers" and its "handover" lines come only in format 2.
enum class Key {
    kChannel,
    kHandovers,
    kHandover,
    kVersion,
    kPrevious,
    kTime,
    kName,
    kFiles,
    kSignature
};
constexpr std::array<std::string_view, 9> kKeyNames{"channel", "handovers", "handover",
                                                    "version", "previous",  "time",
                                                    "name",    "files",     "signature"};

std::optional<Key> key_from(std::string_view word) {
    for (std::size_t i = 0; i < kKeyNames.size(); ++i)
        if (kKeyNames[i] == word) return static_cast<Key>(i);
    return std::nullopt;
}

// For messages: a value as the reader wrote it, cut short if long.
std::string quote_text(std::string_view text) {
    constexpr std::size_t kShown = 64;
    if (text.size() <= kShown) return fmt::format("'{}'", text);
    return fmt::format("'{}...'", text.substr(0, kShown));
}

bool is_control(unsigned char c) {
    return c < 0x20 || c == 0x7f;
}

}  // namespace

std::string format_manifest_body(const Manifest& m) {
    std::string out;
    out.reserve(512 + m.files.size() * 128);
    if (m.handovers.empty()) {
        out += fmt::format("{} {}\nchannel {}\n", kMagic, limits::kManifestFormatVersion,
                           m.channel.hex());
    } else {
        out += fmt::format("{} {}\nchannel {}\nhandovers {}\n", kMagic,
                           limits::kManifestHandoverFormatVersion, m.channel.hex(),
                           m.handovers.size());
        for (const auto& h : m.handovers)
            out += fmt::format("handover {} {} {}\n", h.from, h.to.hex(), h.signature.hex());
    }
    out += fmt::format("version {}\nprevious {}\ntime {}\nname {}\nfiles {}\n", m.version,
                       m.previous.hex(), m.time, m.name, m.files.size());
    for (const auto& f : m.files)
        out += fmt::format("{} {} {}\n", f.seed.hex(), f.length, f.path);
    return out;
}

std::string format_manifest(const Manifest& m) {
    std::string out = format_manifest_body(m);
    out += fmt::format("signature {}\n", m.signature.hex());
    return out;
}

Digest manifest_body_hash(const Manifest& m) {
    return sha256(format_manifest_body(m));
}

std::string manifest_signed_bytes(const Manifest& m) {
    std::string out(kManifestSignaturePrefix);
    out += format_manifest_body(m);
    return out;
}

Result<Manifest> parse_verified_manifest(std::string_view text, const ChannelId& channel) {
    auto m = parse_manifest(text);
    if (!m) return m.error();
    if (m->channel != channel) return Error{"a manifest of another channel"};
    if (auto ok = verify_manifest_signature(*m); !ok) return ok.error();
    return m;
}

Status verify_manifest_signature(const Manifest& m) {
    if (!is_canonical_signature(m.signature))
        return Error{"the signature is not canonical (S is not below the group order)"};
    if (!is_acceptable_public_key(public_key_of(m.channel)))
        return Error{"the channel id is not a usable Ed25519 public key"};
    if (auto ok = verify_handover_chain(m.channel, m.handovers); !ok) return ok.error();
    if (!m.handovers.empty() && m.version < m.handovers.back().from)
        return Error{fmt::format(
            "version {} is signed by a key that publishes from version {} on (its hand-over)",
            m.version, m.handovers.back().from)};
    const PublicKey key = publishing_key(m.channel, m.handovers);
    if (!verify(key, manifest_signed_bytes(m), m.signature)) {
        if (m.handovers.empty())
            return Error{fmt::format("the signature does not match channel {}", m.channel.hex())};
        return Error{fmt::format("the signature does not match key {}, the channel's after {}",
                                 key.hex(), count_of(m.handovers.size(), "hand-over"))};
    }
    return Ok{};
}

Manifest sign_manifest(Manifest m, const ChannelKey& key) {
    if (m.handovers.empty()) m.channel = channel_id_of(key.public_key());
    m.signature = key.sign(manifest_signed_bytes(m));
    return m;
}

Status validate_manifest_path(std::string_view path) {
    if (path.empty()) return Error{"the path is empty"};
    if (path.size() > limits::kMaxPathBytes)
        return Error{fmt::format("the path is longer than {} bytes", limits::kMaxPathBytes)};
    if (path.front() == '/') return Error{"the path is absolute (starts with '/')"};
    std::size_t components = 0;
    std::size_t start = 0;
    while (true) {
        const auto slash = path.find('/', start);
        const auto component = path.substr(start, slash - start);
        ++components;
        if (components > limits::kMaxPathComponents)
            return Error{
                fmt::format("the path has more than {} components", limits::kMaxPathComponents)};
        if (component.empty())
            return Error{slash == std::string_view::npos
                             ? "the path ends with '/'"
                             : "the path has an empty component ('//')"};
        if (auto ok = validate_file_name(component); !ok)
            return Error{
                fmt::format("component {} of the path: {}", components, ok.error().message)};
        // Hidden names: a subscriber keeps its state in DIR/.seedshare, and a
        // publisher's scan never lists them.
        if (component.front() == '.')
            return Error{
                fmt::format("component {} of the path starts with '.' (hidden names are "
                            "never published)",
                            components)};
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return Ok{};
}

Status validate_channel_name(std::string_view name) {
    if (name.empty()) return Error{"the channel name is empty"};
    if (name.size() > limits::kMaxChannelNameBytes)
        return Error{
            fmt::format("the channel name is longer than {} bytes", limits::kMaxChannelNameBytes)};
    for (std::size_t i = 0; i < name.size();) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (is_control(c))
            return Error{
                fmt::format("the channel name holds a control character (byte 0x{:02x})", c)};
        const std::size_t n = utf8_sequence(name, i);
        if (n == 0)
            return Error{fmt::format("the channel name is not valid UTF-8 (at byte {})", i)};
        i += n;
    }
    return Ok{};
}

Result<Manifest> parse_manifest(std::string_view text) {
    if (text.size() > limits::kMaxManifestBytes)
        return Error{fmt::format("manifest is {} bytes, more than the limit of {}", text.size(),
                                 limits::kMaxManifestBytes)};
    if (text.empty()) return Error{"line 1: empty manifest"};
    const std::string expected_first = fmt::format("{} {}", kMagic, limits::kManifestFormatVersion);
    const std::string handover_first =
        fmt::format("{} {}", kMagic, limits::kManifestHandoverFormatVersion);
    bool with_handovers = false;
    {
        const auto first = text.substr(0, text.find('\n'));
        with_handovers = first == handover_first;
        if (first.size() == expected_first.size() + 1 && first.starts_with(expected_first) &&
            first.back() == '\r')
            return Error{fmt::format("line 1: {}", kCrlfEndings)};
        if (first != expected_first && !with_handovers) {
            const bool printable =
                first.size() < 64 && std::all_of(first.begin(), first.end(),
                                                 [](char c) { return c >= 0x20 && c < 0x7f; });
            if (first.starts_with(std::string(kMagic) + " ") && printable)
                return Error{fmt::format(
                    "line 1: unsupported manifest format version '{}' (this build reads {} and {})",
                    first.substr(kMagic.size() + 1), limits::kManifestFormatVersion,
                    limits::kManifestHandoverFormatVersion)};
            return Error{
                fmt::format("line 1: not a seedshare manifest (expected '{}')", expected_first)};
        }
    }
    if (text.back() != '\n') {
        const auto lines = std::count(text.begin(), text.end(), '\n') + 1;
        return Error{fmt::format("line {}: missing newline at the end of the file", lines)};
    }

    std::size_t pos = text.find('\n') + 1;  // after the version line
    std::size_t line_no = 1;
    // Next line without its '\n'; nullopt at the end. Every line ends in '\n'.
    auto next_line = [&]() -> std::optional<std::string_view> {
        if (pos >= text.size()) return std::nullopt;
        ++line_no;
        const auto nl = text.find('\n', pos);
        const auto line = text.substr(pos, nl - pos);
        pos = nl + 1;
        return line;
    };
    auto fail = [&](std::string what) { return Error{fmt::format("line {}: {}", line_no, what)}; };
    auto check_line_bytes = [&](std::string_view line) -> std::optional<Error> {
        for (std::size_t i = 0; i < line.size(); ++i) {
            const auto c = static_cast<unsigned char>(line[i]);
            if (c == '\r' && i + 1 == line.size()) return fail(std::string(kCrlfEndings));
            if (is_control(c))
                return fail(fmt::format("control character (byte 0x{:02x}) in line", c));
        }
        return std::nullopt;
    };

    std::array<std::size_t, kKeyNames.size()> seen_on{};  // line where each key was seen
    // The value of field `want`, the next line; or why not.
    auto field = [&](Key want) -> Result<std::string_view> {
        const auto want_name = kKeyNames[static_cast<std::size_t>(want)];
        const auto line = next_line();
        if (!line) {
            ++line_no;
            return fail(fmt::format("unexpected end of file: missing '{}'", want_name));
        }
        if (auto e = check_line_bytes(*line)) return *e;
        const auto space = line->find(' ');
        if (space == std::string_view::npos)
            return fail(fmt::format("expected '{} VALUE', got {}", want_name, quote_text(*line)));
        const auto word = line->substr(0, space);
        const auto key = key_from(word);
        if (!key) return fail(fmt::format("unknown field {}", quote_text(word)));
        if (*key != want) {
            const auto seen = seen_on[static_cast<std::size_t>(*key)];
            if (seen != 0)
                return fail(fmt::format("duplicate field '{}' (first on line {})", word, seen));
            return fail(fmt::format("field '{}' out of order: '{}' comes here", word, want_name));
        }
        seen_on[static_cast<std::size_t>(want)] = line_no;
        return line->substr(space + 1);
    };

    Manifest m;
    {
        auto v = field(Key::kChannel);
        if (!v) return v.error();
        if (!from_hex(*v, m.channel.bytes))
            return fail("channel must be 64 lowercase hex digits (the channel's public key)");
    }
    if (with_handovers) {
        auto v = field(Key::kHandovers);
        if (!v) return v.error();
        const auto n = parse_u64(*v);
        if (!n) return fail(fmt::format("handovers {} is not a decimal number", quote_text(*v)));
        if (*n == 0)
            return fail("handovers 0: a manifest without hand-overs is written in format 1");
        if (*n > limits::kMaxHandovers)
            return fail(
                fmt::format("{} hand-overs is above the limit of {}", *n, limits::kMaxHandovers));
        m.handovers.reserve(*n);
        for (std::uint64_t i = 0; i < *n; ++i) {
            auto h = field(Key::kHandover);
            if (!h) return h.error();
            // FROM TO SIGNATURE
            const auto sp1 = h->find(' ');
            const auto sp2 = sp1 == std::string_view::npos ? sp1 : h->find(' ', sp1 + 1);
            if (sp2 == std::string_view::npos)
                return fail(
                    fmt::format("hand-over {}: expected '<from> <key> <signature>'", i + 1));
            Handover link;
            const auto from = parse_u64(h->substr(0, sp1));
            if (!from || *from == 0 || *from > limits::kMaxManifestVersion)
                return fail(fmt::format("hand-over {}: from must be a version number, 1 to {}",
                                        i + 1, limits::kMaxManifestVersion));
            link.from = *from;
            if (!from_hex(h->substr(sp1 + 1, sp2 - sp1 - 1), link.to.bytes))
                return fail(
                    fmt::format("hand-over {}: the key must be 64 lowercase hex digits", i + 1));
            if (!from_hex(h->substr(sp2 + 1), link.signature.bytes))
                return fail(fmt::format(
                    "hand-over {}: the signature must be 128 lowercase hex digits", i + 1));
            m.handovers.push_back(link);
        }
    }
    {
        auto v = field(Key::kVersion);
        if (!v) return v.error();
        const auto n = parse_u64(*v);
        if (!n) return fail(fmt::format("version {} is not a decimal number", quote_text(*v)));
        if (*n == 0) return fail("version 0: versions start at 1");
        if (*n > limits::kMaxManifestVersion)
            return fail(fmt::format("version {} is above the limit of {}", *n,
                                    limits::kMaxManifestVersion));
        m.version = *n;
    }
    {
        auto v = field(Key::kPrevious);
        if (!v) return v.error();
        if (!from_hex(*v, m.previous.bytes))
            return fail("previous must be 64 lowercase hex digits");
        if (m.version == 1 && !m.previous.is_zero())
            return fail("previous must be 64 zeros for version 1");
        if (m.version > 1 && m.previous.is_zero())
            return fail(fmt::format(
                "previous is zeros, but version {} must name the body hash of the one before",
                m.version));
    }
    {
        auto v = field(Key::kTime);
        if (!v) return v.error();
        const auto n = parse_u64(*v);
        if (!n) return fail(fmt::format("time {} is not a decimal number", quote_text(*v)));
        if (*n > static_cast<std::uint64_t>(INT64_MAX))
            return fail(fmt::format("time {} is above the limit of {}", *n, INT64_MAX));
        m.time = static_cast<std::int64_t>(*n);
    }
    {
        auto v = field(Key::kName);
        if (!v) return v.error();
        if (auto ok = validate_channel_name(*v); !ok) return fail(ok.error().message);
        m.name = std::string(*v);
    }
    std::uint64_t count = 0;
    {
        auto v = field(Key::kFiles);
        if (!v) return v.error();
        const auto n = parse_u64(*v);
        if (!n) return fail(fmt::format("files {} is not a decimal number", quote_text(*v)));
        if (*n > limits::kMaxManifestFiles)
            return fail(
                fmt::format("{} files is above the limit of {}", *n, limits::kMaxManifestFiles));
        count = *n;
    }
    // Count the lines left (the file lines and the signature) before
    // reserving room for the entries.
    const auto lines_left = static_cast<std::uint64_t>(
        std::count(text.begin() + static_cast<std::ptrdiff_t>(pos), text.end(), '\n'));
    if (lines_left < count + 1) {
        const auto end_line = line_no + lines_left + 1;
        const auto last_line = text.substr(text.rfind('\n', text.size() - 2) + 1);
        if (lines_left == count && !last_line.starts_with("signature "))
            return Error{
                fmt::format("line {}: unexpected end of file: missing 'signature'", end_line)};
        return Error{fmt::format(
            "line {}: the file ends after {} lines, but 'files' declares {} file lines and "
            "'signature' follows them",
            end_line, lines_left, count)};
    }
    const std::size_t first_entry_line = line_no + 1;
    m.files.reserve(count);
    for (std::uint64_t i = 0; i < count; ++i) {
        const auto line = *next_line();
        if (auto e = check_line_bytes(line)) return *e;
        if (line.starts_with("signature "))
            return fail(
                fmt::format("'signature' after {} of the {} file lines declared", i, count));
        const auto sp1 = line.find(' ');
        const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
        if (sp2 == std::string_view::npos)
            return fail(fmt::format("file {}: expected '<seed id> <length> <path>', got {}", i + 1,
                                    quote_text(line)));
        ManifestEntry e;
        if (!from_hex(line.substr(0, sp1), e.seed.bytes))
            return fail(fmt::format("file {}: the seed id must be 64 lowercase hex digits", i + 1));
        const auto length_text = line.substr(sp1 + 1, sp2 - sp1 - 1);
        const auto length = parse_u64(length_text);
        if (!length)
            return fail(fmt::format("file {}: length {} is not a decimal number", i + 1,
                                    quote_text(length_text)));
        e.length = *length;
        const auto path = line.substr(sp2 + 1);
        if (auto ok = validate_manifest_path(path); !ok)
            return fail(
                fmt::format("file {}: path {}: {}", i + 1, quote_text(path), ok.error().message));
        if (!m.files.empty()) {
            const auto& before = m.files.back().path;
            if (path == before)
                return fail(
                    fmt::format("file {}: path {} is listed twice", i + 1, quote_text(path)));
            if (path < before)
                return fail(fmt::format(
                    "file {}: path {} is out of order (paths are sorted bytewise; it comes "
                    "before {})",
                    i + 1, quote_text(path), quote_text(before)));
        }
        e.path = std::string(path);
        m.files.push_back(std::move(e));
    }
    // No file may be a directory of another ("a" and "a/b"). Every path under
    // "a/" sorts after "a" and they sit together: one search per file.
    std::string as_dir;
    for (std::size_t i = 0; i < m.files.size(); ++i) {
        as_dir = m.files[i].path + '/';
        const auto under = std::lower_bound(
            m.files.begin() + static_cast<std::ptrdiff_t>(i) + 1, m.files.end(), as_dir,
            [](const ManifestEntry& e, const std::string& p) { return e.path < p; });
        if (under != m.files.end() && under->path.starts_with(as_dir)) {
            const auto j = static_cast<std::size_t>(under - m.files.begin());
            return Error{fmt::format("line {}: file {}: path {} is inside {}, which is a file",
                                     first_entry_line + j, j + 1, quote_text(under->path),
                                     quote_text(m.files[i].path))};
        }
    }
    {
        // A file line where 'signature' belongs: more than declared.
        const auto next = text.substr(pos, text.find('\n', pos) - pos);
        if (next.size() > 65 && next[64] == ' ' && Digest::from_hex_string(next.substr(0, 64))) {
            ++line_no;
            return fail(fmt::format("more file lines than the {} declared", count));
        }
        auto v = field(Key::kSignature);
        if (!v) return v.error();
        if (!from_hex(*v, m.signature.bytes))
            return fail("signature must be 128 lowercase hex digits");
    }
    if (pos < text.size()) {
        ++line_no;
        return fail("unexpected text after the signature");
    }
    return m;
}

Freshness freshness(const std::optional<ManifestVersion>& held, const ManifestVersion& candidate) {
    if (!held) return Freshness::kNewer;
    const auto& h = held->chain;
    const auto& c = candidate.chain;
    if (h != c) {
        // The candidate's chain goes past the held one's: a hand-over.
        if (c.size() > h.size() && std::equal(h.begin(), h.end(), c.begin()))
            return Freshness::kNewer;
        // The held chain goes past the candidate's: its key handed over.
        if (h.size() > c.size() && std::equal(c.begin(), c.end(), h.begin()))
            return Freshness::kHandedOver;
        return Freshness::kForked;
    }
    if (candidate.number > held->number) return Freshness::kNewer;
    if (candidate.number < held->number) return Freshness::kOlder;
    return candidate.body_hash == held->body_hash ? Freshness::kSame : Freshness::kConflict;
}

const ManifestVersion& conflict_winner(const ManifestVersion& a, const ManifestVersion& b) {
    return b.body_hash < a.body_hash ? b : a;
}

const ManifestVersion& fork_winner(const ManifestVersion& a, const ManifestVersion& b) {
    const auto split =
        std::mismatch(a.chain.begin(), a.chain.end(), b.chain.begin(), b.chain.end());
    if (split.first == a.chain.end()) return b;  // (not a fork: the longer one)
    if (split.second == b.chain.end()) return a;
    return *split.second < *split.first ? b : a;
}

bool replaces_held(const ManifestVersion& candidate, const std::optional<ManifestVersion>& held) {
    switch (freshness(held, candidate)) {
        case Freshness::kNewer:
            return true;
        case Freshness::kConflict:
            return conflict_winner(candidate, *held) == candidate;
        case Freshness::kForked:
            return fork_winner(candidate, *held) == candidate;
        case Freshness::kSame:
        case Freshness::kOlder:
        case Freshness::kHandedOver:
            return false;
    }
    return false;
}

}  // namespace seedshare
