// The tracker's registry: who is live, what each peer holds, and the seed
// texts peers uploaded. An interface, so the handler and the server do not
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
// Threading: one thread at a time (the tracker's I/O thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/result.hpp"
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
    // are dropped.
    virtual RegistryResult<JoinResult> join(const UserId& user, const Token& presented,
                                            const asio::ip::address& address,
                                            std::uint16_t port) = 0;
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
    // Forgets the peer and its holdings now (kUnknownPeer: wrong token).
    virtual RegistryResult<Done> leave(const UserId& user, const Token& token) = 0;

    // --- reads ---------------------------------------------------------------

    // Up to min(numwant, limits::kMaxNumWant) live holders of `id` that serve
    // (port != 0), never `asker`, about equally likely each, shuffled.
    virtual std::vector<Holder> get_peers(const SeedId& id, const UserId& asker,
                                          std::uint16_t numwant) = 0;
    // Files in id order after `after` (from the start when nullopt), at least
    // 1 and at most min(limit, limits::kMaxListFilesPage), with their live
    // serving holders counted.
    virtual FilePage list_files(const std::optional<SeedId>& after, std::size_t limit) = 0;
    virtual std::optional<std::string> get_seed(const SeedId& id) = 0;
    // True when the userid is live with this token.
    virtual bool is_live(const UserId& user, const Token& token) = 0;
    // The token on record for a userid, live or not (operators and tests).
    virtual std::optional<Token> token_of(const UserId& user) = 0;

    // --- housekeeping --------------------------------------------------------

    // Deletes up to max_users expired peers, their holdings, and the files no
    // one holds any more. Call again while it returns max_users.
    virtual SweepResult sweep(std::size_t max_users = 1000) = 0;
    // Makes the writes so far durable (a batching registry commits here).
    virtual void flush() = 0;
    // Flush everything exactly (shutdown).
    virtual void close() = 0;
    virtual RegistryStats stats() = 0;
};

}  // namespace seedshare::tracker
