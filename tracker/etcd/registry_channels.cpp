// The etcd registry's channels (follows, heads), sweep and stats.
#include <algorithm>

#include "common/core/limits.hpp"
#include "tracker/etcd/registry.hpp"
#include "tracker/etcd/registry_detail.hpp"

namespace seedshare::tracker::etcd {

using nlohmann::json;
using namespace registry_detail;

namespace {

struct Head {
    ManifestSummary summary;
    bool chain_partial = false;  // written when heads kept only the chain's last id
    std::int64_t unfollowed_since = -1;
    std::int64_t mod = 0;
};

// `partial`: m.chain is only the last id of a head written before whole
// chains were kept, and is written back as such.
json format_head(const ManifestSummary& m, std::int64_t unfollowed_since, bool partial = false) {
    json j{
        {"v", std::to_string(m.version)}, {"b", m.body_hash.hex()}, {"n", m.name}, {"f", m.files},
        {"s", std::to_string(m.size)},    {"u", unfollowed_since}};
    if (partial && !m.chain.empty()) {
        j["h"] = m.chain.back().hex();
    } else if (!m.chain.empty()) {
        std::string ids;  // every id of the chain, in order; absent: none
        for (const auto& id : m.chain)
            ids += id.hex();
        j["c"] = ids;
    }
    return j;
}

Head parse_head(const ChannelId& channel, const KeyValue& kv) {
    const auto j = json::parse(kv.value, nullptr, false);
    Head h;
    try {
        h.summary.channel = channel;
        h.summary.version = std::stoull(j.at("v").get<std::string>());
        const auto body = Digest::from_hex_string(j.at("b").get<std::string>());
        if (!body) throw RegistryFailure("etcd: a channel head is malformed");
        h.summary.body_hash = *body;
        h.summary.name = j.at("n").get<std::string>();
        h.summary.files = j.at("f").get<std::uint32_t>();
        h.summary.size = std::stoull(j.at("s").get<std::string>());
        h.unfollowed_since = j.at("u").get<std::int64_t>();
        if (j.contains("c")) {
            const auto ids = j.at("c").get<std::string>();
            const std::size_t n = 2 * Digest{}.bytes.size();
            if (ids.empty() || ids.size() % n != 0 || ids.size() / n > limits::kMaxHandovers)
                throw RegistryFailure("etcd: a channel head is malformed");
            for (std::size_t at = 0; at < ids.size(); at += n) {
                const auto id = Digest::from_hex_string(std::string_view(ids).substr(at, n));
                if (!id) throw RegistryFailure("etcd: a channel head is malformed");
                h.summary.chain.push_back(*id);
            }
        } else if (j.contains("h")) {
            // Before whole chains were kept: the last id only (put_manifest
            // reads the chain from the head's text).
            const auto id = Digest::from_hex_string(j.at("h").get<std::string>());
            if (!id) throw RegistryFailure("etcd: a channel head is malformed");
            h.summary.chain = {*id};
            h.chain_partial = true;
        }
    } catch (const json::exception&) {
        throw RegistryFailure("etcd: a channel head is malformed");
    } catch (const std::logic_error&) {
        throw RegistryFailure("etcd: a channel head is malformed");
    }
    h.mod = kv.mod_revision;
    return h;
}

}  // namespace

RegistryResult<Done> EtcdRegistry::follow_channels(const UserId& user, const Token& token,
                                                   const FollowChanges& changes) {
    begin_write();
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        const auto p = authorise(user, token, attempt > 0);
        if (!p) return RegistryError::of(RegistryErrc::kUnknownPeer);
        const std::string u = user.hex();
        std::set<std::string> held;
        for (const auto& c : keys_under(key("uf", u) + "/"))
            held.insert(c);
        std::set<std::string> next = changes.replace_all ? std::set<std::string>{} : held;
        if (!changes.replace_all)
            for (const auto& r : changes.remove)
                next.erase(r.hex());
        for (const auto& a : changes.add)
            next.insert(a.channel.hex());
        if (next.size() > limits::kMaxChannelsPerPeer)
            return RegistryError::too_many_channels(next.size());
        std::vector<json> ops;
        for (const auto& c : held)
            if (!next.contains(c)) {
                ops.push_back(op::del(key("fo", c, u)));
                ops.push_back(op::del(key("uf", u, c)));
            }
        std::set<ChannelId> done;
        for (auto it = changes.add.rbegin(); it != changes.add.rend(); ++it) {
            if (!done.insert(it->channel).second) continue;
            const std::string c = it->channel.hex();
            const std::string v = std::to_string(it->version);
            ops.push_back(op::put(key("fo", c, u), v, p->lease));
            ops.push_back(op::put(key("uf", u, c), v, p->lease));
        }
        if (commit(json::array({op::mod_is(key("u", u), p->mod)}), ops)) {
            settle();
            return Done{};
        }
        forget(user);
    }
    throw RegistryFailure("etcd: the peer's record kept changing during a follow list");
}

