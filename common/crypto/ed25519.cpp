#include "common/crypto/ed25519.hpp"

#include <crypto++/misc.h>
#include <crypto++/xed25519.h>

#include <algorithm>

namespace seedshare {

namespace {

// L = 2^252 + 27742317777372353535851937790883648493, little endian.
constexpr std::array<std::uint8_t, 32> kGroupOrder{
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};

// The y coordinates (little endian, sign bit clear) of the points of small
// order that have a canonical encoding: 0 (order 4), 1 (order 1), p - 1
// (order 2) and the two of order 8. The non-canonical ones (y >= p) are
// refused before. The list libsodium keeps (ge25519_has_small_order).
constexpr std::array<std::array<std::uint8_t, 32>, 5> kSmallOrderY{{
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
    {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
     0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
     0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
     0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
     0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
}};

// a < b for 32-byte little-endian numbers.
bool less_le(std::span<const std::uint8_t, 32> a, std::span<const std::uint8_t, 32> b) {
    for (std::size_t i = 32; i-- > 0;)
        if (a[i] != b[i]) return a[i] < b[i];
    return false;
}

}  // namespace

ChannelKey ChannelKey::generate() {
    std::array<std::uint8_t, kSeedBytes> seed{};
    random_bytes(seed);
    ChannelKey key = from_seed(seed);
    CryptoPP::SecureWipeArray(seed.data(), seed.size());
    return key;
}

ChannelKey ChannelKey::from_seed(std::span<const std::uint8_t, kSeedBytes> seed) {
    ChannelKey key;
    std::copy(seed.begin(), seed.end(), key.seed_.begin());
    const CryptoPP::ed25519Signer signer(key.seed_.data());
    const auto& secret = static_cast<const CryptoPP::ed25519PrivateKey&>(signer.GetPrivateKey());
    std::copy_n(secret.GetPublicKeyBytePtr(), key.public_.bytes.size(), key.public_.bytes.begin());
    return key;
}

ChannelKey::~ChannelKey() {
    CryptoPP::SecureWipeArray(seed_.data(), seed_.size());
}

Signature ChannelKey::sign(std::span<const std::uint8_t> message) const {
    const CryptoPP::ed25519Signer signer(public_.bytes.data(), seed_.data());
    Signature signature;
    // Ed25519 signing draws no randomness: the null generator is never used.
    signer.SignMessage(CryptoPP::NullRNG(), message.data(), message.size(), signature.bytes.data());
    return signature;
}

Signature ChannelKey::sign(std::string_view message) const {
    return sign(std::span(reinterpret_cast<const std::uint8_t*>(message.data()), message.size()));
}

bool is_canonical_signature(const Signature& signature) {
    return less_le(std::span(signature.bytes).subspan<32, 32>(), kGroupOrder);
}

bool is_acceptable_public_key(const PublicKey& key) {
    std::array<std::uint8_t, 32> y = key.bytes;
    y[31] &= 0x7f;  // the sign of x
    // y >= p = 2^255 - 19: bytes 1..30 all 0xff, byte 31 0x7f, byte 0 >= 0xed.
    const bool all_ones = std::all_of(y.begin() + 1, y.end() - 1, [](auto b) { return b == 0xff; });
    if (all_ones && y[31] == 0x7f && y[0] >= 0xed) return false;
    return std::none_of(kSmallOrderY.begin(), kSmallOrderY.end(),
                        [&](const auto& small) { return small == y; });
}

bool verify(const PublicKey& key, std::span<const std::uint8_t> message,
            const Signature& signature) {
    if (!is_canonical_signature(signature) || !is_acceptable_public_key(key)) return false;
    try {
        const CryptoPP::ed25519Verifier verifier(key.bytes.data());
        return verifier.VerifyMessage(message.data(), message.size(), signature.bytes.data(),
                                      signature.bytes.size());
    } catch (const CryptoPP::Exception&) {
        return false;  // not expected from Crypto++ 8.7; a refusal all the same
    }
}

bool verify(const PublicKey& key, std::string_view message, const Signature& signature) {
    return verify(key,
                  std::span(reinterpret_cast<const std::uint8_t*>(message.data()), message.size()),
                  signature);
}

}  // namespace seedshare
