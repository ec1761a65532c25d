#include "tracker/etcd/registry.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/core/limits.hpp"
#include "tracker/etcd/registry_detail.hpp"

namespace seedshare::tracker::etcd {

using nlohmann::json;
using namespace registry_detail;

EtcdRegistry::EtcdRegistry(EtcdClient& client, Options options, NowMs now_ms,
                           std::chrono::milliseconds ttl)
    : client_(client),
      options_(std::move(options)),
      prefix_("/seedshare/" + options_.cluster + "/"),
      now_ms_(std::move(now_ms)),
      ttl_(ttl),
      rng_(std::random_device{}()),
      table_(client, prefix_, WatchedTable::Options{}) {
    options_.max_txn_ops = std::max<std::size_t>(options_.max_txn_ops, 8);
    guarded(client_, [&] {
        table_.start();
        return 0;
    });
}

namespace {
// The revision of the latest write txn of the operation this thread runs
// (each registry call runs whole on one thread).
thread_local std::int64_t t_written = 0;
// How long a write waits for the local table to have its revision.
constexpr auto kSettleLimit = std::chrono::seconds(2);
}  // namespace

void EtcdRegistry::note(const json& r) {
    if (!r.value("succeeded", true)) return;
    const auto h = r.find("header");
    if (h != r.end()) t_written = std::max(t_written, number(*h, "revision"));
}

void EtcdRegistry::begin_write() {
    t_written = 0;
}

void EtcdRegistry::settle() {
    if (t_written > 0) table_.wait_for(t_written, kSettleLimit);
    t_written = 0;
}

EtcdRegistry::Peer EtcdRegistry::table_peer(const UserId& user) {
    return table_.read([&](const PeerTable& t) {
        Peer p;
        if (const auto* tp = t.peer(user); tp != nullptr && tp->has_record) {
            p.exists = true;
            p.token = tp->token;
            p.address = tp->address;
            p.port = tp->port;
            p.lease = tp->lease;
            p.mod = tp->mod;
            p.seen = tp->seen;
        }
        return p;
    });
}

EtcdRegistry::~EtcdRegistry() {
    try {
        flush();
    } catch (const std::exception&) {  // best effort
    }
}

std::string EtcdRegistry::key(std::string_view kind, std::string_view a, std::string_view b) const {
    std::string k = prefix_;
    k += kind;
    k += '/';
    k += a;
    if (!b.empty()) {
        k += '/';
        k += b;
    }
    return k;
}

std::chrono::seconds EtcdRegistry::lease_ttl() const {
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(ttl_).count() + 1;
    return std::chrono::seconds(s + std::max<std::int64_t>(5, s / 2));
}

bool EtcdRegistry::live(const Peer& p, std::int64_t at) const {
    return p.exists && p.seen >= 0 && p.seen >= at - ttl_.count();
}

std::map<UserId, EtcdRegistry::Peer> EtcdRegistry::read_peers(const std::vector<UserId>& users) {
    std::map<UserId, Peer> out;
    const std::size_t per = std::max<std::size_t>(1, options_.max_txn_ops / 2);
    for (std::size_t i = 0; i < users.size(); i += per) {
        json ops = json::array();
        const std::size_t end = std::min(users.size(), i + per);
        for (std::size_t k = i; k < end; ++k) {
            ops.push_back(op::get(key("u", users[k].hex())));
            ops.push_back(op::get(key("s", users[k].hex())));
        }
        const auto r = guarded(client_, [&] { return client_.txn(json::array(), ops); });
        const auto& resp = r.at("responses");
        for (std::size_t k = i; k < end; ++k) {
            Peer p;
            const auto u = kvs_of(resp.at(2 * (k - i)).at("response_range"));
            const auto s = kvs_of(resp.at(2 * (k - i) + 1).at("response_range"));
            if (!u.empty()) {
                p = parse_peer(u.front().value);
                p.mod = u.front().mod_revision;
            }
            if (!s.empty()) p.seen = parse_number(s.front().value);
            out[users[k]] = p;
        }
    }
    std::lock_guard lock(mutex_);
    for (auto& [user, p] : out) {
        const auto it = known_.find(user);
        if (it != known_.end() && p.exists && it->second.mod == p.mod)
            p.seen = std::max(p.seen, it->second.seen);
    }
    return out;
}

EtcdRegistry::Peer EtcdRegistry::read_peer(const UserId& user) {
    return read_peers({user}).begin()->second;
}

void EtcdRegistry::remember(const UserId& user, const Peer& p, std::int64_t seen) {
    std::lock_guard lock(mutex_);
    Known& k = known_[user];
    if (k.lease != p.lease || k.mod != p.mod) k.kept_alive = std::chrono::steady_clock::now();
    k.token = p.token;
    k.lease = p.lease;
    k.mod = p.mod;
    k.seen = std::max(k.seen, seen);
}

void EtcdRegistry::forget(const UserId& user) {
    std::lock_guard lock(mutex_);
    known_.erase(user);
}

std::optional<EtcdRegistry::Peer> EtcdRegistry::authorise_known(const UserId& user,
                                                                const Token& token,
                                                                std::int64_t at) {
    Peer p;
    {
        std::lock_guard lock(mutex_);
        const auto it = known_.find(user);
        if (it == known_.end() || it->second.token != token || it->second.seen < at - ttl_.count())
            return std::nullopt;
        it->second.seen = std::max(it->second.seen, at);
        it->second.dirty = true;
        p.exists = true;
        p.token = token;
        p.lease = it->second.lease;
        p.mod = it->second.mod;
        p.seen = it->second.seen;
    }
    table_.touch(user, p.mod, at);
    return p;
}

std::optional<EtcdRegistry::Peer> EtcdRegistry::authorise(const UserId& user, const Token& token,
                                                          bool fresh) {
    const std::int64_t at = now();
    if (!fresh)
        if (auto p = authorise_known(user, token, at)) return p;
    // The local table, else etcd (a peer that joined elsewhere a moment ago).
    Peer p = fresh ? read_peer(user) : table_peer(user);
    if (!fresh && (!live(p, at) || p.token != token)) p = read_peer(user);
    if (!live(p, at) || p.token != token) return std::nullopt;
    remember(user, p, at);
    table_.touch(user, p.mod, at);
    {
        std::lock_guard lock(mutex_);
        known_[user].dirty = true;
    }
    p.seen = at;
    return p;
}

bool EtcdRegistry::commit(const json& guard, const std::vector<json>& ops,
                          const std::vector<json>& tail) {
    std::vector<json> all_ops = ops;
    all_ops.insert(all_ops.end(), tail.begin(), tail.end());
    const std::size_t per = op::ops_per_txn(options_.max_txn_ops, all_ops);
    if (ops.empty() || all_ops.size() <= per) {
        const json all(all_ops);
        const auto r = guarded(client_, [&] { return client_.txn(guard, all); });
        if (!all.empty()) note(r);
        return r.value("succeeded", false);
    }
    for (std::size_t i = 0; i < ops.size(); i += per) {
        json chunk = json::array();
        for (std::size_t k = i; k < std::min(ops.size(), i + per); ++k)
            chunk.push_back(ops[k]);
        const auto r = guarded(client_, [&] { return client_.txn(guard, chunk); });
        if (!r.value("succeeded", false)) return false;
        note(r);
    }
    if (tail.empty()) return true;
    const auto r = guarded(client_, [&] { return client_.txn(guard, json(tail)); });
    note(r);
    return r.value("succeeded", false);
}

std::vector<std::string> EtcdRegistry::keys_under(const std::string& prefix) {
    std::vector<std::string> out;
    for (auto& kv : guarded(client_, [&] { return client_.get_prefix(prefix); }))
        out.push_back(kv.key.substr(prefix.size()));
    return out;
}

std::size_t EtcdRegistry::drop_orphans(const std::set<SeedId>& seeds) {
    std::vector<SeedId> list(seeds.begin(), seeds.end());
    std::size_t dropped = 0;
    const std::size_t per = options_.max_txn_ops;
    for (std::size_t i = 0; i < list.size(); i += per) {
        json ops = json::array();
        const std::size_t end = std::min(list.size(), i + per);
        for (std::size_t k = i; k < end; ++k)
            ops.push_back(op::get_prefix(key("h", list[k].hex()) + "/", 1, true));
        const auto r = guarded(client_, [&] { return client_.txn(json::array(), ops); });
        for (std::size_t k = i; k < end; ++k) {
            if (number(r.at("responses").at(k - i).at("response_range"), "count") != 0) continue;
            // Deleted only while still unheld (a holder added meanwhile keeps it).
            const std::string f = key("f", list[k].hex());
            const auto seed =
                guarded(client_, [&] { return client_.get(key("sd", list[k].hex())); });
            json guard = json::array({op::range_empty(key("h", list[k].hex()) + "/")});
            std::vector<json> del{op::del(f), op::del(key("sd", list[k].hex()))};
            const auto res = guarded(client_, [&] { return client_.txn(guard, json(del)); });
            if (!res.value("succeeded", false)) continue;
            if (number(res.at("responses").at(0).at("response_delete_range"), "deleted") > 0) {
                ++dropped;
                note(res);
            }
            if (seed) drop_blob(key("sd", list[k].hex()), seed->value);
        }
    }
    return dropped;
}

void EtcdRegistry::guard_sweeps(std::string key, std::string value) {
    sweep_guard_key_ = std::move(key);
    sweep_guard_value_ = std::move(value);
}

json EtcdRegistry::guard_of(json compares, bool sweeping) const {
    if (sweeping && !sweep_guard_key_.empty())
        compares.push_back(op::value_is(sweep_guard_key_, sweep_guard_value_));
    return compares;
}

EtcdRegistry::Dropped EtcdRegistry::drop_peer(const UserId& user, std::int64_t mod,
                                              std::vector<json> tail, bool sweeping) {
    Dropped d;
    const std::string u = user.hex();
    std::vector<json> ops;
    std::set<SeedId> seeds;
    for (const auto& s : keys_under(key("uh", u) + "/")) {
        if (auto id = SeedId::from_hex_string(s)) {
            seeds.insert(*id);
            ops.push_back(op::del(key("h", s, u)));
        }
    }
    std::size_t follows = 0;
    for (const auto& c : keys_under(key("uf", u) + "/")) {
        ops.push_back(op::del(key("fo", c, u)));
        ++follows;
    }
    ops.push_back(op::del_prefix(key("uh", u) + "/"));
    ops.push_back(op::del_prefix(key("uf", u) + "/"));
    if (!commit(guard_of(json::array({op::mod_is(key("u", u), mod)}), sweeping), ops, tail)) {
        d.ok = false;
        return d;
    }
    d.holdings = seeds.size();
    d.follows = follows;
    d.files = drop_orphans(seeds);
    return d;
}

RegistryResult<JoinResult> EtcdRegistry::join(const UserId& user, const Token& presented,
                                              const asio::ip::address& address, std::uint16_t port,
                                              bool backup) {
    begin_write();
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        const std::int64_t at = now();
        Peer p = read_peer(user);
        JoinResult out;
        const bool kept = p.exists && !presented.is_zero() && presented == p.token;
        if (!kept && live(p, at)) return RegistryError::of(RegistryErrc::kUserIdInUse);
        Peer next = p;
        next.exists = true;
        next.address = address;
        next.port = port;
        next.backup = backup;
        if (kept) {
            out.token = p.token;
            out.kept_token = true;
            if (p.lease == 0 ||
                !guarded(client_, [&] { return client_.keep_alive({p.lease}); }).empty())
                next.lease = guarded(client_, [&] { return client_.grant(lease_ttl()); });
        } else {
            out.token = random_token();
            next.token = out.token;
            next.lease = guarded(client_, [&] { return client_.grant(lease_ttl()); });
        }
        std::vector<json> record{op::put(key("u", user.hex()), format_peer(next), next.lease),
                                 op::put(key("s", user.hex()), format_number(at), next.lease)};
        bool ok = false;
        // One txn writes the record (two ops): its revision is u/'s mod.
        const bool one_txn = kept || !p.exists;
        if (one_txn) {
            ok = commit(json::array({op::mod_is(key("u", user.hex()), p.exists ? p.mod : 0)}),
                        record);
        } else {  // an expired owner's holdings and follows are not the new owner's
            ok = drop_peer(user, p.mod, record).ok;
        }
        if (!ok) {
            if (next.lease != p.lease)
                guarded(client_, [&] {
                    client_.revoke(next.lease);
                    return 0;
                });
            continue;  // changed meanwhile (another tracker): decide again
        }
        if (p.exists && p.lease != 0 && p.lease != next.lease)
            guarded(client_, [&] {
                client_.revoke(p.lease);
                return 0;
            });
        next.mod = one_txn && t_written > 0
                       ? t_written
                       : guarded(client_, [&] { return client_.get(key("u", user.hex())); })
                             .value_or(KeyValue{})
                             .mod_revision;
        forget(user);
        remember(user, next, at);
        settle();
        return out;
    }
    throw RegistryFailure("etcd: the peer's record kept changing during join");
}

