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

// --- channel manifests (seeds/MANIFEST.md) ---------------------------------
inline constexpr std::uint32_t kManifestFormatVersion = 1;
// A manifest that carries a hand-over chain (publishing passed to another
// key) is written in format 2; one without a chain always in format 1.
inline constexpr std::uint32_t kManifestHandoverFormatVersion = 2;
// Hand-overs one chain may hold (from the channel's first key to the current).
inline constexpr std::size_t kMaxHandovers = 64;
// A hand-over record file ("seedshare-handover 1", six lines): about 400 bytes.
inline constexpr std::size_t kMaxHandoverBytes = 1024;
// Files one version of a channel may list.
inline constexpr std::size_t kMaxManifestFiles = 100000;
// A manifest's whole text: room for kMaxManifestFiles entries of about 160
// bytes (a path of about 70 bytes) each; longer paths mean fewer files.
inline constexpr std::size_t kMaxManifestBytes = 16ull << 20;
// A path inside a channel's directory: bytes and '/'-separated components
// (each component is a file name: kMaxNameBytes).
inline constexpr std::size_t kMaxPathBytes = 4096;
inline constexpr std::size_t kMaxPathComponents = 32;
// The channel's name, free text for people.
inline constexpr std::size_t kMaxChannelNameBytes = 255;
// Versions are numbered 1 .. 2^63 - 1 (they fit a signed 64-bit column).
inline constexpr std::uint64_t kMaxManifestVersion = (std::uint64_t{1} << 63) - 1;
// A channel key file ("seedshare-channel-key 1", the secret): a few dozen
// bytes; anything larger is not one.
inline constexpr std::uint64_t kMaxChannelKeyFileBytes = 256;

// --- wire -------------------------------------------------------------------
// Frame = u32 length + u8 type + payload; length counts type and payload.
inline constexpr std::size_t kFrameHeaderBytes = 5;
// Tracker frames carry whole seeds and whole manifests (upload / fetch by id).
inline constexpr std::size_t kMaxTrackerFrameBytes =
    (kMaxManifestBytes > kMaxSeedBytes ? kMaxManifestBytes : kMaxSeedBytes) + 4096;
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
// Trackers of one cluster a Joined names (tracker protocol), and the length
// of each one's host name.
inline constexpr std::size_t kMaxClusterTrackers = 32;
inline constexpr std::size_t kMaxTrackerHostBytes = 253;
// Entries one file-list message may carry, and files one peer may hold.
inline constexpr std::size_t kMaxFileListEntries = 10000;
inline constexpr std::size_t kMaxFilesPerPeer = 10000;
// Entries in one answer to "list files"; the client pages for more.
inline constexpr std::size_t kMaxListFilesPage = 1000;
// Channels one FollowChannels message may name (added plus removed), channels
// one peer may follow at a tracker, and entries in one answer to "list channels".
inline constexpr std::size_t kMaxFollowEntries = 1000;
inline constexpr std::size_t kMaxChannelsPerPeer = 1000;
inline constexpr std::size_t kMaxListChannelsPage = 1000;
// A channel's head (its latest manifest) stays at the tracker this long after
// its last follower went, so a publisher that restarts learns its latest number.
inline constexpr std::chrono::hours kChannelRetention{24 * 7};
inline constexpr std::size_t kMaxTrackerConnections = 20000;
// Requests per second one tracker connection may make (token bucket).
inline constexpr double kTrackerRequestsPerSecond = 200;
inline constexpr double kTrackerRequestBurst = 400;
inline constexpr std::chrono::seconds kTrackerJoinTimeout{10};
inline constexpr std::chrono::seconds kDefaultTtl{90};

// --- backup peer (peer/backup) -----------------------------------------------
// Seeds one backup peer holds or fetches, in all: each is a served swarm and
// an open file, so a hostile sharer announcing millions stops here.
inline constexpr std::size_t kMaxBackupSeeds = 20000;
// Seeds held or being fetched whose only known holder is one peer address:
// one sharer cannot fill the backup alone.
inline constexpr std::size_t kMaxBackupSeedsPerSource = 2000;
// New seeds a backup takes on (looks up, then fetches): a burst, then this
// many per second.
inline constexpr double kBackupNewSeedsPerSecond = 20;
inline constexpr double kBackupNewSeedsBurst = 200;
// Fetches a backup runs at once (each a swarm with its connections).
inline constexpr std::size_t kMaxBackupFetches = 4;
// Entries a backup takes from the trackers' listings per poll.
inline constexpr std::size_t kMaxBackupListing = 100000;
// Channels a backup follows (each a subscriber with its directory and mesh).
inline constexpr std::size_t kMaxBackupChannels = 1000;
// Disk a backup leaves free: a fetch that would leave less is not started.
inline constexpr std::uint64_t kBackupDiskReserve = 64ull << 20;

