// The tracker's registry: who is live, what each peer holds, the seed texts
// peers uploaded, and for each channel its head (the latest valid manifest)
// and who follows it. An interface, so the handler and the server do not
// depend on where it is kept: tracker/sqlite/store.* keeps it in SQLite (one
// tracker), and an etcd registry (issue 16) will keep it for a cluster. Both
// must pass the shared registry suite (test/registry_suite.hpp).
//
// Liveness is exact: a peer whose last sign of life (join, heartbeat, file
// list, seed upload) is older than the TTL is absent from every answer at
// once; sweep() only reclaims the space later.
//
// Refusals are values (RegistryError); a failing backend (database, cluster)
// throws RegistryFailure, which ends one request, not the tracker.
// Threading: one thread at a time (the tracker's I/O thread), unless an
// implementation says otherwise (etcd's is thread-safe).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/result.hpp"
#include "common/model/manifest.hpp"
#include "common/model/seed.hpp"
#include "tracker/core/registry_types.hpp"

namespace seedshare::tracker {

// Milliseconds since the Unix epoch: last_seen survives a restart, so the
// clock must be a wall clock (tests pass a fake one).
using NowMs = std::function<std::int64_t()>;
std::int64_t system_now_ms();

// A seed text parsed and hashed, ready for put_seed.
struct ParsedSeed {
    Seed seed;
    SeedId id;
};
// CPU-heavy for big seeds (parse and SHA-256 of up to 9 MiB): the server runs
// it off the I/O thread.
Result<ParsedSeed> parse_seed_for_upload(std::string_view text);

// A manifest text parsed and its signature checked, summarised for
// put_manifest. CPU-heavy for big manifests (parse, hash and verify up to
// limits::kMaxManifestBytes): the server runs it off the I/O thread.
Result<ManifestSummary> check_manifest_for_upload(std::string_view text);

// What put_manifest does with a checked manifest, given the channel's head
// (nullopt: none). The freshness rule of common/model/manifest.hpp, shared
// with the peers: a higher number replaces the head; the same number with
// another body is a conflict that conflict_winner() settles the same way
// everywhere (replace, or refuse); a lower number is stale. A hand-over chain
// that goes past the head's replaces it whatever the numbers; a version whose
// chain the head's goes past (its key handed over) is refused; a fork is
// settled by fork_winner() (the lower id where the chains split): it
// replaces the head, or is refused as handed over. A head whose chain is one
// id that the candidate's chain names further on is read as that chain up
// to it (a head whose text no longer parsed when whole chains came in).
enum class HeadChange : std::uint8_t { kReplace, kAlreadyHead, kStale, kConflictLost, kHandedOver };
HeadChange change_of_head(const std::optional<ManifestVersion>& head,
                          const ManifestVersion& candidate);
// A stored head or a checked upload as freshness sees it: number, body hash,
// its chain's ids.
ManifestVersion head_version(std::uint64_t number, const Digest& body_hash,
                             std::vector<Digest> chain);
// The hand-over chain ids of a stored head's text (nullopt: it does not
// parse): for heads stored when only the last id was kept.
std::optional<std::vector<Digest>> chain_of(std::string_view manifest_text);

class Registry {
  public:
    virtual ~Registry() = default;

    virtual std::chrono::milliseconds ttl() const = 0;
    virtual void set_ttl(std::chrono::milliseconds ttl) = 0;

    // --- writes (those with a token refresh the peer's last_seen) ------------

    // A userid that is live keeps its token and is refused (kUserIdInUse)
    // unless `presented` is that token. A known userid presenting its token
    // keeps it even when expired (e.g. after a tracker restart). Otherwise the
    // userid gets a fresh token, and any holdings left from an expired owner
    // are dropped. `backup`: a backup peer (Join.backup), kept with the
    // peer's record (every join says it again) and handed out by get_peers
    // after the other complete holders.
    virtual RegistryResult<JoinResult> join(const UserId& user, const Token& presented,
                                            const asio::ip::address& address, std::uint16_t port,
                                            bool backup = false) = 0;
    // kUnknownPeer when the peer is not live with this token.
    virtual RegistryResult<Done> heartbeat(const UserId& user, const Token& token) = 0;
    // Replaces (replace_all) or changes the peer's holdings. Answers the added
    // ids whose seed text is unknown. kTooManyFiles when the peer would hold
    // more than limits::kMaxFilesPerPeer files (nothing is changed then).
    virtual RegistryResult<FilesUpdated> update_files(const UserId& user, const Token& token,
                                                      const FileChanges& changes) = 0;
    // Stores the seed text of a file the peer holds, `parsed` being
    // parse_seed_for_upload(text) (kSeedUnparsable, kSeedNotHeld). The first
    // text stored for an id stays; the name and length then come from it.
    virtual RegistryResult<Done> put_seed(const UserId& user, const Token& token,
                                          std::string_view text,
                                          const Result<ParsedSeed>& parsed) = 0;
    // The same, parsing the text here.
    RegistryResult<Done> put_seed(const UserId& user, const Token& token, std::string_view text) {
        return put_seed(user, token, text, parse_seed_for_upload(text));
    }
    // Forgets the peer, its holdings and its follows now (kUnknownPeer: wrong token).
    virtual RegistryResult<Done> leave(const UserId& user, const Token& token) = 0;

