#include "tracker/sqlite/store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "common/core/limits.hpp"
#include "tracker/sqlite/store_statements.hpp"

namespace seedshare::tracker {

using sqlite::Use;
using namespace store_detail;

namespace {

// PRAGMA application_id: "SSTR", so a tracker never adopts someone else's db.
constexpr std::int64_t kApplicationId = 0x53535452;

// Tables. Ids and addresses are raw bytes; times are ms since the Unix epoch.
// holdings_by_seed covers the holders of a seed (list_files counts them, and
// orphaned files are found by it) without touching the holdings rows;
// get_peers reads the holdings from memory (holders_).
constexpr const char* kSchema = R"sql(
CREATE TABLE users (
    userid    BLOB PRIMARY KEY,   -- 16 bytes
    address   BLOB NOT NULL,      -- 4 (IPv4) or 16 (IPv6) bytes, from the socket
    port      INTEGER NOT NULL,   -- 0: does not serve
    token     BLOB NOT NULL,      -- 16 bytes, issued at join
    last_seen INTEGER NOT NULL    -- a checkpoint of the in-memory value (see store.hpp)
) WITHOUT ROWID;
CREATE TABLE files (
    seed_id BLOB PRIMARY KEY,     -- 32 bytes
    name    TEXT NOT NULL,
    length  INTEGER NOT NULL,
    seed    TEXT                  -- the seed text; NULL until a holder uploads it
);
CREATE TABLE holdings (
    userid   BLOB NOT NULL,
    seed_id  BLOB NOT NULL,
    complete INTEGER NOT NULL,    -- 1: the whole file; 0: some verified chunks
    PRIMARY KEY (userid, seed_id)
) WITHOUT ROWID;
CREATE INDEX holdings_by_seed ON holdings(seed_id, userid, complete);
)sql";

// Added in schema version 2 (a version 1 database gets them at open); the
// channels' chain column in version 3 (kChainColumn for a version 2 one),
// holding every id of the chain since version 4 (only the last before:
// fill_chains).
// Versions are u64 stored as their int64 bit pattern (compared in C++ only).
constexpr const char* kChannelSchema = R"sql(
CREATE TABLE channels (
    channel_id BLOB PRIMARY KEY,  -- 32 bytes: the channel's public key
    version    INTEGER NOT NULL,  -- the head's version
    body_hash  BLOB NOT NULL,     -- 32 bytes: the head's id (manifest body hash)
    name       TEXT NOT NULL,
    files      INTEGER NOT NULL,
    size       INTEGER NOT NULL,  -- bytes in all its files
    manifest   TEXT NOT NULL,     -- the head's text, as uploaded
    unfollowed_since INTEGER,     -- ms: when its last follow went; NULL while followed
    chain      BLOB               -- the head's hand-over chain ids, 32 bytes each; NULL: none
);
CREATE TABLE follows (
    userid     BLOB NOT NULL,
    channel_id BLOB NOT NULL,
    version    INTEGER NOT NULL,  -- the version the peer holds; 0: none yet
    PRIMARY KEY (userid, channel_id)
) WITHOUT ROWID;
CREATE INDEX follows_by_channel ON follows(channel_id, userid, version);
)sql";

// Added in schema version 3: whether the peer joined as a backup peer (every
// database gets it by ALTER), and the channels' chain column (in
// kChannelSchema; kChainColumn for a version 2 database).
constexpr const char* kBackupSchema =
    "ALTER TABLE users ADD COLUMN backup INTEGER NOT NULL DEFAULT 0;";
constexpr const char* kChainColumn = "ALTER TABLE channels ADD COLUMN chain BLOB";
// 3 -> 4: each head's whole chain (version 3 kept its last id), from its text.
void fill_chains(sqlite::Db& db) {
    std::vector<std::pair<Bytes, Bytes>> rows;
    {
        auto s = db.prepare("SELECT channel_id, manifest FROM channels WHERE chain IS NOT NULL");
        while (s.step()) {
            const ByteSpan id = s.blob(0);
            // A text that no longer parses keeps its last id (as before).
            if (const auto chain = chain_of(s.text(1)))
                rows.emplace_back(Bytes(id.begin(), id.end()), store_detail::chain_blob(*chain));
        }
    }
    auto put = db.prepare("UPDATE channels SET chain = ?2 WHERE channel_id = ?1");
    for (const auto& [id, chain] : rows) {
        put.bind_blob(1, id).bind_blob(2, chain);
        put.run();
        put.reset();
    }
}

