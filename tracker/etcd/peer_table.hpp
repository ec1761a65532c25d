// A tracker's local copy of the cluster's peer table (pure: no I/O, no
// threads). Fed in revision order by an etcd watch of the registry's prefix
// (tracker/etcd/watch.*): a full listing (reset), then every change (apply).
// Reads that peers make often (who holds a seed, who follows a channel, is
// this token live, the file and channel listings' counts) are answered from
// it, so they cost no etcd round trip.
//
// It keeps the keys of the layout in registry.hpp that answers need: u/
// (records), s/ (last seen), h/ (holders), fo/ (followers), f/ (files) and c/
// (channel heads, kept as their raw values). Others (blobs, by-peer indexes,
// cluster keys) are ignored. A value that does not parse drops the key's
// entry and is counted (malformed()), never thrown.
//
// Liveness is the registry's rule: last seen + TTL >= now. touch() lets the
// tracker record a heartbeat it answered before it reaches etcd.
//
// Not thread-safe: the registry guards it.
#pragma once

#include <asio/ip/address.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/core/ids.hpp"
#include "tracker/core/registry_types.hpp"

namespace seedshare::tracker::etcd {

// One change a watch reports (key and value decoded).
struct WatchEvent {
    bool put = true;  // false: the key was deleted
    std::string key;
    std::string value;
    std::int64_t mod_revision = 0;
};

// A peer's record (u/) and last sign of life (s/, or a heartbeat answered here).
struct TablePeer {
    bool has_record = false;
    Token token;
    asio::ip::address address;
    std::uint16_t port = 0;
    bool backup = false;  // joined as a backup peer ("b" in the record)
    std::int64_t lease = 0;
    std::int64_t mod = 0;  // u/'s mod revision
    std::int64_t seen = -1;
};

// A file as f/ describes it.
struct TableFile {
    std::string name;
    std::uint64_t length = 0;
    bool has_seed = false;
};

class PeerTable {
  public:
    explicit PeerTable(std::string prefix);

    // Replaces everything with a listing taken at `revision` (the watch then
    // resumes at revision + 1).
    void reset(const std::vector<WatchEvent>& listing, std::int64_t revision);
    // One change, in revision order. Events at or below revision() are
    // ignored (a watch resumed from an earlier point repeats some).
    void apply(const WatchEvent& e);
    // The revision every change up to which has been applied.
    std::int64_t revision() const { return revision_; }
    // All changes up to `revision` are applied (events end, progress notify).
    void advance(std::int64_t revision);

    // A heartbeat answered here: the peer's last seen is at least `seen`
    // while its record is the one of mod revision `mod`.
    void touch(const UserId& user, std::int64_t mod, std::int64_t seen);

    const TablePeer* peer(const UserId& user) const;
    bool live(const TablePeer& p, std::int64_t now, std::int64_t ttl_ms) const;

    // Up to `want` live serving holders of `seed`, never `asker`, shuffled.
    std::vector<Holder> holders(const SeedId& seed, const UserId& asker, std::size_t want,
                                std::int64_t now, std::int64_t ttl_ms, std::mt19937_64& rng) const;
    std::vector<Follower> followers(const ChannelId& channel, const UserId& asker, std::size_t want,
                                    std::int64_t now, std::int64_t ttl_ms,
                                    std::mt19937_64& rng) const;
    // Files in id order after `after`, at most `limit` (+ more), with live
    // serving holders counted.
    FilePage files(const std::optional<SeedId>& after, std::size_t limit, std::int64_t now,
                   std::int64_t ttl_ms) const;
    // The raw c/ values of up to `limit` channels after `after` (+ more), each
    // with its live followers counted.
    struct HeadRow {
        ChannelId channel;
        std::string value;
        std::int64_t mod = 0;
        std::uint32_t followers = 0;
    };
    std::vector<HeadRow> heads(const std::optional<ChannelId>& after, std::size_t limit, bool& more,
                               std::int64_t now, std::int64_t ttl_ms) const;
    // Records whose last seen is older than the TTL (at most `max`).
    std::vector<UserId> expired(std::int64_t now, std::int64_t ttl_ms, std::size_t max) const;

    struct Counts {
        std::size_t users = 0, live_users = 0, files = 0, seeds = 0, holdings = 0, channels = 0,
                    follows = 0;
    };
    Counts counts(std::int64_t now, std::int64_t ttl_ms) const;
    std::size_t malformed() const { return malformed_; }

  private:
    // Members of one seed or channel: a vector to sample from (each member
    // with its value, so a draw needs no lookup), an index to remove in O(1).
    template <class V>
    struct Members {
        std::vector<std::pair<UserId, V>> entries;
        std::unordered_map<UserId, std::size_t, FixedIdHash> index;
        void set(const UserId& u, V v);
        void erase(const UserId& u);
    };
    void change(const WatchEvent& e);
    void put(std::string_view kind, std::string_view a, std::string_view b, const WatchEvent& e);
    void del(std::string_view kind, std::string_view a, std::string_view b);
    void drop_peer_if_empty(const UserId& u);
    // The peer, when it is live and serves; null otherwise.
    const TablePeer* serving_live(const UserId& u, std::int64_t now, std::int64_t ttl_ms) const;

    std::string prefix_;
    std::int64_t revision_ = 0;
    std::size_t malformed_ = 0;
    std::unordered_map<UserId, TablePeer, FixedIdHash> peers_;
    std::unordered_map<SeedId, Members<bool>, FixedIdHash> holders_;
    std::unordered_map<ChannelId, Members<std::uint64_t>, FixedIdHash> followers_;
    std::map<SeedId, TableFile> files_;
    std::map<ChannelId, std::pair<std::string, std::int64_t>> heads_;
    std::size_t holdings_ = 0, follows_ = 0;
};

}  // namespace seedshare::tracker::etcd
