// The etcd registry's holdings, seed texts, peer lookups, blobs and flush.
#include <algorithm>

#include "common/core/limits.hpp"
#include "tracker/etcd/registry.hpp"
#include "tracker/etcd/registry_detail.hpp"

namespace seedshare::tracker::etcd {

using nlohmann::json;
using namespace registry_detail;

namespace {
// A blob's value is "=" and the text when short, else "@<nonce> <pieces>" with
// the pieces under <base>/<nonce>/<index>.
constexpr std::size_t kInlineBlob = 256u << 10;
constexpr std::size_t kBlobPiece = 512u << 10;
}  // namespace

std::string EtcdRegistry::put_blob(const std::string& base, std::string_view text) {
    if (text.size() <= kInlineBlob) {
        std::string inline_value(1, '=');
        inline_value += text;
        return inline_value;
    }
    std::string nonce;
    {
        std::lock_guard lock(mutex_);
        nonce = fmt::format("{:016x}", rng_());
    }
    std::size_t pieces = 0;
    for (std::size_t at = 0; at < text.size(); at += kBlobPiece, ++pieces) {
        const auto k = fmt::format("{}/{}/{:04d}", base, nonce, pieces);
        const auto piece = text.substr(at, kBlobPiece);
        guarded(client_,
                [&] { return client_.txn(json::array(), json::array({op::put(k, piece)})); });
    }
    return fmt::format("@{} {}", nonce, pieces);
}

std::optional<std::string> EtcdRegistry::read_blob(const std::string& base,
                                                   const std::string& value) {
    if (value.starts_with("=")) return value.substr(1);
    const auto space = value.find(' ');
    if (!value.starts_with("@") || space == std::string::npos)
        throw RegistryFailure("etcd: a stored text is malformed");
    const auto nonce = value.substr(1, space - 1);
    const auto pieces = static_cast<std::size_t>(parse_number(value.substr(space + 1)));
    const auto kvs = guarded(client_, [&] { return client_.get_prefix(base + "/" + nonce + "/"); });
    if (kvs.size() != pieces) return std::nullopt;  // being written or deleted
    std::string out;
    for (const auto& kv : kvs)
        out += kv.value;
    return out;
}

void EtcdRegistry::drop_blob(const std::string& base, const std::string& value) {
    if (!value.starts_with("@")) return;
    const auto nonce = value.substr(1, value.find(' ') - 1);
    guarded(client_, [&] {
        return client_.txn(json::array(), json::array({op::del_prefix(base + "/" + nonce + "/")}));
    });
}

RegistryResult<FilesUpdated> EtcdRegistry::update_files(const UserId& user, const Token& token,
                                                        const FileChanges& changes) {
    begin_write();
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        const auto p = authorise(user, token, attempt > 0);
        if (!p) return RegistryError::of(RegistryErrc::kUnknownPeer);
        const std::string u = user.hex();
        std::set<SeedId> held;
        for (const auto& s : keys_under(key("uh", u) + "/"))
            if (auto id = SeedId::from_hex_string(s)) held.insert(*id);
        std::set<SeedId> next = changes.replace_all ? std::set<SeedId>{} : held;
        if (!changes.replace_all)
            for (const auto& r : changes.remove)
                next.erase(r);
        for (const auto& a : changes.add)
            next.insert(a.id);
        if (next.size() > limits::kMaxFilesPerPeer)
            return RegistryError::too_many_files(next.size());

        // Which added files exist, and have their seed text.
        std::set<SeedId> known_files, with_seed;
        std::set<SeedId> added;
        for (const auto& a : changes.add)
            added.insert(a.id);
        if (added.size() > options_.max_txn_ops) {
            for (const auto& kv :
                 guarded(client_, [&] { return client_.get_prefix(prefix_ + "f/"); }))
                if (auto id = SeedId::from_hex_string(kv.key.substr(prefix_.size() + 2))) {
                    known_files.insert(*id);
                    if (json::parse(kv.value, nullptr, false).value("s", false))
                        with_seed.insert(*id);
                }
        } else if (!added.empty()) {
            json ops = json::array();
            for (const auto& id : added)
                ops.push_back(op::get(key("f", id.hex())));
            const auto r = guarded(client_, [&] { return client_.txn(json::array(), ops); });
            std::size_t i = 0;
            for (const auto& id : added) {
                const auto kvs = kvs_of(r.at("responses").at(i++).at("response_range"));
                if (kvs.empty()) continue;
                known_files.insert(id);
                if (json::parse(kvs.front().value, nullptr, false).value("s", false))
                    with_seed.insert(id);
            }
        }

        std::vector<json> ops;
        std::set<SeedId> removed;
        for (const auto& id : held)
            if (!next.contains(id)) removed.insert(id);
        for (const auto& id : removed) {
            ops.push_back(op::del(key("h", id.hex(), u)));
            ops.push_back(op::del(key("uh", u, id.hex())));
        }
        std::set<SeedId> done;
        FilesUpdated out;
        for (auto it = changes.add.rbegin(); it != changes.add.rend(); ++it) {
            if (!done.insert(it->id).second) continue;  // the last entry of an id wins
            const std::string s = it->id.hex();
            ops.push_back(op::put(key("h", s, u), it->complete ? "1" : "0", p->lease));
            ops.push_back(op::put(key("uh", u, s), "", p->lease));
            if (!known_files.contains(it->id)) {
                const std::string f = key("f", s);
                ops.push_back(op::txn(
                    json::array({op::mod_is(f, 0)}),
                    json::array({op::put(
                        f, json{{"n", it->name}, {"l", it->length}, {"s", false}}.dump())})));
            }
        }
        for (const auto& a : changes.add)
            if (!with_seed.contains(a.id) &&
                std::find(out.need_seed.begin(), out.need_seed.end(), a.id) == out.need_seed.end())
                out.need_seed.push_back(a.id);
        if (!commit(json::array({op::mod_is(key("u", u), p->mod)}), ops)) {
            forget(user);
            continue;
        }
        drop_orphans(removed);
        settle();
        return out;
    }
    throw RegistryFailure("etcd: the peer's record kept changing during a file list");
}

