// The seed: everything needed to fetch and verify one file. The text format is
// specified in seeds/FORMAT.md; this file holds the model, the canonical
// writer, the strict parser and the default chunk-size policy. No I/O here.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/ids.hpp"
#include "common/core/result.hpp"

namespace seedshare {

// Position of a chunk in its file; distinct from byte offsets and counts.
struct ChunkIndex {
    std::uint32_t value = 0;
    auto operator<=>(const ChunkIndex&) const = default;
};

struct Seed {
    std::string name;  // a file name, never a path (validate_file_name)
    std::uint64_t length = 0;
    std::uint64_t chunk_size = 0;  // 1 .. limits::kMaxChunkSize
    Digest file_hash;              // SHA-256 of the whole file
    std::vector<HostPort> trackers;
    std::vector<Digest> chunk_hashes;  // exactly chunk_count_for(length, chunk_size)

    std::uint32_t chunk_count() const { return static_cast<std::uint32_t>(chunk_hashes.size()); }
    std::uint64_t chunk_offset(ChunkIndex c) const { return std::uint64_t{c.value} * chunk_size; }
    // The last chunk may be shorter; every chunk of a valid seed is non-empty.
    std::uint32_t chunk_length(ChunkIndex c) const;
    // Hash of the canonical text without tracker lines (seeds/FORMAT.md).
    SeedId id() const;

    bool operator==(const Seed&) const = default;
};

// ceil(length / chunk_size); chunk_size must be > 0.
std::uint64_t chunk_count_for(std::uint64_t length, std::uint64_t chunk_size);

// The documented default: the largest power of two that still gives at least
// limits::kTargetChunkCount chunks, clamped to [kMinDefaultChunkSize, kMaxChunkSize].
std::uint64_t default_chunk_size(std::uint64_t length);

// Ok when `name` is usable as a file name inside an output directory on any
// common system: non-empty, at most kMaxNameBytes, valid UTF-8, not "." or
// "..", and free of '/', '\\' and control characters.
Status validate_file_name(std::string_view name);

// The canonical text of a seed (what make-seed writes).
std::string format_seed(const Seed& seed);

// Strict parser. Every rejection names the line and what is wrong.
Result<Seed> parse_seed(std::string_view text);

}  // namespace seedshare
