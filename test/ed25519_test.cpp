#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/crypto/ed25519.hpp"
#include "common/crypto/sha256.hpp"

namespace ed25519_test {

using namespace seedshare;

namespace {

std::vector<std::uint8_t> bytes_of(std::string_view hex) {
    std::vector<std::uint8_t> out(hex.size() / 2);
    REQUIRE(from_hex(hex, out));
    return out;
}

template <class Id>
Id id_of(std::string_view hex) {
    auto id = Id::from_hex_string(hex);
    REQUIRE(id);
    return *id;
}

ChannelKey key_of(std::string_view secret_hex) {
    const auto seed = bytes_of(secret_hex);
    REQUIRE(seed.size() == 32);
    return ChannelKey::from_seed(std::span<const std::uint8_t, 32>(seed.data(), 32));
}

struct Vector {
    const char* name;
    std::string_view secret;
    std::string_view public_key;
    std::string_view message;
    std::string_view signature;
};

// RFC 8032, section 7.1, typed in from the RFC's text.
const Vector kRfc8032[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701c"
     "f9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0"
     "f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f76098"
     "4dc6594a7c15e9716ed28dc027beceea1ec40a"},
    {"TEST 1024", "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5",
     "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
     "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f"
     "77b1e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b"
     "270b20329d658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3"
     "a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903"
     "401aa62100ab5d1a36553e06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd7"
     "5499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4"
     "a41da4af2b74ef5c53f1d8ac70bdcb7ed185ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8"
     "a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad607"
     "9cad88425de6bde1a9187ebb6092cf67bf2b13fd65f27088d78b7e883c8759d2c4f5c65adb7553878ad575f9fa"
     "d878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b0707e091"
     "7af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128bab27af87a71314f318c782b23ebfe808b"
     "82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af"
     "58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb751fb73e666c6c655ade8"
     "297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b"
     "4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34dff7310fdc"
     "82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca798"
     "4a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae"
     "49e488acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa3"
     "42721aac0943bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f2566"
     "56168e6c496afc5fb93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c"
     "225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c0"
     "91c6315cf4fde7cb68606937380db2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba4"
     "1c0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0",
     "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c4"
     "36d94b5e8fcd4f681e30a6ac00a9704a188a03"},
    {"TEST SHA(abc)", "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
     "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
     "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3"
     "feebbd454d4423643ce80e2a9ac94fa54ca49f",
     "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c664"
     "31e0303dca179c138ac17ad9bef1177331a704"},
};

// S + L for a signature whose S < L: what Crypto++ 8.7 accepts as well.
Signature malleate(Signature sig) {
    static constexpr std::uint8_t kL[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                            0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10};
    unsigned carry = 0;
    for (std::size_t i = 0; i < 32; ++i) {
        const unsigned sum = sig.bytes[32 + i] + kL[i] + carry;
        sig.bytes[32 + i] = static_cast<std::uint8_t>(sum);
        carry = sum >> 8;
    }
    REQUIRE(carry == 0);  // S + L < 2^256 for every S < L
    return sig;
}

}  // namespace

TEST_CASE("ed25519: RFC 8032 section 7.1 vectors: public key, signature, verification") {
    for (const auto& v : kRfc8032) {
        CAPTURE(v.name);
        const auto key = key_of(v.secret);
        const auto message = bytes_of(v.message);
        CHECK(key.public_key().hex() == v.public_key);
        CHECK(key.sign(message).hex() == v.signature);
        CHECK(verify(id_of<PublicKey>(v.public_key), message, id_of<Signature>(v.signature)));
    }
    // The SHA(abc) vector signs SHA-512("abc"): its message is what the RFC says.
    CHECK(std::string(kRfc8032[4].message).substr(0, 16) == "ddaf35a193617aba");
}

