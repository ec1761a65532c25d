// The tracker's registry: who is live, what each peer holds, and the seed
// texts peers uploaded, in SQLite. All of the tracker's SQL lives in
// store.cpp. No network code: the server's sessions call it, and tests drive
// it directly on ":memory:" with a fake clock.
//
// Liveness is exact: a peer whose last sign of life (join, heartbeat, file
// list, seed upload) is older than the TTL is absent from every answer at
// once, because every answer filters on last_seen; sweep() only reclaims the
// space later.
//
// Users are also kept in memory (userid -> token, address, port, last_seen),
// loaded at open and written through on join and leave, so heartbeats touch
// no SQL and answers check liveness without a join. The users table's
// last_seen is a checkpoint of the in-memory one: written at a flush once it
// is ttl/8 behind (so a heartbeat rarely costs a write, and the WAL stays
// small), and exactly at close(). After a crash a peer may look up to ttl/8
// older than it was; its next heartbeat or rejoin (with its token) fixes it.
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
// sqlite::DbError when the database itself fails; refusals are values.
#pragma once

#include <asio/ip/address.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/core/ids.hpp"
#include "common/core/result.hpp"
#include "common/model/seed.hpp"
#include "common/wire/tracker_protocol.hpp"
#include "tracker/sqlite/sqlite.hpp"

namespace seedshare::tracker {

// Milliseconds since the Unix epoch: last_seen survives a restart, so the
// clock must be a wall clock (tests pass a fake one).
using NowMs = std::function<std::int64_t()>;
std::int64_t system_now_ms();

// The schema version this build writes and reads (PRAGMA user_version).
inline constexpr std::int64_t kSchemaVersion = 1;

// A value, or the refusal to send back to the peer.
template <class T>
using Answer = std::variant<T, tracker_proto::ErrorReply>;

// A seed text parsed and hashed, ready for put_seed.
struct ParsedSeed {
    Seed seed;
    SeedId id;
};
// CPU-heavy for big seeds (parse and SHA-256 of up to 9 MiB): the server runs
// it off the I/O thread.
Result<ParsedSeed> parse_seed_for_upload(std::string_view text);

struct JoinResult {
    Token token;
    bool kept_token = false;  // the peer presented the token it had: same identity
};

struct SweepResult {
    std::size_t users = 0;
    std::size_t holdings = 0;
    std::size_t files = 0;
};

struct StoreStats {
    std::size_t users = 0;  // rows, live or awaiting the sweep
    std::size_t live_users = 0;
    std::size_t files = 0;
    std::size_t seeds = 0;  // files whose seed text is known
    std::size_t holdings = 0;
};

class Store {
  public:
    // Opens or creates the database at `path` (":memory:" for tests). Refuses
    // a file that is not a seedshare tracker database or has a newer schema.
    static Result<std::unique_ptr<Store>> open(const std::string& path, NowMs now_ms,
                                               std::chrono::milliseconds ttl);
    ~Store();  // close(), best effort
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    std::chrono::milliseconds ttl() const { return ttl_; }
    void set_ttl(std::chrono::milliseconds ttl) { ttl_ = ttl; }

    // --- writes (those with a token refresh the peer's last_seen) ------------

    // A userid that is live keeps its token and is refused (UserIdInUse)
    // unless `presented` is that token. A known userid presenting its token
    // keeps it even when expired (e.g. after a tracker restart). Otherwise the
    // userid gets a fresh token, and any holdings left from an expired owner
    // are dropped.
    Answer<JoinResult> join(const UserId& user, const Token& presented,
                            const asio::ip::address& address, std::uint16_t port);
    // UnknownPeer when the peer is not live with this token.
    Answer<tracker_proto::OkReply> heartbeat(const UserId& user, const Token& token);
    // Replaces (replace_all) or changes the peer's holdings. Answers the added
    // ids whose seed text is unknown. Limit when the peer would hold more than
    // limits::kMaxFilesPerPeer files (nothing is changed then).
    Answer<tracker_proto::FileListOk> update_files(const UserId& user,
                                                   const tracker_proto::FileList& list);
    // Stores the seed text of a file the peer holds (SeedMismatch if the text
    // does not parse or the peer does not hold that seed). The first text
    // stored for an id stays; the name and length then come from it.
    Answer<tracker_proto::OkReply> put_seed(const UserId& user, const Token& token,
                                            std::string_view text);
    // The same with the text already parsed (the server parses big seeds off
    // the I/O thread).
    Answer<tracker_proto::OkReply> put_seed(const UserId& user, const Token& token,
                                            std::string_view text,
                                            const Result<ParsedSeed>& parsed);
    // Forgets the peer and its holdings now.
    Answer<tracker_proto::OkReply> leave(const UserId& user, const Token& token);

    // --- reads ---------------------------------------------------------------

    // Up to numwant live holders of `id` that serve (port != 0), never
    // `asker`: a window of the holders in userid order starting at a random
    // point (userids are random, so every holder is about equally likely),
    // shuffled.
    tracker_proto::Peers get_peers(const SeedId& id, const UserId& asker, std::uint16_t numwant);
    // Files in id order after `after` (from the start when nullopt), at most
    // `limit`, with their live serving holders.
    tracker_proto::Files list_files(const std::optional<SeedId>& after, std::size_t limit);
    std::optional<std::string> get_seed(const SeedId& id);
    // True when the userid is live with this token.
    bool is_live(const UserId& user, const Token& token);
    // The token on record for a userid, live or not (operators and tests).
    std::optional<Token> token_of(const UserId& user);

    // --- housekeeping --------------------------------------------------------

    // Deletes up to max_users expired peers, their holdings, and the files no
    // one holds any more. Call again while it returns max_users.
    SweepResult sweep(std::size_t max_users = 1000);
    // Commits the current batch (no-op when nothing is pending).
    void flush();
    // Flush with every last_seen written exactly (shutdown; the destructor
    // calls it).
    void close();
    // A write transaction is open (heartbeats alone do not open one).
    bool has_pending() const;
    StoreStats stats();
    const std::string& path() const { return path_; }

  private:
    struct Statements;
    struct User {
        Token token;
        asio::ip::address address;
        std::uint16_t port = 0;
        std::int64_t last_seen = 0;
        std::int64_t stored_last_seen = 0;  // the value in the users table
        bool dirty = false;                 // last_seen != stored_last_seen
    };
    Store(sqlite::Db db, std::string path, NowMs now_ms, std::chrono::milliseconds ttl);
    void load_users();
    void begin_write();
    std::int64_t cutoff(std::int64_t now) const { return now - ttl_.count(); }
    bool live(const User& u, std::int64_t since) const { return u.last_seen >= since; }
    // The live user with this token, its last_seen renewed; null if none.
    User* touch(const UserId& user, const Token& token, std::int64_t now);
    void write_last_seen(bool all);
    void commit();
    void delete_orphans();
    void note_write();

    sqlite::Db db_;
    std::string path_;
    NowMs now_ms_;
    std::chrono::milliseconds ttl_;
    std::unique_ptr<Statements> st_;
    std::unordered_map<UserId, User, FixedIdHash> users_;
    std::vector<UserId> dirty_;  // users whose last_seen changed since the last flush
    std::mt19937_64 rng_;
    std::size_t pending_writes_ = 0;
    std::size_t last_orphans_deleted_ = 0;
};

}  // namespace seedshare::tracker
