// A channel's version: the manifest. One document pins every file of a
// version (its path and seed id), numbered, chained to the version before by
// its body hash, and signed with the channel's Ed25519 key. The text format
// is specified byte for byte in seeds/MANIFEST.md; this file holds the model,
// the canonical writer, the strict parser, the signature and the freshness
// rules a subscriber and the tracker share. No I/O here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/ids.hpp"
#include "common/core/numbers.hpp"
#include "common/core/result.hpp"
#include "common/crypto/ed25519.hpp"
#include "common/model/handover.hpp"

namespace seedshare {

// A channel's id (ChannelId, common/core/ids.hpp) is its Ed25519 public
// key, so whoever holds the id can check every version. 64 lowercase hex
// digits in text.

inline ChannelId channel_id_of(const PublicKey& key) {
    return ChannelId{key.bytes};
}
inline PublicKey public_key_of(const ChannelId& id) {
    return PublicKey{id.bytes};
}

struct ManifestEntry {
    std::string path;  // relative, '/'-separated (validate_manifest_path)
    SeedId seed;       // the file's seed, fetched by id and checked against it
    std::uint64_t length = 0;

    bool operator==(const ManifestEntry&) const = default;
};

struct Manifest {
    ChannelId channel;
    // The hand-overs from the channel's first key (its id) to the key that
    // signs this version (common/model/handover.hpp); empty: the first key
    // signs. Written in format 2 when not empty, in format 1 when empty.
    std::vector<Handover> handovers;
    std::uint64_t version = 0;         // 1 .. limits::kMaxManifestVersion
    Digest previous;                   // body hash of the version before; zeros for version 1
    std::int64_t time = 0;             // unix seconds when published (>= 0)
    std::string name;                  // free text for people (validate_channel_name)
    std::vector<ManifestEntry> files;  // sorted by path bytewise, no path a directory of another
    Signature
        signature;  // over kManifestSignaturePrefix + body, by publishing_key(channel, handovers)

    bool operator==(const Manifest&) const = default;
};

// The bytes a signature covers start with this domain-separation prefix (32
// bytes, the last one NUL), so a manifest signature can never be taken for
// the signature of anything else the key might sign.
inline constexpr std::string_view kManifestSignaturePrefix{"seedshare manifest signature v1\0", 32};

// The canonical text without the signature line.
std::string format_manifest_body(const Manifest& m);
// The canonical text: the body, then "signature <128 hex>\n".
std::string format_manifest(const Manifest& m);
// SHA-256 of the body: the version's id, what the next version names as
// `previous`. Never covers the signature bytes (signatures are not ids).
Digest manifest_body_hash(const Manifest& m);
// What the signature covers: kManifestSignaturePrefix + body.
std::string manifest_signed_bytes(const Manifest& m);

// Strict parser: syntax, canonical form and limits (size checked before
// parsing, the file count before allocating). Every rejection names the line
// and what is wrong. Does NOT check the signature: verify_manifest_signature.
Result<Manifest> parse_manifest(std::string_view text);

// Ok when the hand-over chain checks from the channel's key
// (verify_handover_chain), the version is at or after the last hand-over's
// number, and `signature` is a canonical Ed25519 signature over
// manifest_signed_bytes(m) by the key at the end of the chain.
Status verify_manifest_signature(const Manifest& m);
// parse_manifest, then: a manifest of `channel`, signed by its key. What
// every publisher, subscriber and status check accepts as a version.
Result<Manifest> parse_verified_manifest(std::string_view text, const ChannelId& channel);
// Signs: the manifest a publisher sends. Without hand-overs, sets `channel`
// from the key; with them, `channel` is the caller's (the first key's id) and
// `key` must be the chain's last (verify_manifest_signature says otherwise).
Manifest sign_manifest(Manifest m, const ChannelKey& key);

// Ok when `path` may name a file of a channel: 1 .. kMaxPathBytes bytes,
// '/'-separated, no empty component (so no leading, trailing or double '/'),
// at most kMaxPathComponents components, each a valid file name
// (validate_file_name: no ".", "..", '\\', control characters, bad UTF-8).
Status validate_manifest_path(std::string_view path);
// Ok when `name` is 1 .. kMaxChannelNameBytes of UTF-8 without control characters.
Status validate_channel_name(std::string_view name);

// --- freshness --------------------------------------------------------------

// A version as far as freshness goes: its number, its body hash, and its
// hand-over chain: the ids of its links in order (handover_chain_ids; each id
// hashes the one before, so the last names the whole chain; empty: none).
struct ManifestVersion {
    std::uint64_t number = 0;
    Digest body_hash;
    std::vector<Digest> chain;

    // The chain's last id; zeros without a hand-over.
    Digest chain_tip() const { return chain.empty() ? Digest{} : chain.back(); }
    bool operator==(const ManifestVersion&) const = default;
};

// The bytes of a version's files, in all (UINT64_MAX if more: the lengths
// are any u64 the signer wrote, and a hostile channel's could wrap a plain
// sum to a small one).
inline std::uint64_t manifest_bytes(const Manifest& m) {
    std::uint64_t n = 0;
    for (const auto& f : m.files)
        n = add_saturating(n, f.length);
    return n;
}

inline ManifestVersion version_of(const Manifest& m) {
    return ManifestVersion{m.version, manifest_body_hash(m),
                           handover_chain_ids(m.channel, m.handovers)};
}

// How a candidate (verified) version compares to the one held.
enum class Freshness {
    kNewer,       // a higher number: take it
    kSame,        // the same number and body: nothing to do
    kOlder,       // a lower number: a rollback, refused
    kConflict,    // the same number, another body: the publisher signed two
                  // versions with one number; conflict_winner() picks one
    kHandedOver,  // signed by a key that has handed over (the held chain goes
                  // past the candidate's): refused whatever its number
    kForked,      // chains that split (a key handed over twice):
                  // fork_winner() picks one, whatever the numbers
};

// Nothing held: any candidate is newer. A candidate whose chain extends the
// held one is newer whatever its number: the held version's key has handed
// over (its number is below the new link's, or it is void). Equal chains:
// numbers decide, then conflict_winner().
Freshness freshness(const std::optional<ManifestVersion>& held, const ManifestVersion& candidate);

// Of two versions with the same number and different bodies, the one every
// peer keeps: the lower body hash (bytewise), whoever saw which first.
const ManifestVersion& conflict_winner(const ManifestVersion& a, const ManifestVersion& b);

// Of two versions whose chains split (neither extends the other), the one
// every peer keeps: at the first link where they differ (two records signed
// by one key), the lower chain id (bytewise), whatever their numbers, their
// lengths after it, and whoever saw which first. Decided once at the split,
// so a branch that lost cannot come back by handing over again; with the
// rules above it orders every version of a channel in one total order (the
// chains lexicographically, an extension after its prefix), so all peers
// converge. A hand-over does not make the key that signed it powerless: a
// second hand-over by it forks the channel, and may win.
const ManifestVersion& fork_winner(const ManifestVersion& a, const ManifestVersion& b);

// True when a peer holding `held` takes `candidate` in its place: newer, or a
// conflict or fork it wins. What subscribers, publishers, the mesh, `peer
// status` and the trackers share.
bool replaces_held(const ManifestVersion& candidate, const std::optional<ManifestVersion>& held);

}  // namespace seedshare