RegistryResult<Done> EtcdRegistry::put_seed(const UserId& user, const Token& token,
                                            std::string_view text,
                                            const Result<ParsedSeed>& parsed) {
    begin_write();
    const auto p = authorise(user, token);
    if (!p) return RegistryError::of(RegistryErrc::kUnknownPeer);
    if (!parsed) return RegistryError::seed_unparsable(parsed.error().message);
    const std::string s = parsed->id.hex();
    if (!guarded(client_, [&] { return client_.get(key("h", s, user.hex())); }))
        return RegistryError::seed_not_held(parsed->id);
    const std::string base = key("sd", s);
    if (guarded(client_, [&] { return client_.get(base); })) return Done{};  // the first stays
    const std::string value = put_blob(base + "/", text);
    const json file{{"n", parsed->seed.name}, {"l", parsed->seed.length}, {"s", true}};
    const auto r = guarded(client_, [&] {
        return client_.txn(json::array({op::mod_is(base, 0)}),
                           json::array({op::put(base, value), op::put(key("f", s), file.dump())}));
    });
    if (!r.value("succeeded", false)) {
        drop_blob(base + "/", value);
        return Done{};
    }
    note(r);
    settle();
    return Done{};
}

std::optional<std::string> EtcdRegistry::get_seed(const SeedId& id) {
    const std::string base = key("sd", id.hex());
    const auto kv = guarded(client_, [&] { return client_.get(base); });
    if (!kv) return std::nullopt;
    return read_blob(base + "/", kv->value);
}

std::vector<Holder> EtcdRegistry::get_peers(const SeedId& id, const UserId& asker,
                                            std::uint16_t numwant) {
    const std::size_t want = std::min<std::size_t>(numwant, limits::kMaxNumWant);
    const std::int64_t at = now();
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return table_.read(
        [&](const PeerTable& t) { return t.holders(id, asker, want, at, ttl_.count(), rng); });
}

FilePage EtcdRegistry::list_files(const std::optional<SeedId>& after, std::size_t limit) {
    limit = std::clamp<std::size_t>(limit, 1, limits::kMaxListFilesPage);
    const std::int64_t at = now();
    return table_.read([&](const PeerTable& t) { return t.files(after, limit, at, ttl_.count()); });
}

void EtcdRegistry::flush() {
    std::vector<std::pair<UserId, Known>> dirty;
    const auto now_steady = std::chrono::steady_clock::now();
    {
        std::lock_guard lock(mutex_);
        for (auto& [u, k] : known_)
            if (k.dirty) {
                dirty.emplace_back(u, k);
                k.dirty = false;
            }
    }
    if (dirty.empty()) return;
    try {
        std::vector<std::int64_t> leases;
        std::vector<json> writes;
        writes.reserve(dirty.size());
        for (const auto& [u, kn] : dirty) {
            writes.push_back(op::txn(
                json::array({op::mod_is(key("u", u.hex()), kn.mod)}),
                json::array({op::put_keep_lease(key("s", u.hex()), format_number(kn.seen))})));
            if (now_steady - kn.kept_alive > ttl_ / 3) leases.push_back(kn.lease);
        }
        const std::size_t per = op::ops_per_txn(options_.max_txn_ops, writes);
        for (std::size_t i = 0; i < writes.size(); i += per) {
            const std::size_t end = std::min(writes.size(), i + per);
            json ops = json::array();
            for (std::size_t k = i; k < end; ++k)
                ops.push_back(std::move(writes[k]));
            const auto r = guarded(client_, [&] { return client_.txn(json::array(), ops); });
            // A record changed elsewhere (left, rejoined, expired): forget
            // what this tracker remembers; etcd decides its next request.
            const auto& resp = r.at("responses");
            std::lock_guard lock(mutex_);
            for (std::size_t k = i; k < end; ++k)
                if (!resp.at(k - i).at("response_txn").value("succeeded", false))
                    known_.erase(dirty[k].first);
        }
        if (!leases.empty()) guarded(client_, [&] { return client_.keep_alive(leases); });
        std::lock_guard lock(mutex_);
        for (const auto& [u, kn] : dirty)
            if (auto it = known_.find(u);
                it != known_.end() && now_steady - kn.kept_alive > ttl_ / 3)
                it->second.kept_alive = now_steady;
    } catch (const RegistryFailure&) {
        std::lock_guard lock(mutex_);  // written at the next flush
        for (const auto& [u, kn] : dirty)
            if (auto it = known_.find(u); it != known_.end()) it->second.dirty = true;
        throw;
    }
}

void EtcdRegistry::close() {
    flush();
}

}  // namespace seedshare::tracker::etcd
