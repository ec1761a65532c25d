// The Registry (tracker/core/registry.hpp) kept in etcd, so that several
// trackers share one peer table. Keys, under "/seedshare/<cluster>/":
//
//   u/<user>            {"t": token, "a": address, "p": port, "l": lease}   leased
//   s/<user>            last_seen, 16 decimal digits                        leased
//   h/<seed>/<user>     "1" complete, "0" partial                           leased
//   uh/<user>/<seed>    ""  (the peer's holdings, by peer)                  leased
//   f/<seed>            {"n": name, "l": length}
//   sd/<seed>           the seed text (a blob: see put_blob)
//   fo/<chan>/<user>    the version the follower holds                      leased
//   uf/<user>/<chan>    the same, by peer                                   leased
//   c/<chan>            the head's summary {"v","b","n","f","s","u"}
//   m/<chan>            the head's text (a blob)
//
// A peer's keys live under its own etcd lease (TTL: the registry's TTL plus a
// margin), kept alive while it heartbeats: a peer no tracker hears from
// disappears from etcd by itself. Liveness in answers is still exact (the
// last_seen compare of the interface), so a fake clock drives the suite.
// Every write of a peer's keys is one txn guarded by the mod revision of its
// u/ key (a concurrent join elsewhere makes it retry); a channel head is
// replaced only by a txn comparing the head's mod revision it decided on.
//
// Heartbeats are the hot path: one whose peer this tracker already knows
// (token, lease) is answered from memory and its last_seen written at the
// next flush() (one txn for all of them, each guarded by its u/ revision);
// the lease keep-alive is sent at most every TTL/3 per peer.
//
// Reads (holders, followers, liveness, tokens, the file and channel
// listings, stats) are answered from a local copy of the table kept by an
// etcd watch (watch.hpp), without a round trip. A write returns once that
// copy has its revision, so a tracker reads its own writes at once; another
// tracker's writes arrive within the watch's delay. Writes that decide
// (join, file lists, follows, heads, leave) stay synchronous txns guarded by
// revisions, so the copy never decides anything etcd has not.
//
// Thread-safe: calls may come from several threads at once (the server runs
// those that may wait on etcd on a worker pool; the reads from the table and
// heartbeat_from_memory, which never wait on I/O, on its I/O thread). A
// failing etcd throws RegistryFailure.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include "tracker/core/registry.hpp"
#include "tracker/etcd/client.hpp"
#include "tracker/etcd/watch.hpp"

namespace seedshare::tracker::etcd {

class EtcdRegistry final : public Registry {
  public:
    struct Options {
        std::string cluster = "default";  // the key prefix's name
        // The most operations one txn carries; etcd's --max-txn-ops (128 by
        // default) must be at least this.
        std::size_t max_txn_ops = 128;
    };
    EtcdRegistry(EtcdClient& client, Options options, NowMs now_ms, std::chrono::milliseconds ttl);
    ~EtcdRegistry() override;

    std::chrono::milliseconds ttl() const override { return ttl_; }
    void set_ttl(std::chrono::milliseconds ttl) override { ttl_ = ttl; }

    RegistryResult<JoinResult> join(const UserId& user, const Token& presented,
                                    const asio::ip::address& address, std::uint16_t port,
                                    bool backup = false) override;
    RegistryResult<Done> heartbeat(const UserId& user, const Token& token) override;
    RegistryResult<FilesUpdated> update_files(const UserId& user, const Token& token,
                                              const FileChanges& changes) override;
    using Registry::put_seed;
    RegistryResult<Done> put_seed(const UserId& user, const Token& token, std::string_view text,
                                  const Result<ParsedSeed>& parsed) override;
    RegistryResult<Done> leave(const UserId& user, const Token& token) override;
    RegistryResult<Done> follow_channels(const UserId& user, const Token& token,
                                         const FollowChanges& changes) override;
    using Registry::put_manifest;
    RegistryResult<ManifestStored> put_manifest(const UserId& user, const Token& token,
                                                std::string_view text,
                                                const Result<ManifestSummary>& checked) override;

    std::vector<Holder> get_peers(const SeedId& id, const UserId& asker,
                                  std::uint16_t numwant) override;
    FilePage list_files(const std::optional<SeedId>& after, std::size_t limit) override;
    std::optional<std::string> get_seed(const SeedId& id) override;
    std::optional<std::string> get_manifest(const ChannelId& channel) override;
    std::vector<Follower> channel_peers(const ChannelId& channel, const UserId& asker,
                                        std::uint16_t numwant) override;
    ChannelPage list_channels(const std::optional<ChannelId>& after, std::size_t limit) override;
    bool is_live(const UserId& user, const Token& token) override;
    std::optional<Token> token_of(const UserId& user) override;

