// Whether a channel's candidate manifest replaces the head a registry keeps.
// Pure. TEMPORARY: stands in for the freshness helper of common/model/manifest
// (branch `manifest`) until that is merged; then this file goes and the
// registries call that one, so peers and trackers decide alike.
#pragma once

#include <cstdint>

#include "common/core/ids.hpp"

namespace seedshare::tracker {

enum class Freshness : std::uint8_t {
    kNewer,          // a higher version: replaces the head
    kSame,           // the head itself
    kOlder,          // a lower version: refused (rollback)
    kConflictWins,   // the head's version, other content, wins the tie-break: replaces it
    kConflictLoses,  // the head's version, other content, loses the tie-break: refused
};

// Same version, different bodies: the smaller body hash wins, so every
// tracker and peer that sees both keeps the same one.
constexpr Freshness compare_to_head(std::uint64_t head_version, const Digest& head_hash,
                                    std::uint64_t version, const Digest& hash) {
    if (version > head_version) return Freshness::kNewer;
    if (version < head_version) return Freshness::kOlder;
    if (hash == head_hash) return Freshness::kSame;
    return hash < head_hash ? Freshness::kConflictWins : Freshness::kConflictLoses;
}

}  // namespace seedshare::tracker