RegistryResult<Done> EtcdRegistry::heartbeat(const UserId& user, const Token& token) {
    if (!authorise(user, token)) return RegistryError::of(RegistryErrc::kUnknownPeer);
    return Done{};
}

std::optional<RegistryResult<Done>> EtcdRegistry::heartbeat_from_memory(const UserId& user,
                                                                        const Token& token) {
    if (!authorise_known(user, token, now())) return std::nullopt;
    return RegistryResult<Done>(Done{});
}

bool EtcdRegistry::is_live(const UserId& user, const Token& token) {
    const std::int64_t at = now();
    {
        std::lock_guard lock(mutex_);
        const auto it = known_.find(user);
        if (it != known_.end() && it->second.token == token && it->second.seen >= at - ttl_.count())
            return true;
    }
    const Peer p = table_peer(user);
    return live(p, at) && p.token == token;
}

std::optional<Token> EtcdRegistry::token_of(const UserId& user) {
    const Peer p = table_peer(user);
    if (!p.exists) return std::nullopt;
    return p.token;
}

RegistryResult<Done> EtcdRegistry::leave(const UserId& user, const Token& token) {
    begin_write();
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        const auto p = authorise(user, token, attempt > 0);
        if (!p) return RegistryError::of(RegistryErrc::kUnknownPeer);
        forget(user);
        const std::vector<json> tail{op::del(key("u", user.hex())), op::del(key("s", user.hex()))};
        if (!drop_peer(user, p->mod, tail).ok) continue;
        if (p->lease != 0)
            guarded(client_, [&] {
                client_.revoke(p->lease);
                return 0;
            });
        settle();
        return Done{};
    }
    throw RegistryFailure("etcd: the peer's record kept changing during leave");
}

}  // namespace seedshare::tracker::etcd