RegistryResult<ManifestStored> EtcdRegistry::put_manifest(const UserId& user, const Token& token,
                                                          std::string_view text,
                                                          const Result<ManifestSummary>& checked) {
    begin_write();
    const auto p = authorise(user, token);
    if (!p) return RegistryError::of(RegistryErrc::kUnknownPeer);
    if (!checked) return RegistryError::manifest_invalid(checked.error().message);
    const ManifestSummary& m = *checked;
    const std::string c = m.channel.hex();
    if (!guarded(client_, [&] { return client_.get(key("fo", c, user.hex())); }))
        return RegistryError::about_manifest(RegistryErrc::kChannelNotFollowed, m.channel,
                                             m.version);
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        const auto kv = guarded(client_, [&] { return client_.get(key("c", c)); });
        std::optional<Head> head;
        if (kv) head = parse_head(m.channel, *kv);
        std::optional<ManifestVersion> hv;
        if (head) {
            auto chain = head->summary.chain;
            if (head->chain_partial)
                if (const auto text = get_manifest(m.channel))
                    if (auto whole = chain_of(*text)) chain = std::move(*whole);
            hv = head_version(head->summary.version, head->summary.body_hash, std::move(chain));
        }
        switch (change_of_head(hv, head_version(m.version, m.body_hash, m.chain))) {
            case HeadChange::kAlreadyHead:
                return ManifestStored::kAlreadyHead;
            case HeadChange::kStale:
                return RegistryError::about_manifest(RegistryErrc::kManifestStale, m.channel,
                                                     m.version, hv->number);
            case HeadChange::kConflictLost:
                return RegistryError::about_manifest(RegistryErrc::kManifestConflict, m.channel,
                                                     m.version, hv->number);
            case HeadChange::kHandedOver:
                return RegistryError::about_manifest(RegistryErrc::kManifestHandedOver, m.channel,
                                                     m.version, hv->number);
            case HeadChange::kReplace:
                break;
        }
        // Compare-and-swap: only over the head this decision was taken on.
        const std::string value = put_blob(key("m", c) + "/", text);
        const auto old = guarded(client_, [&] { return client_.get(key("m", c)); });
        const auto r = guarded(client_, [&] {
            return client_.txn(json::array({op::mod_is(key("c", c), head ? head->mod : 0)}),
                               json::array({op::put(key("c", c), format_head(m, -1).dump()),
                                            op::put(key("m", c), value)}));
        });
        if (r.value("succeeded", false)) {
            if (old) drop_blob(key("m", c) + "/", old->value);
            note(r);
            settle();
            return ManifestStored::kNewHead;
        }
        drop_blob(key("m", c) + "/", value);
    }
    throw RegistryFailure("etcd: the channel's head kept changing");
}

std::optional<std::string> EtcdRegistry::get_manifest(const ChannelId& channel) {
    const std::string base = key("m", channel.hex());
    const auto kv = guarded(client_, [&] { return client_.get(base); });
    if (!kv) return std::nullopt;
    return read_blob(base + "/", kv->value);
}

