// Ed25519 (RFC 8032) through Crypto++'s xed25519.h: the channel keys and the
// signatures on manifests. Pure: no I/O besides the OS randomness that
// ChannelKey::generate() draws.
//
// verify() is stricter than Crypto++ 8.7, which accepts S + L in place of S
// and so makes every signature malleable: it refuses a signature whose S is
// not below the group order L, a public key whose encoding is not canonical
// (y >= p), and a public key of small order (any message verifies under
// some of them). A public key that does not decode to a curve point fails in
// Crypto++ itself.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/core/ids.hpp"

namespace seedshare {

struct PublicKeyTag {};
struct SignatureTag {};

// An Ed25519 public key: its 32-byte encoding (RFC 8032 5.1.2).
using PublicKey = FixedId<32, PublicKeyTag>;
// An Ed25519 signature: R (32 bytes) then S (32 bytes, little endian).
using Signature = FixedId<64, SignatureTag>;

// A secret key: the 32-byte seed of RFC 8032 (what its test vectors call
// SECRET KEY). Never logged: there is no hex() or formatter; the seed leaves
// only through secret_seed(), for the key file. Wiped when destroyed.
class ChannelKey {
  public:
    static constexpr std::size_t kSeedBytes = 32;

    // A new key from the OS CSPRNG (getrandom). Throws std::system_error if
    // the OS has no randomness to give (never on bad input).
    static ChannelKey generate();
    // The key of a known seed (a key file, a test vector).
    static ChannelKey from_seed(std::span<const std::uint8_t, kSeedBytes> seed);

    ChannelKey(const ChannelKey& other) = default;
    ChannelKey& operator=(const ChannelKey& other) = default;
    ~ChannelKey();

    const PublicKey& public_key() const { return public_; }
    // Deterministic (RFC 8032): the same key and message give the same signature.
    Signature sign(std::span<const std::uint8_t> message) const;
    Signature sign(std::string_view message) const;

    // The 32-byte seed, for writing the key file and nothing else.
    std::span<const std::uint8_t, kSeedBytes> secret_seed() const { return seed_; }

  private:
    ChannelKey() = default;
    std::array<std::uint8_t, kSeedBytes> seed_{};
    PublicKey public_;
};

// True only when `signature` is a valid, canonical signature of `message`
// by `key`, and `key` is an acceptable public key (above).
bool verify(const PublicKey& key, std::span<const std::uint8_t> message,
            const Signature& signature);
bool verify(const PublicKey& key, std::string_view message, const Signature& signature);

// S < L: the one encoding of S that RFC 8032 (5.1.7) accepts.
bool is_canonical_signature(const Signature& signature);
// y < p, and not one of the eight points of small order (in any sign). Does
// not decode the point: a key off the curve passes here and fails verify().
bool is_acceptable_public_key(const PublicKey& key);

}  // namespace seedshare
