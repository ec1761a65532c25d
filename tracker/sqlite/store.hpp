// The tracker's registry (tracker/core/registry.hpp) in SQLite: who is live,
// what each peer holds, and the seed texts peers uploaded. All of the
// tracker's SQL lives in store.cpp. No network code: the handler calls it
// through the Registry interface, and tests drive it directly on ":memory:"
// with a fake clock (test/registry_suite.hpp runs the shared cases on it).
//
// Liveness is exact: every answer filters on last_seen; sweep() only reclaims
// the space later.
//
// Users are also kept in memory (userid -> token, address, port, last_seen),
// loaded at open and written through on join and leave, so heartbeats touch
// no SQL and answers check liveness without a join. So are the holdings
// (holder_index.hpp), loaded at open and changed as the table is (once a
// change's savepoint is released), so GetPeers runs no SQL. The users table's
// last_seen is a checkpoint of the in-memory one: written at a flush once it
// is ttl/8 behind (so a heartbeat rarely costs a write, and the WAL stays
// small), and exactly at close(). After a crash a peer may look up to ttl/8
// older than it was; its next heartbeat or rejoin (with its token) fixes it.
// At open, the peers live when the tracker stopped (judged by the latest
// last_seen in the table) have their silence counted from the open: they
// could not reach a stopped tracker, and each rejoins within a heartbeat.
// That grace is kept in memory only; the table keeps what was heard.
//
// Batching: writes go into one open transaction that flush() commits; the
// server calls flush() every commit interval (50 ms) and at shutdown, and the
// destructor flushes too. Each multi-statement change runs in a savepoint
// inside it, so it is all-or-nothing. A crash loses at most the writes since
// the last flush: heartbeats (peers look a little older), joins and file
// lists (the peers' next request gets UnknownPeer, and they rejoin and send
// their whole list again).
//
// Threading: one thread at a time (the tracker's I/O thread). Methods throw
// sqlite::DbError (a RegistryFailure) when the database itself fails;
// refusals are values.
#pragma once

#include <asio/ip/address.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/core/ids.hpp"
#include "common/core/result.hpp"
#include "tracker/core/registry.hpp"
#include "tracker/sqlite/holder_index.hpp"
#include "tracker/sqlite/sqlite.hpp"

namespace seedshare::tracker {

// The schema version this build writes and reads (PRAGMA user_version).
inline constexpr std::int64_t kSchemaVersion = 4;

// Kept for the tests and tools that name it.
using StoreStats = RegistryStats;

class Store final : public Registry {
  public:
    // Opens or creates the database at `path` (":memory:" for tests). Refuses
    // a file that is not a seedshare tracker database or has a newer schema.
    static Result<std::unique_ptr<Store>> open(const std::string& path, NowMs now_ms,
                                               std::chrono::milliseconds ttl);
    ~Store() override;  // close(), best effort
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    std::chrono::milliseconds ttl() const override { return ttl_; }
    void set_ttl(std::chrono::milliseconds ttl) override { ttl_ = ttl; }

    // The Registry operations (see registry.hpp for what each promises).
    RegistryResult<JoinResult> join(const UserId& user, const Token& presented,
                                    const asio::ip::address& address, std::uint16_t port,
                                    bool backup = false) override;
    // Touches no SQL: last_seen reaches the users table at a later flush.
    RegistryResult<Done> heartbeat(const UserId& user, const Token& token) override;
    RegistryResult<FilesUpdated> update_files(const UserId& user, const Token& token,
                                              const FileChanges& changes) override;
    using Registry::put_seed;
    RegistryResult<Done> put_seed(const UserId& user, const Token& token, std::string_view text,
                                  const Result<ParsedSeed>& parsed) override;
    RegistryResult<Done> leave(const UserId& user, const Token& token) override;
    // (channels: store_channels.cpp)
    RegistryResult<Done> follow_channels(const UserId& user, const Token& token,
                                         const FollowChanges& changes) override;
    using Registry::put_manifest;
    RegistryResult<ManifestStored> put_manifest(const UserId& user, const Token& token,
                                                std::string_view text,
                                                const Result<ManifestSummary>& checked) override;

