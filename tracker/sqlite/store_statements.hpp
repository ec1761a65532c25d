// Inside the SQLite store (not for other users): the prepared statements of
// store.cpp and store_channels.cpp, and how ids and addresses become blobs.
#pragma once

#include <algorithm>

#include "common/core/bytes.hpp"
#include "tracker/sqlite/store.hpp"

namespace seedshare::tracker::store_detail {

inline RegistryError unknown_peer() {
    return RegistryError::of(RegistryErrc::kUnknownPeer);
}

inline Bytes address_bytes(const asio::ip::address& a) {
    Bytes out;
    if (a.is_v6()) {
        const auto b = a.to_v6().to_bytes();
        out.assign(b.begin(), b.end());
    } else {
        const auto b = a.to_v4().to_bytes();
        out.assign(b.begin(), b.end());
    }
    return out;
}

inline asio::ip::address address_from(ByteSpan b) {
    if (b.size() == 16) {
        asio::ip::address_v6::bytes_type v6{};
        std::copy(b.begin(), b.end(), v6.begin());
        return asio::ip::address_v6(v6);
    }
    asio::ip::address_v4::bytes_type v4{};
    if (b.size() == 4) std::copy(b.begin(), b.end(), v4.begin());
    return asio::ip::address_v4(v4);
}

template <class Id>
Id id_from(ByteSpan b) {
    Id id;
    if (b.size() == id.bytes.size()) std::copy(b.begin(), b.end(), id.bytes.begin());
    return id;
}

// A hand-over chain as stored: its ids, 32 bytes each, in order (NULL: none).
inline Bytes chain_blob(const std::vector<Digest>& chain) {
    Bytes out;
    out.reserve(chain.size() * Digest{}.bytes.size());
    for (const auto& id : chain)
        out.insert(out.end(), id.bytes.begin(), id.bytes.end());
    return out;
}
inline std::vector<Digest> chain_from_blob(ByteSpan b) {
    std::vector<Digest> chain;
    const std::size_t n = Digest{}.bytes.size();
    for (std::size_t at = 0; at + n <= b.size(); at += n)
        chain.push_back(id_from<Digest>(b.subspan(at, n)));
    return chain;
}

}  // namespace seedshare::tracker::store_detail