std::vector<Follower> EtcdRegistry::channel_peers(const ChannelId& channel, const UserId& asker,
                                                  std::uint16_t numwant) {
    const std::size_t want = std::min<std::size_t>(numwant, limits::kMaxNumWant);
    const std::int64_t at = now();
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return table_.read([&](const PeerTable& t) {
        return t.followers(channel, asker, want, at, ttl_.count(), rng);
    });
}

ChannelPage EtcdRegistry::list_channels(const std::optional<ChannelId>& after, std::size_t limit) {
    limit = std::clamp<std::size_t>(limit, 1, limits::kMaxListChannelsPage);
    const std::int64_t at = now();
    ChannelPage page;
    const auto rows = table_.read(
        [&](const PeerTable& t) { return t.heads(after, limit, page.more, at, ttl_.count()); });
    for (const auto& row : rows) {
        ChannelSummary s;
        s.head = parse_head(row.channel, KeyValue{key("c", row.channel.hex()), row.value, row.mod})
                     .summary;
        s.followers = row.followers;
        page.channels.push_back(std::move(s));
    }
    return page;
}

SweepResult EtcdRegistry::sweep(std::size_t max_users) {
    begin_write();
    SweepResult out;
    const std::int64_t at = now();
    // Peers silent for longer than the TTL (etcd ends their leases later),
    // checked again in etcd.
    const auto expired =
        table_.read([&](const PeerTable& t) { return t.expired(at, ttl_.count(), max_users); });
    for (const auto& [u, p] : read_peers(expired)) {
        if (!p.exists || live(p, at)) continue;
        forget(u);
        const std::vector<json> tail{op::del(key("u", u.hex())), op::del(key("s", u.hex()))};
        const auto d = drop_peer(u, p.mod, tail, true);
        if (!d.ok) continue;
        ++out.users;
        out.holdings += d.holdings;
        out.follows += d.follows;
        out.files += d.files;
    }
    // Heads: retention starts when the last follow goes, stops when followed again.
    const auto retention =
        std::chrono::duration_cast<std::chrono::milliseconds>(limits::kChannelRetention).count();
    const std::string base = prefix_ + "c/";
    for (const auto& kv : guarded(client_, [&] { return client_.get_prefix(base); })) {
        const auto id = ChannelId::from_hex_string(std::string_view(kv.key).substr(base.size()));
        if (!id) continue;
        Head h = parse_head(*id, kv);
        const std::string fo = key("fo", id->hex()) + "/";
        const auto r = guarded(client_, [&] {
            return client_.call("/v3/kv/range", op::get_prefix(fo, 1, true)["request_range"]);
        });
        const bool followed = number(r, "count") > 0;
        std::vector<json> ops;
        if (followed && h.unfollowed_since >= 0) {
            ops.push_back(op::put(kv.key, format_head(h.summary, -1, h.chain_partial).dump()));
        } else if (!followed && h.unfollowed_since < 0) {
            ops.push_back(op::put(kv.key, format_head(h.summary, at, h.chain_partial).dump()));
        } else if (!followed && h.unfollowed_since + retention < at) {
            ops.push_back(op::del(kv.key));
            ops.push_back(op::del(key("m", id->hex())));
            ops.push_back(op::del_prefix(key("m", id->hex()) + "/"));
            ++out.channels;
        }
        if (ops.empty()) continue;
        note(guarded(client_, [&] {
            return client_.txn(json::array({op::mod_is(kv.key, h.mod)}), json(ops));
        }));
    }
    settle();
    return out;
}

RegistryStats EtcdRegistry::stats() {
    const std::int64_t at = now();
    const auto c = table_.read([&](const PeerTable& t) { return t.counts(at, ttl_.count()); });
    RegistryStats st;
    st.users = c.users;
    st.live_users = c.live_users;
    st.files = c.files;
    st.seeds = c.seeds;
    st.holdings = c.holdings;
    st.channels = c.channels;
    st.follows = c.follows;
    return st;
}

}  // namespace seedshare::tracker::etcd
