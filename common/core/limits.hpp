// Every bound seedshare enforces on input it did not produce itself. Checked
// before anything is allocated; a value over its limit is an error, never a
// reason to allocate more.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace seedshare::limits {

// --- seed files -------------------------------------------------------------
inline constexpr std::uint32_t kSeedFormatVersion = 1;
// Largest chunk a seed may declare (and the largest the default policy picks).
inline constexpr std::uint64_t kMaxChunkSize = 16ull << 20;
// Smallest chunk the default policy picks; smaller ones may be asked for.
inline constexpr std::uint64_t kMinDefaultChunkSize = 256ull << 10;
// The default policy aims for at least this many chunks.
inline constexpr std::uint64_t kTargetChunkCount = 1024;
// Bounds the per-chunk hash list (and so the seed file): 2 TiB at 16 MiB chunks.
inline constexpr std::uint32_t kMaxChunkCount = 1u << 17;
inline constexpr std::size_t kMaxNameBytes = 255;
inline constexpr std::size_t kMaxTrackersPerSeed = 16;
inline constexpr std::size_t kMaxHostBytes = 253;
// A seed file is at most this big: header, trackers and kMaxChunkCount lines.
inline constexpr std::size_t kMaxSeedBytes = 9ull << 20;

// --- wire -------------------------------------------------------------------
// Frame = u32 length + u8 type + payload; length counts type and payload.
inline constexpr std::size_t kFrameHeaderBytes = 5;
// Tracker frames carry whole seeds (upload / fetch by id).
inline constexpr std::size_t kMaxTrackerFrameBytes = kMaxSeedBytes + 4096;
// Largest block of chunk data one request may ask for.
inline constexpr std::uint32_t kMaxBlockBytes = 1u << 20;
inline constexpr std::uint32_t kDefaultBlockBytes = 256u << 10;
// Peer frames: a block plus its small header, or a bitfield.
inline constexpr std::size_t kMaxPeerFrameBytes = kMaxBlockBytes + 64;
// Strings inside messages (names, error texts, hosts).
inline constexpr std::size_t kMaxMessageTextBytes = 1024;

// --- tracker ----------------------------------------------------------------
// Largest Join payload: room for a longer Join from a newer version, so it
// can be told apart (and answered VersionMismatch).
inline constexpr std::size_t kMaxTrackerJoinBytes = 256;
inline constexpr std::uint16_t kDefaultNumWant = 50;
inline constexpr std::uint16_t kMaxNumWant = 200;
// Entries one file-list message may carry, and files one peer may hold.
inline constexpr std::size_t kMaxFileListEntries = 10000;
inline constexpr std::size_t kMaxFilesPerPeer = 10000;
// Entries in one answer to "list files"; the client pages for more.
inline constexpr std::size_t kMaxListFilesPage = 1000;
inline constexpr std::size_t kMaxTrackerConnections = 20000;
// Requests per second one tracker connection may make (token bucket).
inline constexpr double kTrackerRequestsPerSecond = 200;
inline constexpr double kTrackerRequestBurst = 400;
inline constexpr std::chrono::seconds kTrackerJoinTimeout{10};
inline constexpr std::chrono::seconds kDefaultTtl{90};

// --- peers ------------------------------------------------------------------
inline constexpr std::size_t kMaxPeerConnections = 512;
// Blocks a peer process sends at once, to all its remotes together (upload
// slots, peer/swarm/upload_slots.hpp).
inline constexpr std::size_t kDefaultUploadSlots = 4;
// Requests a remote peer may have queued at us before we stop reading from it.
inline constexpr std::size_t kMaxQueuedRequests = 256;
inline constexpr std::chrono::seconds kPeerHandshakeTimeout{10};
inline constexpr std::chrono::seconds kPeerIdleTimeout{120};
// Peer addresses one PeerList message may carry.
inline constexpr std::size_t kMaxPeerListEntries = 64;
// The seed cache's index (one line per served file) is read whole up to this;
// a larger one is ignored (the cache starts empty).
inline constexpr std::uint64_t kMaxSeedCacheIndexBytes = 64ull << 20;

}  // namespace seedshare::limits