    // get_peers reads the holders kept in memory (holders_) in a uniformly
    // random order (tracker/core/random_visit.hpp), complete ones first.
    std::vector<Holder> get_peers(const SeedId& id, const UserId& asker,
                                  std::uint16_t numwant) override;
    FilePage list_files(const std::optional<SeedId>& after, std::size_t limit) override;
    std::optional<std::string> get_seed(const SeedId& id) override;
    std::optional<std::string> get_manifest(const ChannelId& channel) override;
    // A window of the followers in userid order from a random point (userids
    // are random, so every follower is about equally likely), shuffled.
    std::vector<Follower> channel_peers(const ChannelId& channel, const UserId& asker,
                                        std::uint16_t numwant) override;
    ChannelPage list_channels(const std::optional<ChannelId>& after, std::size_t limit) override;
    bool is_live(const UserId& user, const Token& token) override;
    std::optional<Token> token_of(const UserId& user) override;

    SweepResult sweep(std::size_t max_users = 1000) override;
    // Commits the current batch (no-op when nothing is pending).
    void flush() override;
    // Flush with every last_seen written exactly (shutdown; the destructor
    // calls it).
    void close() override;
    RegistryStats stats() override;

    // A write transaction is open (heartbeats alone do not open one).
    bool has_pending() const;
    // How many last_seen UPDATEs it has run so far (a batch that fails to
    // commit rolls back some of them).
    std::uint64_t last_seen_writes() const { return last_seen_writes_; }
    const std::string& path() const { return path_; }

  private:
    struct Statements;
    struct User {
        UserId id;  // its key in users_
        Token token;
        asio::ip::address address;
        std::uint16_t port = 0;
        bool backup = false;  // joined as a backup peer
        std::int64_t last_seen = 0;
        std::int64_t stored_last_seen = 0;  // the value in the users table
        bool dirty = false;                 // a heartbeat moved last_seen from stored_last_seen
        bool queued = false;                // in dirty_: moved far enough to be worth a write
    };
    Store(sqlite::Db db, std::string path, NowMs now_ms, std::chrono::milliseconds ttl);
    void load_users();
    // The holdings table into holders_ (at open).
    void load_holders();
    void begin_write();
    std::int64_t cutoff(std::int64_t now) const { return now - ttl_.count(); }
    bool live(const User& u, std::int64_t since) const { return u.last_seen >= since; }
    // The live user with this token, its last_seen renewed; null if none.
    User* touch(const UserId& user, const Token& token, std::int64_t now);
    void write_last_seen(bool all);
    void commit();
    void delete_orphans();
    // Starts and stops the retention of heads as their follows come and go,
    // and deletes the heads past it; returns how many.
    std::size_t sweep_heads();
    UserId random_start();
    void note_write();

    sqlite::Db db_;
    std::string path_;
    NowMs now_ms_;
    std::chrono::milliseconds ttl_;
    std::unique_ptr<Statements> st_;
    // Its nodes never move: holders_ points at them.
    std::unordered_map<UserId, User, FixedIdHash> users_;
    // The holdings in memory, for get_peers: each points at its user in
    // users_, and a user's holdings leave (remove_all) before the user goes.
    // Changed as the table is, once a change's savepoint is released; a
    // batch that fails to commit leaves them ahead of the table, as it
    // leaves users_ (the next start reads the table).
    HolderIndex<const User*> holders_;
    // Users whose last_seen moved by a heartbeat at least write_step() past
    // the table's: what the next flush writes. Only those: a flush every
    // 50 ms that went through every user heartbeating (all of them, at
    // 19,000 peers: 380,000 lookups a second) took a fifth of the
    // tracker's time and held its thread for milliseconds at a time.
    std::vector<UserId> dirty_;
    std::int64_t write_step() const { return ttl_.count() / 8; }
    std::mt19937_64 rng_;
    std::size_t pending_writes_ = 0;
    std::uint64_t last_seen_writes_ = 0;
    std::size_t last_orphans_deleted_ = 0;
};

}  // namespace seedshare::tracker