// Per connection, in memory: scratch lists for the multi-statement deletes.
constexpr const char* kTempSchema = R"sql(
CREATE TEMP TABLE orphan_candidates (seed_id BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TEMP TABLE swept (userid BLOB PRIMARY KEY) WITHOUT ROWID;
)sql";

}  // namespace

Result<std::unique_ptr<Store>> Store::open(const std::string& path, NowMs now_ms,
                                           std::chrono::milliseconds ttl) {
    auto opened = sqlite::Db::open(path);
    if (!opened)
        return Error{fmt::format("cannot open database {}: {}", path, opened.error().message)};
    sqlite::Db db = std::move(*opened);
    const bool in_memory = path == ":memory:" || path.empty();
    try {
        // The tracker owns its database while it runs: a second tracker on the
        // same file fails at start instead of fighting over the write lock.
        if (!in_memory) db.exec("PRAGMA locking_mode = EXCLUSIVE");
        db.query_text("PRAGMA journal_mode = WAL");
        db.exec(
            "PRAGMA synchronous = NORMAL; PRAGMA temp_store = MEMORY; "
            "PRAGMA cache_size = -65536; PRAGMA foreign_keys = OFF");
        db.exec("BEGIN IMMEDIATE");  // takes the lock now (and keeps it, in EXCLUSIVE mode)
        const auto app_id = db.query_int("PRAGMA application_id");
        const auto version = db.query_int("PRAGMA user_version");
        const auto tables = db.query_int("SELECT count(*) FROM sqlite_schema WHERE type = 'table'");
        if (app_id == 0 && version == 0 && tables == 0) {
            db.exec(kSchema);
            db.exec(kChannelSchema);
            db.exec(kBackupSchema);
            db.exec(fmt::format("PRAGMA application_id = {}; PRAGMA user_version = {}",
                                kApplicationId, kSchemaVersion)
                        .c_str());
        } else if (app_id == kApplicationId && version >= 1 && version <= 3) {
            if (version == 1)
                db.exec(kChannelSchema);  // 1 -> 4: channels, with their chain column
            else if (version == 2)
                db.exec(kChainColumn);  // 2 -> 4: hand-over chains
            else
                fill_chains(db);                      // 3 -> 4: whole hand-over chains
            if (version < 3) db.exec(kBackupSchema);  // -> 3: backup peers
            db.exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion).c_str());
        } else if (app_id != kApplicationId) {
            db.exec("ROLLBACK");
            return Error{fmt::format("{} is not a seedshare tracker database", path)};
        } else if (version != kSchemaVersion) {
            db.exec("ROLLBACK");
            if (version > kSchemaVersion)
                return Error{fmt::format(
                    "database {} has schema version {}, newer than this tracker's {}: use a "
                    "newer tracker",
                    path, version, kSchemaVersion)};
            return Error{fmt::format("database {} has unknown schema version {} (this tracker: {})",
                                     path, version, kSchemaVersion)};
        }
        // Repairs files left without holders by an older or interrupted run.
        db.exec(
            "DELETE FROM files WHERE NOT EXISTS "
            "(SELECT 1 FROM holdings h WHERE h.seed_id = files.seed_id)");
        db.exec("COMMIT");
        db.exec(kTempSchema);
        return std::unique_ptr<Store>(new Store(std::move(db), path, std::move(now_ms), ttl));
    } catch (const sqlite::DbError& e) {
        if ((e.code & 0xff) == SQLITE_BUSY)
            return Error{fmt::format("database {} is locked (is another tracker using it?)", path)};
        if ((e.code & 0xff) == SQLITE_NOTADB)
            return Error{fmt::format("{} is not a database", path)};
        return Error{fmt::format("database {}: {}", path, e.what())};
    }
}

Store::Store(sqlite::Db db, std::string path, NowMs now_ms, std::chrono::milliseconds ttl)
    : db_(std::move(db)),
      path_(std::move(path)),
      now_ms_(std::move(now_ms)),
      ttl_(ttl),
      st_(std::make_unique<Statements>(db_)),
      rng_(std::random_device{}()) {
    load_users();
    load_holders();
}

Store::~Store() {
    try {
        close();
    } catch (const std::exception&) {
        // Nothing to report to: the writes since the last flush are lost,
        // which the batching already allows for.
    }
    st_.reset();  // finalize statements before the connection closes
}

