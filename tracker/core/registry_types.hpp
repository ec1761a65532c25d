// The registry's value types: what a Registry (registry.hpp) takes and
// returns. Domain types, not wire types: the handler maps them to tracker
// protocol messages, so a registry (SQLite today, etcd next) knows nothing of
// the wire. Small on purpose: ids, addresses, strings, vectors.
#pragma once

#include <asio/ip/address.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "common/core/ids.hpp"
#include "common/model/manifest.hpp"

namespace seedshare::tracker {

// Why a registry refused an operation. Decisions are taken on the code; the
// other fields carry what a message to the peer needs to say.
enum class RegistryErrc : std::uint8_t {
    kUserIdInUse,         // join: the userid is live and the token presented is not its
    kUnknownPeer,         // no live peer with this userid and token (expired, or it left)
    kTooManyFiles,        // update_files: the peer would hold more than kMaxFilesPerPeer
    kSeedUnparsable,      // put_seed: the text is not a seed
    kSeedNotHeld,         // put_seed: the peer does not hold that seed
    kTooManyChannels,     // follow_channels: more than kMaxChannelsPerPeer channels
    kManifestInvalid,     // put_manifest: does not parse, or its signature fails
    kChannelNotFollowed,  // put_manifest: the peer does not follow that channel
    kManifestStale,       // put_manifest: its version is below the head's
    kManifestConflict,    // put_manifest: the head's version, other content, lost the tie-break
    kManifestHandedOver,  // put_manifest: signed by a key that handed over since (the head's
                          // hand-over chain goes past it), or a chain that forks from the
                          // head's and loses to it (fork_winner)
};

struct RegistryError {
    RegistryErrc code = RegistryErrc::kUnknownPeer;
    std::size_t files = 0;    // kTooManyFiles: the count the change would make
    std::string parse_error;  // kSeedUnparsable: what the seed parser said
    SeedId seed;              // kSeedNotHeld: the id of the text sent
    // kTooManyChannels: the count the change would make.
    std::size_t channels = 0;
    // kManifestInvalid: what the manifest parser or the signature check said.
    std::string manifest_error;
    // kChannelNotFollowed, kManifestStale, kManifestConflict,
    // kManifestHandedOver: the manifest's channel and version, and (stale,
    // conflict, handed over) the head's version.
    ChannelId channel;
    std::uint64_t version = 0;
    std::uint64_t head_version = 0;
    bool operator==(const RegistryError&) const = default;

