#include "tracker/etcd/peer_table.hpp"

#include "tracker/core/random_visit.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>

namespace seedshare::tracker::etcd {

using nlohmann::json;

namespace {

std::optional<std::int64_t> decimal(std::string_view text) {
    std::int64_t n = 0;
    const auto* end = text.data() + text.size();
    const auto [p, ec] = std::from_chars(text.data(), end, n);
    if (ec != std::errc{} || p != end || n < 0 || text.empty()) return std::nullopt;
    return n;
}

std::optional<TablePeer> parse_record(std::string_view text) {
    const auto j = json::parse(text, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    try {
        TablePeer p;
        const auto token = Token::from_hex_string(j.at("t").get<std::string>());
        if (!token) return std::nullopt;
        p.token = *token;
        asio::error_code ec;
        p.address = asio::ip::make_address(j.at("a").get<std::string>(), ec);
        if (ec) return std::nullopt;
        p.port = j.at("p").get<std::uint16_t>();
        const auto lease = decimal(j.at("l").get<std::string>());
        if (!lease) return std::nullopt;
        p.lease = *lease;
        // "b": true for a backup peer; absent otherwise (and in records
        // written before it existed).
        if (j.contains("b")) p.backup = j.at("b").get<bool>();
        p.has_record = true;
        return p;
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

std::optional<TableFile> parse_file(std::string_view text) {
    const auto j = json::parse(text, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    try {
        return TableFile{j.at("n").get<std::string>(), j.at("l").get<std::uint64_t>(),
                         j.value("s", false)};
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

// Draws from `entries` in random order (random_visit.hpp: nothing copied)
// until `want` are taken or all were seen. (It shuffled a copy
// of every member per request before: 1.6 MB for a seed of 100,000 holders.)
template <class Entry, class Take>
void sample(const std::vector<Entry>& entries, std::size_t want, std::mt19937_64& rng, Take take) {
    if (want == 0) return;
    std::size_t taken = 0;
    visit_in_random_order(entries.size(), rng, [&](std::size_t i) {
        if (take(entries[i])) ++taken;
        return taken < want;
    });
}

}  // namespace

template <class V>
void PeerTable::Members<V>::set(const UserId& u, V v) {
    const auto it = index.find(u);
    if (it != index.end()) {
        entries[it->second].second = v;
        return;
    }
    index.emplace(u, entries.size());
    entries.emplace_back(u, v);
}

template <class V>
void PeerTable::Members<V>::erase(const UserId& u) {
    const auto it = index.find(u);
    if (it == index.end()) return;
    const std::size_t at = it->second;
    index.erase(it);
    if (at + 1 != entries.size()) {
        entries[at] = entries.back();
        index.at(entries[at].first) = at;
    }
    entries.pop_back();
}

PeerTable::PeerTable(std::string prefix) : prefix_(std::move(prefix)) {}

void PeerTable::reset(const std::vector<WatchEvent>& listing, std::int64_t revision) {
    peers_.clear();
    holders_.clear();
    followers_.clear();
    files_.clear();
    heads_.clear();
    holdings_ = follows_ = 0;
    for (const auto& e : listing)  // key order, not revision order
        change(e);
    revision_ = revision;
}

void PeerTable::advance(std::int64_t revision) {
    revision_ = std::max(revision_, revision);
}

void PeerTable::apply(const WatchEvent& e) {
    if (e.mod_revision != 0 && e.mod_revision <= revision_) return;
    change(e);
    // Events of one revision come together: the next revision starts later.
    if (e.mod_revision > 0) revision_ = std::max(revision_, e.mod_revision - 1);
}

void PeerTable::change(const WatchEvent& e) {
    if (!e.key.starts_with(prefix_)) return;
    std::string_view rest = std::string_view(e.key).substr(prefix_.size());
    const auto slash = rest.find('/');
    if (slash != std::string_view::npos) {
        const std::string_view kind = rest.substr(0, slash);
        rest = rest.substr(slash + 1);
        const auto second = rest.find('/');
        const std::string_view a = rest.substr(0, second);
        const std::string_view b =
            second == std::string_view::npos ? std::string_view{} : rest.substr(second + 1);
        if (e.put)
            put(kind, a, b, e);
        else
            del(kind, a, b);
    }
}

void PeerTable::put(std::string_view kind, std::string_view a, std::string_view b,
                    const WatchEvent& e) {
    if (kind == "u" && b.empty()) {
        const auto u = UserId::from_hex_string(a);
        if (!u) return;
        auto rec = parse_record(e.value);
        if (!rec) {
            ++malformed_;
            del(kind, a, b);
            return;
        }
        TablePeer& p = peers_[*u];
        rec->seen = p.seen;
        rec->mod = e.mod_revision;
        p = *rec;
    } else if (kind == "s" && b.empty()) {
        const auto u = UserId::from_hex_string(a);
        const auto seen = decimal(e.value);
        if (!u) return;
        if (!seen) {
            ++malformed_;
            return;
        }
        TablePeer& p = peers_[*u];
        p.seen = std::max(p.seen, *seen);
    } else if (kind == "h") {
        const auto s = SeedId::from_hex_string(a);
        const auto u = UserId::from_hex_string(b);
        if (!s || !u) return;
        auto& m = holders_[*s];
        if (!m.index.contains(*u)) ++holdings_;
        m.set(*u, e.value == "1");
    } else if (kind == "fo") {
        const auto c = ChannelId::from_hex_string(a);
        const auto u = UserId::from_hex_string(b);
        const auto v = decimal(e.value);
        if (!c || !u) return;
        if (!v) {
            ++malformed_;
            return;
        }
        auto& m = followers_[*c];
        if (!m.index.contains(*u)) ++follows_;
        m.set(*u, static_cast<std::uint64_t>(*v));
    } else if (kind == "f" && b.empty()) {
        const auto s = SeedId::from_hex_string(a);
        if (!s) return;
        auto f = parse_file(e.value);
        if (!f) {
            ++malformed_;
            files_.erase(*s);
            return;
        }
        files_[*s] = std::move(*f);
    } else if (kind == "c" && b.empty()) {
        const auto c = ChannelId::from_hex_string(a);
        if (c) heads_[*c] = {e.value, e.mod_revision};
    }
}

void PeerTable::del(std::string_view kind, std::string_view a, std::string_view b) {
    if (kind == "u" && b.empty()) {
        if (const auto u = UserId::from_hex_string(a)) {
            const auto it = peers_.find(*u);
            if (it != peers_.end()) {
                it->second.has_record = false;
                drop_peer_if_empty(*u);
            }
        }
    } else if (kind == "s" && b.empty()) {
        if (const auto u = UserId::from_hex_string(a)) {
            const auto it = peers_.find(*u);
            if (it != peers_.end()) {
                it->second.seen = -1;
                drop_peer_if_empty(*u);
            }
        }
    } else if (kind == "h") {
        const auto s = SeedId::from_hex_string(a);
        const auto u = UserId::from_hex_string(b);
        if (!s || !u) return;
        const auto it = holders_.find(*s);
        if (it == holders_.end() || !it->second.index.contains(*u)) return;
        it->second.erase(*u);
        --holdings_;
        if (it->second.entries.empty()) holders_.erase(it);
    } else if (kind == "fo") {
        const auto c = ChannelId::from_hex_string(a);
        const auto u = UserId::from_hex_string(b);
        if (!c || !u) return;
        const auto it = followers_.find(*c);
        if (it == followers_.end() || !it->second.index.contains(*u)) return;
        it->second.erase(*u);
        --follows_;
        if (it->second.entries.empty()) followers_.erase(it);
    } else if (kind == "f" && b.empty()) {
        if (const auto s = SeedId::from_hex_string(a)) files_.erase(*s);
    } else if (kind == "c" && b.empty()) {
        if (const auto c = ChannelId::from_hex_string(a)) heads_.erase(*c);
    }
}

void PeerTable::drop_peer_if_empty(const UserId& u) {
    const auto it = peers_.find(u);
    if (it != peers_.end() && !it->second.has_record && it->second.seen < 0) peers_.erase(it);
}

void PeerTable::touch(const UserId& user, std::int64_t mod, std::int64_t seen) {
    const auto it = peers_.find(user);
    if (it == peers_.end() || !it->second.has_record || it->second.mod != mod) return;
    it->second.seen = std::max(it->second.seen, seen);
}

const TablePeer* PeerTable::peer(const UserId& user) const {
    const auto it = peers_.find(user);
    return it == peers_.end() ? nullptr : &it->second;
}

bool PeerTable::live(const TablePeer& p, std::int64_t now, std::int64_t ttl_ms) const {
    return p.has_record && p.seen >= 0 && p.seen >= now - ttl_ms;
}

const TablePeer* PeerTable::serving_live(const UserId& u, std::int64_t now,
                                         std::int64_t ttl_ms) const {
    const auto* p = peer(u);
    return p != nullptr && live(*p, now, ttl_ms) && p->port != 0 ? p : nullptr;
}

std::vector<Holder> PeerTable::holders(const SeedId& seed, const UserId& asker, std::size_t want,
                                       std::int64_t now, std::int64_t ttl_ms,
                                       std::mt19937_64& rng) const {
    std::vector<Holder> out, partial, backups;
    const auto it = holders_.find(seed);
    if (it == holders_.end() || want == 0) return out;
    const auto& m = it->second;
    // Complete others counted among those taken; backup peers and partial
    // others aside (at most `want` each), so many partial holders cannot
    // hide a complete one, nor the backup: complete holders are sampled
    // first, as hand_out_holders needs.
    sample(m.entries, want, rng, [&](const std::pair<UserId, bool>& e) {
        const auto& [u, complete] = e;
        const TablePeer* p = u == asker ? nullptr : serving_live(u, now, ttl_ms);
        if (p == nullptr) return false;
        const Holder h{p->address, p->port, u, complete, p->backup};
        auto& into = p->backup ? backups : h.complete ? out : partial;
        if (into.size() < want) into.push_back(h);
        return !p->backup && h.complete;
    });
    out.insert(out.end(), partial.begin(), partial.end());
    return hand_out_holders(std::move(out), std::move(backups), want);
}

std::vector<Follower> PeerTable::followers(const ChannelId& channel, const UserId& asker,
                                           std::size_t want, std::int64_t now, std::int64_t ttl_ms,
                                           std::mt19937_64& rng) const {
    std::vector<Follower> out;
    const auto it = followers_.find(channel);
    if (it == followers_.end() || want == 0) return out;
    const auto& m = it->second;
    sample(m.entries, want, rng, [&](const std::pair<UserId, std::uint64_t>& e) {
        const auto& [u, version] = e;
        const TablePeer* p = u == asker ? nullptr : serving_live(u, now, ttl_ms);
        if (p == nullptr) return false;
        out.push_back(Follower{p->address, p->port, u, version});
        return true;
    });
    return out;
}

FilePage PeerTable::files(const std::optional<SeedId>& after, std::size_t limit, std::int64_t now,
                          std::int64_t ttl_ms) const {
    FilePage page;
    auto it = after ? files_.upper_bound(*after) : files_.begin();
    for (; it != files_.end(); ++it) {
        if (page.files.size() == limit) {
            page.more = true;
            break;
        }
        FileSummary f;
        f.id = it->first;
        f.name = it->second.name;
        f.length = it->second.length;
        if (const auto h = holders_.find(it->first); h != holders_.end())
            for (const auto& [u, complete] : h->second.entries) {
                const auto* p = peer(u);
                if (p == nullptr || !live(*p, now, ttl_ms)) continue;
                ++f.holders;
                if (complete) ++f.complete_holders;
            }
        page.files.push_back(std::move(f));
    }
    return page;
}

std::vector<PeerTable::HeadRow> PeerTable::heads(const std::optional<ChannelId>& after,
                                                 std::size_t limit, bool& more, std::int64_t now,
                                                 std::int64_t ttl_ms) const {
    std::vector<HeadRow> out;
    more = false;
    auto it = after ? heads_.upper_bound(*after) : heads_.begin();
    for (; it != heads_.end(); ++it) {
        if (out.size() == limit) {
            more = true;
            break;
        }
        HeadRow row{it->first, it->second.first, it->second.second, 0};
        if (const auto f = followers_.find(it->first); f != followers_.end())
            for (const auto& [u, version] : f->second.entries) {
                const auto* p = peer(u);
                if (p != nullptr && live(*p, now, ttl_ms)) ++row.followers;
            }
        out.push_back(std::move(row));
    }
    return out;
}

std::vector<UserId> PeerTable::expired(std::int64_t now, std::int64_t ttl_ms,
                                       std::size_t max) const {
    std::vector<UserId> out;
    for (const auto& [u, p] : peers_) {
        if (out.size() >= max) break;
        if (p.has_record && !live(p, now, ttl_ms)) out.push_back(u);
    }
    return out;
}

PeerTable::Counts PeerTable::counts(std::int64_t now, std::int64_t ttl_ms) const {
    Counts c;
    for (const auto& [u, p] : peers_) {
        if (!p.has_record) continue;
        ++c.users;
        if (live(p, now, ttl_ms)) ++c.live_users;
    }
    c.files = files_.size();
    for (const auto& [id, f] : files_)
        if (f.has_seed) ++c.seeds;
    c.holdings = holdings_;
    c.channels = heads_.size();
    c.follows = follows_;
    return c;
}

}  // namespace seedshare::tracker::etcd