// --- peers ------------------------------------------------------------------
inline constexpr std::size_t kMaxPeerConnections = 512;
// `peer get --parallel`: files fetched at once by one process (each a swarm
// with its connections, all within kMaxPeerConnections).
inline constexpr std::uint64_t kMaxGetParallel = 64;
// Accepted connections still in their handshake, beyond kMaxPeerConnections
// (the budget decides on them once their Hello names the swarm).
inline constexpr std::size_t kMaxPeerHandshakes = 64;
// Blocks a peer process sends at once, to all its remotes together (upload
// slots, peer/swarm/upload_slots.hpp: why two).
inline constexpr std::size_t kDefaultUploadSlots = 2;
// Requests a remote peer may have queued at us before we stop reading from it.
inline constexpr std::size_t kMaxQueuedRequests = 256;
inline constexpr std::chrono::seconds kPeerHandshakeTimeout{10};
inline constexpr std::chrono::seconds kPeerIdleTimeout{120};
// Peer addresses one PeerList message may carry.
inline constexpr std::size_t kMaxPeerListEntries = 64;
// --- discovery (peer/discovery: peer list, pool, peer exchange, address book) --
// Peer exchange, after BEP 11: a gossip message we send names at most this
// many peers, and of one we receive only this many are looked at.
inline constexpr std::size_t kPexMaxAdded = 50;
// "Dropped" addresses a gossip message names (at most kPexMaxAdded) and how
// many wait for the next message at most (more are not gossiped).
inline constexpr std::size_t kPexMaxDroppedPending = 200;
// New candidates one source (the peer that gossiped them) may add to one
// swarm's peer list, over the list's life: a hostile peer naming 10,000
// addresses adds 50.
inline constexpr std::size_t kMaxCandidatesPerSource = 50;
// Failed dials in a row after which a learnt address is forgotten.
inline constexpr std::uint32_t kForgetAfterFailures = 4;
// The address book (which peers held which seeds and channels): keys,
// holders per key, the file's size (read whole up to this; a larger one is
// ignored), and how long an entry is believed.
inline constexpr std::size_t kMaxAddressBookKeys = 1024;
inline constexpr std::size_t kMaxAddressBookHolders = 50;
inline constexpr std::uint64_t kMaxAddressBookBytes = 8ull << 20;
inline constexpr std::chrono::hours kAddressBookLifetime{24 * 7};
// The seed cache's index (one line per served file) is read whole up to this;
// a larger one is ignored (the cache starts empty).
inline constexpr std::uint64_t kMaxSeedCacheIndexBytes = 64ull << 20;

// --- channel connections ------------------------------------------------------
// A manifest crosses a channel connection in parts of at most this many bytes.
inline constexpr std::uint32_t kMaxManifestPartBytes = 256u << 10;
// A file of one chunk up to this size is asked of the channel's peers over
// the channel connection (FileRequest) before a swarm of its own is made.
// One part: a served file is read whole into memory, one per connection.
inline constexpr std::uint32_t kMaxMeshFileBytes = kMaxManifestPartBytes;
// Channel connections one subscriber keeps (the mesh that passes versions on).
inline constexpr std::size_t kMaxChannelConnections = 64;

// --- a channel's directory (peer/channel: channel store, scan, sync) --------
// DIR/.seedshare/state (channel, applied manifest, recorded files) and its
// journal are read whole up to this; larger ones are refused unread. Room for
// a whole manifest and kMaxManifestFiles recorded files (about 480 bytes each).
inline constexpr std::uint64_t kMaxChannelStateBytes = kMaxManifestBytes + (48ull << 20);
// Entries (files, directories, others) one scan of DIR lists; more is refused.
inline constexpr std::size_t kMaxScanEntries = 1'000'000;
// Rounds of scan + plan one sync may take (hashing rounds, and replans when
// DIR changed under a step) before it gives up.
inline constexpr std::size_t kMaxSyncRounds = 16;

}  // namespace seedshare::limits