    // Replaces (replace_all) or changes the channels the peer follows and the
    // version it holds of each. kTooManyChannels when the peer would follow
    // more than limits::kMaxChannelsPerPeer (nothing is changed then).
    virtual RegistryResult<Done> follow_channels(const UserId& user, const Token& token,
                                                 const FollowChanges& changes) = 0;
    // Keeps `text` as its channel's head when it is newer, `checked` being
    // check_manifest_for_upload(text). Refused: kManifestInvalid (does not
    // parse, bad signature), kChannelNotFollowed (the peer must follow the
    // channel: so heads are bounded by the peers' follows), kManifestStale
    // (version below the head's), kManifestConflict (the head's version with
    // other content, losing the tie-break: change_of_head). A conflict
    // won replaces the head. Nothing is stored when refused.
    virtual RegistryResult<ManifestStored> put_manifest(const UserId& user, const Token& token,
                                                        std::string_view text,
                                                        const Result<ManifestSummary>& checked) = 0;
    // The same, checking the text here.
    RegistryResult<ManifestStored> put_manifest(const UserId& user, const Token& token,
                                                std::string_view text) {
        return put_manifest(user, token, text, check_manifest_for_upload(text));
    }

    // --- reads ---------------------------------------------------------------

    // Up to min(numwant, limits::kMaxNumWant) live holders of `id` that serve
    // (port != 0), never `asker`, about equally likely each, shuffled; in
    // the order of hand_out_holders() (backup peers spared).
    virtual std::vector<Holder> get_peers(const SeedId& id, const UserId& asker,
                                          std::uint16_t numwant) = 0;
    // Files in id order after `after` (from the start when nullopt), at least
    // 1 and at most min(limit, limits::kMaxListFilesPage), with their live
    // serving holders counted.
    virtual FilePage list_files(const std::optional<SeedId>& after, std::size_t limit) = 0;
    virtual std::optional<std::string> get_seed(const SeedId& id) = 0;
    // The channel's head, as uploaded (nullopt: none kept).
    virtual std::optional<std::string> get_manifest(const ChannelId& channel) = 0;
    // Up to min(numwant, limits::kMaxNumWant) live followers of `channel` that
    // serve (port != 0), never `asker`, about equally likely each, shuffled.
    virtual std::vector<Follower> channel_peers(const ChannelId& channel, const UserId& asker,
                                                std::uint16_t numwant) = 0;
    // Channels with a head, in id order after `after` (from the start when
    // nullopt), at least 1 and at most min(limit, limits::kMaxListChannelsPage),
    // with their live followers counted.
    virtual ChannelPage list_channels(const std::optional<ChannelId>& after, std::size_t limit) = 0;
    // True when the userid is live with this token.
    virtual bool is_live(const UserId& user, const Token& token) = 0;
    // The token on record for a userid, live or not (operators and tests).
    virtual std::optional<Token> token_of(const UserId& user) = 0;

    // --- answers that never wait on I/O ---------------------------------------
    // (For a registry whose calls may wait, such as etcd's: its server runs
    // them on worker threads, and these on its I/O thread.)

    // True when get_peers, list_files, channel_peers, list_channels, is_live
    // and token_of are answered from memory, without waiting on I/O.
    virtual bool reads_from_memory() const { return false; }
    // heartbeat(), when it can be answered from memory; nullopt when it
    // would have to wait on I/O (call heartbeat() then).
    virtual std::optional<RegistryResult<Done>> heartbeat_from_memory(const UserId& user,
                                                                      const Token& token) {
        (void)user;
        (void)token;
        return std::nullopt;
    }

    // --- housekeeping --------------------------------------------------------

    // Deletes up to max_users expired peers, their holdings and follows, and
    // the files no one holds any more; then the heads no one has followed for
    // limits::kChannelRetention. Call again while it returns max_users.
    virtual SweepResult sweep(std::size_t max_users = 1000) = 0;
    // Makes the writes so far durable (a batching registry commits here).
    virtual void flush() = 0;
    // Flush everything exactly (shutdown).
    virtual void close() = 0;
    virtual RegistryStats stats() = 0;
};

}  // namespace seedshare::tracker
