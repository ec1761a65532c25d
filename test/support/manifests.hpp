// Signed manifests for the tests of the tracker and its clients: a channel
// key from a fixed seed, and a valid manifest of it (common/model/manifest.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "common/crypto/ed25519.hpp"
#include "common/model/manifest.hpp"

namespace seedshare::test {

// The same key for the same n, in every run.
inline ChannelKey channel_key(std::uint8_t n) {
    std::array<std::uint8_t, ChannelKey::kSeedBytes> seed{};
    seed[0] = n;
    seed[31] = 0x42;
    return ChannelKey::from_seed(seed);
}

inline ChannelId channel_of(const ChannelKey& key) {
    return channel_id_of(key.public_key());
}

// A manifest of `key`'s channel, version `version`, one file per `files`
// (each 1000 bytes); `salt` tells apart two manifests of one version.
inline Manifest make_manifest(const ChannelKey& key, std::uint64_t version,
                              const std::string& name = "site", std::uint32_t files = 1,
                              std::uint8_t salt = 0) {
    Manifest m;
    m.version = version;
    if (version > 1) m.previous.bytes[0] = 1;  // (the tracker does not follow the chain)
    m.time = 1'700'000'000;
    m.name = name;
    for (std::uint32_t i = 0; i < files; ++i) {
        ManifestEntry e;
        e.path = "dir/file" + std::to_string(1000 + i);
        e.seed.bytes[0] = static_cast<std::uint8_t>(i);
        e.seed.bytes[1] = salt;
        e.length = 1000;
        m.files.push_back(std::move(e));
    }
    return sign_manifest(std::move(m), key);
}

inline std::string signed_manifest(const ChannelKey& key, std::uint64_t version,
                                   const std::string& name = "site", std::uint32_t files = 1,
                                   std::uint8_t salt = 0) {
    return format_manifest(make_manifest(key, version, name, files, salt));
}

}  // namespace seedshare::test