TEST_CASE("ed25519: a malleated signature (S + L) is refused") {
    for (const auto& v : kRfc8032) {
        CAPTURE(v.name);
        const auto message = bytes_of(v.message);
        const auto sig = id_of<Signature>(v.signature);
        const auto bad = malleate(sig);
        CHECK(is_canonical_signature(sig));
        CHECK_FALSE(is_canonical_signature(bad));
        CHECK_FALSE(verify(id_of<PublicKey>(v.public_key), message, bad));
    }
    // S = L exactly, and S with the top bits set.
    Signature s;
    s.bytes = id_of<Signature>(kRfc8032[0].signature).bytes;
    for (std::size_t i = 0; i < 32; ++i)
        s.bytes[32 + i] = 0;
    CHECK(is_canonical_signature(s));
    s = malleate(s);
    CHECK_FALSE(is_canonical_signature(s));
    s.bytes[63] = 0xff;
    CHECK_FALSE(is_canonical_signature(s));
}

TEST_CASE("ed25519: any flipped bit, another message or another key is refused") {
    const auto& v = kRfc8032[2];  // TEST 3
    const auto pub = id_of<PublicKey>(v.public_key);
    const auto message = bytes_of(v.message);
    const auto sig = id_of<Signature>(v.signature);
    REQUIRE(verify(pub, message, sig));
    for (std::size_t bit = 0; bit < 512; ++bit) {
        auto bad = sig;
        bad.bytes[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        CAPTURE(bit);
        CHECK_FALSE(verify(pub, message, bad));
    }
    for (std::size_t bit = 0; bit < message.size() * 8; ++bit) {
        auto bad = message;
        bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        CHECK_FALSE(verify(pub, bad, sig));
    }
    for (std::size_t bit = 0; bit < 256; ++bit) {
        auto bad = pub;
        bad.bytes[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
        CAPTURE(bit);
        CHECK_FALSE(verify(bad, message, sig));
    }
    CHECK_FALSE(verify(id_of<PublicKey>(kRfc8032[0].public_key), message, sig));  // wrong key
    CHECK_FALSE(verify(pub, std::string_view("\xaf\x82\x00", 3), sig));           // longer message
}

TEST_CASE("ed25519: public keys of small order, non-canonical or off the curve are refused") {
    // The identity point (y = 1) with R = identity and S = 0 "signs" every
    // message under the plain verification equation: refused.
    const auto identity =
        id_of<PublicKey>("0100000000000000000000000000000000000000000000000000000000000000");
    Signature forged;
    forged.bytes[0] = 1;
    CHECK_FALSE(is_acceptable_public_key(identity));
    CHECK_FALSE(verify(identity, std::string_view("anything"), forged));
    for (const char* hex : {
             "0000000000000000000000000000000000000000000000000000000000000000",  // order 4
             "0000000000000000000000000000000000000000000000000000000000000080",  // same, x sign
             "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // order 2
             "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",  // order 8
             "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",  // order 8, sign
             "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // y = p
             "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",  // y = p + 1
             "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",  // y = 2^255 - 1
         }) {
        CAPTURE(hex);
        CHECK_FALSE(is_acceptable_public_key(id_of<PublicKey>(hex)));
    }
    // y = 2 is on no point of the curve: Crypto++ fails to decode it.
    const auto off_curve =
        id_of<PublicKey>("0200000000000000000000000000000000000000000000000000000000000000");
    CHECK(is_acceptable_public_key(off_curve));
    CHECK_FALSE(verify(off_curve, std::string_view(""), id_of<Signature>(kRfc8032[0].signature)));
    for (const auto& v : kRfc8032)
        CHECK(is_acceptable_public_key(id_of<PublicKey>(v.public_key)));
}

TEST_CASE("ed25519: generated keys sign and verify, and differ") {
    const auto a = ChannelKey::generate();
    const auto b = ChannelKey::generate();
    CHECK(a.public_key() != b.public_key());
    const auto sig = a.sign(std::string_view("version 7"));
    CHECK(verify(a.public_key(), std::string_view("version 7"), sig));
    CHECK_FALSE(verify(b.public_key(), std::string_view("version 7"), sig));
    CHECK(a.sign(std::string_view("version 7")) == sig);  // deterministic
    const auto again = ChannelKey::from_seed(a.secret_seed());
    CHECK(again.public_key() == a.public_key());
}

}  // namespace ed25519_test