void Store::load_users() {
    Use s(st_->users_all);
    while (s->step()) {
        User u;
        u.token = id_from<Token>(s->blob(1));
        u.address = address_from(s->blob(2));
        u.port = static_cast<std::uint16_t>(s->int64(3));
        u.last_seen = s->int64(4);
        u.backup = s->int64(5) != 0;
        u.stored_last_seen = u.last_seen;
        u.id = id_from<UserId>(s->blob(0));
        users_.emplace(u.id, u);
    }
    // While the tracker was down nobody could heartbeat to it: a peer live
    // when it stopped counts its silence from this start, as one that joined
    // now. Without that, a peer that heartbeated a little before the stop
    // would expire shortly after the restart, before its reconnect (at most
    // a heartbeat apart) could reach it, and come back with its next rejoin.
    // When it stopped is taken as the latest last_seen written (up to ttl/8
    // behind); peers already expired then stay expired (unless every peer
    // had gone silent: then all are counted live for a TTL). The grace stays
    // in memory, never written: only a heartbeat or a join moves the table's
    // last_seen, so restarts in a row cannot keep a dead peer listed once
    // live ones heartbeat past it.
    std::int64_t stopped = 0;
    for (const auto& [id, u] : users_)
        stopped = std::max(stopped, u.last_seen);
    const std::int64_t now = now_ms_();
    for (auto& [id, u] : users_)
        if (live(u, cutoff(stopped)) && u.last_seen < now) u.last_seen = now;
}

void Store::load_holders() {
    holders_.clear();
    Use s(st_->holdings_all);
    while (s->step()) {
        const auto it = users_.find(id_from<UserId>(s->blob(0)));
        if (it == users_.end()) continue;  // (no such row is ever written)
        holders_.put(id_from<SeedId>(s->blob(1)), &it->second, s->int64(2) != 0);
    }
}

Store::User* Store::touch(const UserId& user, const Token& token, std::int64_t now) {
    const auto it = users_.find(user);
    if (it == users_.end()) return nullptr;
    User& u = it->second;
    if (u.token != token || !live(u, cutoff(now))) return nullptr;
    if (now > u.last_seen) u.last_seen = now;
    // (last_seen may be ahead of the table without a heartbeat: a restart's
    // grace, which only a heartbeat's value replaces there.)
    if (u.last_seen != u.stored_last_seen) {
        u.dirty = true;
        // Worth a write once it moved a step (an eighth of the TTL): the
        // table's value is what a restart reads, and a TTL is long.
        if (!u.queued && u.last_seen - u.stored_last_seen >= write_step()) {
            u.queued = true;
            dirty_.push_back(user);
        }
    }
    return &u;
}

bool Store::is_live(const UserId& user, const Token& token) {
    const auto it = users_.find(user);
    return it != users_.end() && it->second.token == token && live(it->second, cutoff(now_ms_()));
}

std::optional<Token> Store::token_of(const UserId& user) {
    const auto it = users_.find(user);
    if (it == users_.end()) return std::nullopt;
    return it->second.token;
}

void Store::delete_orphans() {
    Use(st_->orphans_delete)->run();
    last_orphans_deleted_ = static_cast<std::size_t>(db_.changes());
    Use(st_->candidates_clear)->run();
}

RegistryResult<JoinResult> Store::join(const UserId& user, const Token& presented,
                                       const asio::ip::address& address, std::uint16_t port,
                                       bool backup) {
    const std::int64_t now = now_ms_();
    const auto it = users_.find(user);
    const bool known = it != users_.end();
    JoinResult out;
    if (known && !presented.is_zero() && presented == it->second.token) {
        out.token = it->second.token;
        out.kept_token = true;
    } else {
        if (known && live(it->second, cutoff(now)))
            return RegistryError::of(RegistryErrc::kUserIdInUse);
        out.token = random_token();
    }
    begin_write();
    sqlite::Savepoint sp(db_, "sp_join");
    if (known && !out.kept_token) {  // an expired owner's holdings are not the new owner's
        Use(st_->candidates_of_user)->bind_blob(1, user.span()).run();
        Use(st_->holdings_delete_user)->bind_blob(1, user.span()).run();
        Use(st_->follows_delete_user)->bind_blob(1, user.span()).run();
        delete_orphans();
    }
    const Bytes addr = address_bytes(address);
    Use(st_->user_put)
        ->bind_blob(1, user.span())
        .bind_blob(2, addr)
        .bind(3, std::int64_t{port})
        .bind_blob(4, out.token.span())
        .bind(5, now)
        .bind(6, std::int64_t{backup ? 1 : 0})
        .run();
    sp.commit();
    if (known && !out.kept_token) holders_.remove_all(&it->second);
    User& u = users_[user];
    u.id = user;
    u.token = out.token;
    u.address = address;
    u.port = port;
    u.backup = backup;
    u.last_seen = std::max(u.last_seen, now);
    u.stored_last_seen = u.last_seen;
    u.dirty = false;
    u.queued = false;
    note_write();
    return out;
}