namespace seedshare::tracker {

struct Store::Statements {
    explicit Statements(sqlite::Db& db)
        : begin(db.prepare("BEGIN IMMEDIATE")),
          commit(db.prepare("COMMIT")),
          users_all(
              db.prepare("SELECT userid, token, address, port, last_seen, backup FROM users")),
          user_put(db.prepare(
              "INSERT INTO users (userid, address, port, token, last_seen, backup) "
              "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (userid) DO UPDATE SET "
              "address = excluded.address, port = excluded.port, token = excluded.token, "
              "last_seen = max(last_seen, excluded.last_seen), backup = excluded.backup")),
          user_seen(
              db.prepare("UPDATE users SET last_seen = max(last_seen, ?1) WHERE userid = ?2")),
          user_delete(db.prepare("DELETE FROM users WHERE userid = ?1")),
          candidates_of_user(db.prepare("INSERT OR IGNORE INTO temp.orphan_candidates (seed_id) "
                                        "SELECT seed_id FROM holdings WHERE userid = ?1")),
          candidate_add(
              db.prepare("INSERT OR IGNORE INTO temp.orphan_candidates (seed_id) VALUES (?1)")),
          holdings_delete_user(db.prepare("DELETE FROM holdings WHERE userid = ?1")),
          holding_delete(db.prepare("DELETE FROM holdings WHERE userid = ?1 AND seed_id = ?2")),
          file_insert(db.prepare("INSERT INTO files (seed_id, name, length) VALUES (?1, ?2, ?3) "
                                 "ON CONFLICT (seed_id) DO NOTHING")),
          holding_put(db.prepare("INSERT INTO holdings (userid, seed_id, complete) "
                                 "VALUES (?1, ?2, ?3) ON CONFLICT (userid, seed_id) "
                                 "DO UPDATE SET complete = excluded.complete")),
          file_has_seed(db.prepare("SELECT seed IS NOT NULL FROM files WHERE seed_id = ?1")),
          holdings_of_user(db.prepare("SELECT count(*) FROM holdings WHERE userid = ?1")),
          holds(db.prepare("SELECT 1 FROM holdings WHERE userid = ?1 AND seed_id = ?2")),
          holdings_all(db.prepare("SELECT userid, seed_id, complete FROM holdings")),
          seed_set(db.prepare("UPDATE files SET seed = ?2, name = ?3, length = ?4 "
                              "WHERE seed_id = ?1 AND seed IS NULL")),
          seed_get(db.prepare("SELECT seed FROM files WHERE seed_id = ?1 AND seed IS NOT NULL")),
          orphans_delete(db.prepare(
              "DELETE FROM files WHERE seed_id IN (SELECT seed_id FROM temp.orphan_candidates) "
              "AND NOT EXISTS (SELECT 1 FROM holdings h WHERE h.seed_id = files.seed_id)")),
          candidates_clear(db.prepare("DELETE FROM temp.orphan_candidates")),
          holders_of(db.prepare("SELECT userid, complete FROM holdings WHERE seed_id = ?1")),
          files_page(db.prepare("SELECT seed_id, name, length FROM files WHERE seed_id > ?1 "
                                "ORDER BY seed_id LIMIT ?2")),
          sweep_pick(db.prepare("INSERT OR IGNORE INTO temp.swept (userid) VALUES (?1)")),
          sweep_candidates(
              db.prepare("INSERT OR IGNORE INTO temp.orphan_candidates (seed_id) SELECT h.seed_id "
                         "FROM temp.swept s JOIN holdings h ON h.userid = s.userid")),
          sweep_holdings(
              db.prepare("DELETE FROM holdings WHERE userid IN (SELECT userid FROM temp.swept)")),
          sweep_users(
              db.prepare("DELETE FROM users WHERE userid IN (SELECT userid FROM temp.swept)")),
          swept_clear(db.prepare("DELETE FROM temp.swept")),
          follows_delete_user(db.prepare("DELETE FROM follows WHERE userid = ?1")),
          follow_delete(db.prepare("DELETE FROM follows WHERE userid = ?1 AND channel_id = ?2")),
          follow_put(db.prepare("INSERT INTO follows (userid, channel_id, version) "
                                "VALUES (?1, ?2, ?3) ON CONFLICT (userid, channel_id) "
                                "DO UPDATE SET version = excluded.version")),
          follows_of_user(db.prepare("SELECT count(*) FROM follows WHERE userid = ?1")),
          follows(db.prepare("SELECT 1 FROM follows WHERE userid = ?1 AND channel_id = ?2")),
          head_get(
              db.prepare("SELECT version, body_hash, chain FROM channels WHERE channel_id = ?1")),
          head_put(db.prepare(
              "INSERT INTO channels (channel_id, version, body_hash, name, files, size, "
              "manifest, unfollowed_since, chain) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, ?8) "
              "ON CONFLICT (channel_id) DO UPDATE SET version = excluded.version, "
              "body_hash = excluded.body_hash, name = excluded.name, files = excluded.files, "
              "size = excluded.size, manifest = excluded.manifest, unfollowed_since = NULL, "
              "chain = excluded.chain")),
          manifest_get(db.prepare("SELECT manifest FROM channels WHERE channel_id = ?1")),
          followers_from(db.prepare("SELECT userid, version FROM follows "
                                    "WHERE channel_id = ?1 AND userid >= ?2 ORDER BY userid")),
          followers_before(db.prepare("SELECT userid, version FROM follows "
                                      "WHERE channel_id = ?1 AND userid < ?2 ORDER BY userid")),
          followers_of(db.prepare("SELECT userid FROM follows WHERE channel_id = ?1")),
          channels_page(
              db.prepare("SELECT channel_id, version, body_hash, name, files, size, chain "
                         "FROM channels WHERE channel_id > ?1 ORDER BY channel_id LIMIT ?2")),
          sweep_follows(
              db.prepare("DELETE FROM follows WHERE userid IN (SELECT userid FROM temp.swept)")),
          // A head's retention starts when its last follow goes, and stops
          // when it is followed again.
          heads_unfollowed(db.prepare(
              "UPDATE channels SET unfollowed_since = ?1 WHERE unfollowed_since IS NULL AND "
              "NOT EXISTS (SELECT 1 FROM follows f WHERE f.channel_id = channels.channel_id)")),
          heads_followed(db.prepare(
              "UPDATE channels SET unfollowed_since = NULL WHERE unfollowed_since IS NOT NULL "
              "AND EXISTS (SELECT 1 FROM follows f WHERE f.channel_id = channels.channel_id)")),
          heads_expire(db.prepare("DELETE FROM channels WHERE unfollowed_since IS NOT NULL AND "
                                  "unfollowed_since < ?1")) {}

    sqlite::Statement begin, commit;
    sqlite::Statement users_all, user_put, user_seen, user_delete;
    sqlite::Statement candidates_of_user, candidate_add, holdings_delete_user, holding_delete;
    sqlite::Statement file_insert, holding_put, file_has_seed, holdings_of_user, holds;
    sqlite::Statement holdings_all;
    sqlite::Statement seed_set, seed_get, orphans_delete, candidates_clear;
    sqlite::Statement holders_of, files_page;
    sqlite::Statement sweep_pick, sweep_candidates, sweep_holdings, sweep_users, swept_clear;
    sqlite::Statement follows_delete_user, follow_delete, follow_put, follows_of_user, follows;
    sqlite::Statement head_get, head_put, manifest_get;
    sqlite::Statement followers_from, followers_before, followers_of, channels_page;
    sqlite::Statement sweep_follows, heads_unfollowed, heads_followed, heads_expire;
};

}  // namespace seedshare::tracker
