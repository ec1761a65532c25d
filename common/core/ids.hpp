// Fixed-size identifiers as distinct types, so a seed id is never passed where
// a user id or a token is expected.
#pragma once

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "common/core/hex.hpp"

namespace seedshare {

template <std::size_t N, class Tag>
struct FixedId {
    static constexpr std::size_t kSize = N;
    std::array<std::uint8_t, N> bytes{};

    std::string hex() const { return to_hex(bytes); }
    static std::optional<FixedId> from_hex_string(std::string_view text) {
        FixedId id;
        if (!from_hex(text, id.bytes)) return std::nullopt;
        return id;
    }
    bool is_zero() const {
        return std::all_of(bytes.begin(), bytes.end(), [](std::uint8_t b) { return b == 0; });
    }
    std::span<const std::uint8_t> span() const { return bytes; }
    auto operator<=>(const FixedId&) const = default;
};

struct Sha256Tag {};
struct SeedIdTag {};
struct UserIdTag {};
struct TokenTag {};
struct ChannelIdTag {};

// A SHA-256 digest (whole file or chunk).
using Digest = FixedId<32, Sha256Tag>;
// Identifies a seed: the SHA-256 of its canonical text without trackers.
using SeedId = FixedId<32, SeedIdTag>;
// A peer process's identity: a random UUID (version 4), fresh per process.
using UserId = FixedId<16, UserIdTag>;
// Secret issued by the tracker at join; proves ownership of a UserId.
using Token = FixedId<16, TokenTag>;
// A channel: its ed25519 public key, so anyone holding the id can check
// every version (common/model/manifest.hpp).
using ChannelId = FixedId<32, ChannelIdTag>;

// Fills `out` from the OS CSPRNG (getrandom); throws std::system_error if the
// OS has none to give.
void random_bytes(std::span<std::uint8_t> out);

UserId random_user_id();
Token random_token();
// 8-4-4-4-12 form, for logs and listings.
std::string uuid_string(const UserId& id);

struct FixedIdHash {
    template <std::size_t N, class Tag>
    std::size_t operator()(const FixedId<N, Tag>& id) const {
        std::size_t h = 0;
        std::memcpy(&h, id.bytes.data(), std::min(sizeof h, N));
        return h;  // ids are random or hashes: any slice is well distributed
    }
};

}  // namespace seedshare