RegistryResult<Done> Store::heartbeat(const UserId& user, const Token& token) {
    if (touch(user, token, now_ms_()) == nullptr) return unknown_peer();
    return Done{};  // reaches the users table at the next flush
}

RegistryResult<FilesUpdated> Store::update_files(const UserId& user, const Token& token,
                                                 const FileChanges& list) {
    User* const u = touch(user, token, now_ms_());
    if (u == nullptr) return unknown_peer();
    begin_write();
    sqlite::Savepoint sp(db_, "sp_files");
    if (list.replace_all) {
        Use(st_->candidates_of_user)->bind_blob(1, user.span()).run();
        Use(st_->holdings_delete_user)->bind_blob(1, user.span()).run();
    }
    for (const auto& id : list.remove) {
        Use(st_->candidate_add)->bind_blob(1, id.span()).run();
        Use(st_->holding_delete)->bind_blob(1, user.span()).bind_blob(2, id.span()).run();
    }
    FilesUpdated out;
    for (const auto& e : list.add) {
        Use(st_->file_insert)
            ->bind_blob(1, e.id.span())
            .bind(2, std::string_view(e.name))
            .bind(3, static_cast<std::int64_t>(e.length))
            .run();
        Use(st_->holding_put)
            ->bind_blob(1, user.span())
            .bind_blob(2, e.id.span())
            .bind(3, std::int64_t{e.complete ? 1 : 0})
            .run();
        Use has(st_->file_has_seed);
        has->bind_blob(1, e.id.span());
        if (has->step() && has->int64(0) == 0) out.need_seed.push_back(e.id);
    }
    std::int64_t held = 0;
    {
        Use s(st_->holdings_of_user);
        s->bind_blob(1, user.span());
        if (s->step()) held = s->int64(0);
    }
    if (held > static_cast<std::int64_t>(limits::kMaxFilesPerPeer))
        return RegistryError::too_many_files(static_cast<std::size_t>(held));
    delete_orphans();
    sp.commit();
    // The same changes in memory, in the same order, once they are in.
    if (list.replace_all) holders_.remove_all(u);
    for (const auto& id : list.remove)
        holders_.remove(id, u);
    for (const auto& e : list.add)
        holders_.put(e.id, u, e.complete);
    note_write();
    return out;
}

RegistryResult<Done> Store::put_seed(const UserId& user, const Token& token, std::string_view text,
                                     const Result<ParsedSeed>& parsed) {
    if (touch(user, token, now_ms_()) == nullptr) return unknown_peer();
    if (!parsed) return RegistryError::seed_unparsable(parsed.error().message);
    const SeedId& id = parsed->id;
    {
        Use s(st_->holds);
        s->bind_blob(1, user.span()).bind_blob(2, id.span());
        if (!s->step()) return RegistryError::seed_not_held(id);
    }
    begin_write();
    Use s(st_->seed_set);
    s->bind_blob(1, id.span())
        .bind(2, text)
        .bind(3, std::string_view(parsed->seed.name))
        .bind(4, static_cast<std::int64_t>(parsed->seed.length));
    s->run();
    note_write();
    return Done{};
}

RegistryResult<Done> Store::leave(const UserId& user, const Token& token) {
    const auto it = users_.find(user);
    if (it == users_.end() || it->second.token != token) return unknown_peer();
    begin_write();
    sqlite::Savepoint sp(db_, "sp_leave");
    Use(st_->candidates_of_user)->bind_blob(1, user.span()).run();
    Use(st_->holdings_delete_user)->bind_blob(1, user.span()).run();
    Use(st_->follows_delete_user)->bind_blob(1, user.span()).run();
    Use(st_->user_delete)->bind_blob(1, user.span()).run();
    delete_orphans();
    sp.commit();
    holders_.remove_all(&it->second);
    users_.erase(it);  // (its entry in dirty_, if any, is skipped at flush)
    note_write();
    return Done{};
}

UserId Store::random_start() {
    UserId start;
    for (std::size_t i = 0; i < start.bytes.size(); i += 8) {
        const std::uint64_t r = rng_();
        for (std::size_t k = 0; k < 8; ++k)
            start.bytes[i + k] = static_cast<std::uint8_t>(r >> (8 * k));
    }
    return start;
}