    // GetPeers, the listings, liveness and tokens come from the local table;
    // a heartbeat of a peer this tracker knows is answered from memory.
    bool reads_from_memory() const override { return true; }
    std::optional<RegistryResult<Done>> heartbeat_from_memory(const UserId& user,
                                                              const Token& token) override;

    SweepResult sweep(std::size_t max_users = 1000) override;
    void flush() override;
    void close() override;
    RegistryStats stats() override;

    // Every write of sweep() then also compares `key`'s value to `value`
    // (the cluster's leadership key): a tracker that is no longer the leader
    // sweeps nothing.
    void guard_sweeps(std::string key, std::string value);

    // The key prefix ("/seedshare/<cluster>/").
    const std::string& prefix() const { return prefix_; }
    // The local copy of the table (tests: its watch's state).
    const WatchedTable& table() const { return table_; }

    // A peer's record as kept in etcd (public for the implementation's helpers).
    struct Peer {
        bool exists = false;
        Token token;
        asio::ip::address address;
        std::uint16_t port = 0;
        bool backup = false;  // joined as a backup peer ("b" in the record)
        std::int64_t lease = 0;
        std::int64_t mod = 0;  // u/'s mod revision
        std::int64_t seen = -1;
    };

  private:
    // What this tracker remembers of a peer it served: enough to answer a
    // heartbeat without etcd.
    struct Known {
        Token token;
        std::int64_t lease = 0;
        std::int64_t mod = 0;
        std::int64_t seen = 0;
        std::chrono::steady_clock::time_point kept_alive;
        bool dirty = false;
    };

    std::string key(std::string_view kind, std::string_view a, std::string_view b = {}) const;
    std::map<UserId, Peer> read_peers(const std::vector<UserId>& users);
    Peer read_peer(const UserId& user);
    bool live(const Peer& p, std::int64_t now) const;
    // The peer when `token` is its live token (refreshing its last_seen), else nullopt.
    // `fresh`: read the peer from etcd, not from the cache or the local
    // table (a retry after a guard failed: both may lag behind etcd).
    std::optional<Peer> authorise(const UserId& user, const Token& token, bool fresh = false);
    // authorise() from what this tracker remembers only (no etcd, no wait):
    // nullopt when it does not know the peer live with this token.
    std::optional<Peer> authorise_known(const UserId& user, const Token& token, std::int64_t at);
    void remember(const UserId& user, const Peer& p, std::int64_t seen);
    void forget(const UserId& user);
    std::chrono::seconds lease_ttl() const;
    // Runs the ops in txns of at most max_txn_ops, each guarded by `guard`;
    // false when the guard failed (on the first txn: nothing changed).
    // `tail` (which may change the guarded key) goes in the last txn.
    bool commit(const nlohmann::json& guard, const std::vector<nlohmann::json>& ops,
                const std::vector<nlohmann::json>& tail = {});
    // Deletes f/ and sd/ of the seeds no one holds any more; answers how many.
    std::size_t drop_orphans(const std::set<SeedId>& seeds);
    // Deletes a peer's holdings and follows, then runs `tail` (its record's
    // deletion or replacement), all guarded by u/'s mod revision.
    struct Dropped {
        std::size_t holdings = 0, follows = 0, files = 0;
        bool ok = true;
    };
    Dropped drop_peer(const UserId& user, std::int64_t mod, std::vector<nlohmann::json> tail,
                      bool sweeping = false);
    nlohmann::json guard_of(nlohmann::json compares, bool sweeping) const;
    std::vector<std::string> keys_under(const std::string& prefix);
    // Long texts are split over several keys so no request exceeds etcd's limit.
    std::string put_blob(const std::string& base, std::string_view text);
    std::optional<std::string> read_blob(const std::string& base, const std::string& value);
    void drop_blob(const std::string& base, const std::string& value);
    // A write txn answered `r`: the calling thread's operation waits for its
    // revision in the local table before it returns (settle()).
    void note(const nlohmann::json& r);
    void begin_write();
    void settle();
    // The table's record of a peer, as a Peer (exists false: none).
    Peer table_peer(const UserId& user);
    std::int64_t now() const { return now_ms_(); }

    EtcdClient& client_;
    Options options_;
    std::string prefix_;
    NowMs now_ms_;
    std::chrono::milliseconds ttl_;
    std::mutex mutex_;  // known_, rng_
    std::map<UserId, Known> known_;
    std::mt19937_64 rng_;
    std::string sweep_guard_key_, sweep_guard_value_;  // set before use, then read-only
    WatchedTable table_;
};

}  // namespace seedshare::tracker::etcd