    static RegistryError of(RegistryErrc code) {
        RegistryError e;
        e.code = code;
        return e;
    }
    static RegistryError too_many_files(std::size_t files) {
        RegistryError e = of(RegistryErrc::kTooManyFiles);
        e.files = files;
        return e;
    }
    static RegistryError seed_unparsable(std::string parse_error) {
        RegistryError e = of(RegistryErrc::kSeedUnparsable);
        e.parse_error = std::move(parse_error);
        return e;
    }
    static RegistryError seed_not_held(const SeedId& seed) {
        RegistryError e = of(RegistryErrc::kSeedNotHeld);
        e.seed = seed;
        return e;
    }
    static RegistryError too_many_channels(std::size_t channels) {
        RegistryError e = of(RegistryErrc::kTooManyChannels);
        e.channels = channels;
        return e;
    }
    static RegistryError manifest_invalid(std::string why) {
        RegistryError e = of(RegistryErrc::kManifestInvalid);
        e.manifest_error = std::move(why);
        return e;
    }
    static RegistryError about_manifest(RegistryErrc code, const ChannelId& channel,
                                        std::uint64_t version, std::uint64_t head_version = 0) {
        RegistryError e = of(code);
        e.channel = channel;
        e.version = version;
        e.head_version = head_version;
        return e;
    }
};

// The backend failed (I/O error, disk full, cluster unreachable): the request
// is answered with an Internal error and may be retried.
struct RegistryFailure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A value, or the registry's refusal.
template <class T>
using RegistryResult = std::variant<T, RegistryError>;

// The operation was done; nothing to return.
struct Done {
    bool operator==(const Done&) const = default;
};

struct JoinResult {
    Token token;
    bool kept_token = false;  // the peer presented the token it had: same identity
};

// One file a peer holds (or has some verified chunks of).
struct HeldFile {
    SeedId id;
    std::string name;
    std::uint64_t length = 0;
    bool complete = false;
};

// A change to what a peer holds: the whole list (replace_all) or changes.
struct FileChanges {
    bool replace_all = false;
    std::vector<HeldFile> add;  // added or changed (e.g. partial -> complete)
    std::vector<SeedId> remove;
};

struct FilesUpdated {
    std::vector<SeedId> need_seed;  // added ids whose seed text is unknown
};

// A live serving holder of a file, as get_peers answers it.
struct Holder {
    asio::ip::address address;
    std::uint16_t port = 0;
    UserId user;
    bool complete = false;
    bool backup = false;  // joined as a backup peer (Join.backup)
};

// What get_peers hands out, from the holders sampled (in their shuffled
// order) that are not backup peers, `others`, and those that are,
// `backups`: a backup's upload is spared (as Kraken hands out completed
// peers before origins), yet it is never hidden behind partial holders. The
// complete others first, then the backups, then the partial others; at most
// `want` in all, the last left out. So a backup is left out only when `want`
// complete others hold the seed. The registries sample complete holders
// first (a registry that sampled only `want` others, partial or not, could
// miss the one backup among many partial holders).
inline std::vector<Holder> hand_out_holders(std::vector<Holder> others, std::vector<Holder> backups,
                                            std::size_t want) {
    const auto partial = std::stable_partition(others.begin(), others.end(),
                                               [](const Holder& h) { return h.complete; });
    const auto at = partial - others.begin();
    others.insert(others.begin() + at, std::make_move_iterator(backups.begin()),
                  std::make_move_iterator(backups.end()));
    if (others.size() > want) others.resize(want);
    return others;
}

struct FileSummary {
    SeedId id;
    std::string name;
    std::uint64_t length = 0;
    std::uint32_t holders = 0;           // live serving peers holding any of it
    std::uint32_t complete_holders = 0;  // of which complete
};

struct FilePage {
    std::vector<FileSummary> files;
    bool more = false;  // ask again after files.back().id
};

// What a channel's head says about itself: enough to list it and to decide
// whether another manifest of the channel is newer, without reparsing.
struct ManifestSummary {
    ChannelId channel;
    std::uint64_t version = 0;
    Digest body_hash;  // the version's id (manifest_body_hash)
    std::string name;
    std::uint32_t files = 0;
    std::uint64_t size = 0;  // bytes in all its files
    // Its hand-over chain's ids, all of them (handover_chain_ids; empty: none).
    std::vector<Digest> chain;
    bool operator==(const ManifestSummary&) const = default;
};

// put_manifest's answer: stored as the new head, or the head already.
enum class ManifestStored : std::uint8_t {
    kNewHead,     // a higher version, or the same one winning a conflict
    kAlreadyHead  // the same version and content as the head
};

// One channel a peer follows, and the version it holds (0: none yet).
struct FollowedChannel {
    ChannelId channel;
    std::uint64_t version = 0;
};

// A change to what a peer follows: the whole list (replace_all) or changes.
struct FollowChanges {
    bool replace_all = false;
    std::vector<FollowedChannel> add;  // added or changed (a newer version held)
    std::vector<ChannelId> remove;
};

// A live serving follower of a channel, as channel_peers answers it.
struct Follower {
    asio::ip::address address;
    std::uint16_t port = 0;
    UserId user;
    std::uint64_t version = 0;
};

struct ChannelSummary {
    ManifestSummary head;
    std::uint32_t followers = 0;  // live peers following it
};

struct ChannelPage {
    std::vector<ChannelSummary> channels;
    bool more = false;  // ask again after channels.back().head.channel
};

struct SweepResult {
    std::size_t users = 0;
    std::size_t holdings = 0;
    std::size_t files = 0;
    std::size_t follows = 0;
    std::size_t channels = 0;  // heads past their retention
};

struct RegistryStats {
    std::size_t users = 0;  // records, live or awaiting the sweep
    std::size_t live_users = 0;
    std::size_t files = 0;
    std::size_t seeds = 0;  // files whose seed text is known
    std::size_t holdings = 0;
    std::size_t channels = 0;  // channel heads kept
    std::size_t follows = 0;
};

}  // namespace seedshare::tracker