std::vector<Holder> Store::get_peers(const SeedId& id, const UserId& asker, std::uint16_t numwant) {
    std::vector<Holder> out, backups;
    const std::size_t want = std::min<std::size_t>(numwant, limits::kMaxNumWant);
    if (want == 0) return out;
    const std::int64_t since = cutoff(now_ms_());
    // Steps through the complete holders, then (if still short) the partial
    // ones, each in a random order (holders_), keeping live serving ones
    // (backup peers aside, at most `want` of them), and stops as soon as
    // there are enough for hand_out_holders: `want` complete others, or
    // `want` in all once partial ones are taken. Complete first, so many
    // partial holders cannot hide a complete one, nor the backup.
    for (const bool complete : {true, false}) {
        auto enough = [&] {
            return complete ? out.size() >= want : out.size() + backups.size() >= want;
        };
        if (enough()) break;
        holders_.visit(id, complete, rng_, [&](const User* u) {
            if (u->port == 0 || !live(*u, since) || u->id == asker) return true;
            auto& into = u->backup ? backups : out;
            if (into.size() < want)
                into.push_back(Holder{u->address, u->port, u->id, complete, u->backup});
            return !enough();
        });
    }
    std::shuffle(out.begin(), out.end(), rng_);
    std::shuffle(backups.begin(), backups.end(), rng_);
    return hand_out_holders(std::move(out), std::move(backups), want);
}

FilePage Store::list_files(const std::optional<SeedId>& after, std::size_t limit) {
    FilePage out;
    limit = std::clamp<std::size_t>(limit, 1, limits::kMaxListFilesPage);
    const std::int64_t since = cutoff(now_ms_());
    {
        Use s(st_->files_page);
        // The empty blob sorts before every id.
        s->bind_blob(1, after ? after->span() : ByteSpan())
            .bind(2, static_cast<std::int64_t>(limit + 1));
        while (s->step()) {
            if (out.files.size() == limit) {
                out.more = true;
                break;
            }
            FileSummary f;
            f.id = id_from<SeedId>(s->blob(0));
            f.name = s->text(1);
            f.length = static_cast<std::uint64_t>(s->int64(2));
            out.files.push_back(std::move(f));
        }
    }
    for (auto& f : out.files) {  // live serving holders, counted as get_peers picks them
        Use s(st_->holders_of);
        s->bind_blob(1, f.id.span());
        while (s->step()) {
            const auto it = users_.find(id_from<UserId>(s->blob(0)));
            if (it == users_.end() || it->second.port == 0 || !live(it->second, since)) continue;
            ++f.holders;
            if (s->int64(1) != 0) ++f.complete_holders;
        }
    }
    return out;
}

std::optional<std::string> Store::get_seed(const SeedId& id) {
    Use s(st_->seed_get);
    s->bind_blob(1, id.span());
    if (!s->step()) return std::nullopt;
    return s->text(0);
}

SweepResult Store::sweep(std::size_t max_users) {
    SweepResult out;
    const std::int64_t since = cutoff(now_ms_());
    std::vector<UserId> gone;
    for (const auto& [id, u] : users_) {
        if (gone.size() == max_users) break;
        if (!live(u, since)) gone.push_back(id);
    }
    if (gone.empty()) {
        out.channels = sweep_heads();
        return out;
    }
    begin_write();
    sqlite::Savepoint sp(db_, "sp_sweep");
    for (const auto& id : gone)
        Use(st_->sweep_pick)->bind_blob(1, id.span()).run();
    Use(st_->sweep_candidates)->run();
    Use(st_->sweep_holdings)->run();
    out.holdings = static_cast<std::size_t>(db_.changes());
    Use(st_->sweep_follows)->run();
    out.follows = static_cast<std::size_t>(db_.changes());
    Use(st_->sweep_users)->run();
    delete_orphans();
    out.files = last_orphans_deleted_;
    Use(st_->swept_clear)->run();
    sp.commit();
    for (const auto& id : gone) {
        const auto it = users_.find(id);
        holders_.remove_all(&it->second);
        users_.erase(it);
    }
    out.users = gone.size();
    if (out.users < max_users) out.channels = sweep_heads();  // the last step
    note_write();
    return out;
}

RegistryStats Store::stats() {
    RegistryStats s;
    const auto count = [&](const char* sql) {
        return static_cast<std::size_t>(db_.query_int(sql));
    };
    s.users = users_.size();
    const std::int64_t since = cutoff(now_ms_());
    for (const auto& [id, u] : users_)
        s.live_users += live(u, since) ? 1 : 0;
    s.files = count("SELECT count(*) FROM files");
    s.seeds = count("SELECT count(*) FROM files WHERE seed IS NOT NULL");
    s.holdings = count("SELECT count(*) FROM holdings");
    s.channels = count("SELECT count(*) FROM channels");
    s.follows = count("SELECT count(*) FROM follows");
    return s;
}

}  // namespace seedshare::tracker
