// The SQLite store's channel operations (tracker/core/registry.hpp): who
// follows which channel, and each channel's head. The rest of the store is in
// store.cpp; the statements in store_statements.hpp.
#include <fmt/format.h>

#include <algorithm>

#include "common/core/limits.hpp"
#include "tracker/sqlite/store_statements.hpp"

namespace seedshare::tracker {

using sqlite::Use;
using namespace store_detail;

namespace {

// Versions are u64; SQLite keeps their int64 bit pattern.
std::int64_t stored(std::uint64_t v) {
    return static_cast<std::int64_t>(v);
}
std::uint64_t loaded(std::int64_t v) {
    return static_cast<std::uint64_t>(v);
}

}  // namespace

RegistryResult<Done> Store::follow_channels(const UserId& user, const Token& token,
                                            const FollowChanges& changes) {
    if (touch(user, token, now_ms_()) == nullptr) return unknown_peer();
    begin_write();
    sqlite::Savepoint sp(db_, "sp_follows");
    if (changes.replace_all) Use(st_->follows_delete_user)->bind_blob(1, user.span()).run();
    for (const auto& c : changes.remove)
        Use(st_->follow_delete)->bind_blob(1, user.span()).bind_blob(2, c.span()).run();
    for (const auto& f : changes.add)
        Use(st_->follow_put)
            ->bind_blob(1, user.span())
            .bind_blob(2, f.channel.span())
            .bind(3, stored(f.version))
            .run();
    std::int64_t followed = 0;
    {
        Use s(st_->follows_of_user);
        s->bind_blob(1, user.span());
        if (s->step()) followed = s->int64(0);
    }
    if (followed > static_cast<std::int64_t>(limits::kMaxChannelsPerPeer))
        return RegistryError::too_many_channels(static_cast<std::size_t>(followed));
    sp.commit();
    note_write();
    return Done{};
}

RegistryResult<ManifestStored> Store::put_manifest(const UserId& user, const Token& token,
                                                   std::string_view text,
                                                   const Result<ManifestSummary>& checked) {
    if (touch(user, token, now_ms_()) == nullptr) return unknown_peer();
    if (!checked) return RegistryError::manifest_invalid(checked.error().message);
    const ManifestSummary& m = *checked;
    {
        Use s(st_->follows);
        s->bind_blob(1, user.span()).bind_blob(2, m.channel.span());
        if (!s->step())
            return RegistryError::about_manifest(RegistryErrc::kChannelNotFollowed, m.channel,
                                                 m.version);
    }
    {
        Use s(st_->head_get);
        s->bind_blob(1, m.channel.span());
        if (s->step()) {
            const ManifestVersion head = head_version(
                loaded(s->int64(0)), id_from<Digest>(s->blob(1)), chain_from_blob(s->blob(2)));
            switch (change_of_head(head, head_version(m.version, m.body_hash, m.chain))) {
                case HeadChange::kAlreadyHead:
                    return ManifestStored::kAlreadyHead;
                case HeadChange::kStale:
                    return RegistryError::about_manifest(RegistryErrc::kManifestStale, m.channel,
                                                         m.version, head.number);
                case HeadChange::kConflictLost:
                    return RegistryError::about_manifest(RegistryErrc::kManifestConflict, m.channel,
                                                         m.version, head.number);
                case HeadChange::kHandedOver:
                    return RegistryError::about_manifest(RegistryErrc::kManifestHandedOver,
                                                         m.channel, m.version, head.number);
                case HeadChange::kReplace:
                    break;
            }
        }
    }
    begin_write();
    Use put(st_->head_put);
    put->bind_blob(1, m.channel.span())
        .bind(2, stored(m.version))
        .bind_blob(3, m.body_hash.span())
        .bind(4, std::string_view(m.name))
        .bind(5, std::int64_t{m.files})
        .bind(6, static_cast<std::int64_t>(m.size))
        .bind(7, text);
    const Bytes chain = chain_blob(m.chain);  // bound without a copy: outlives run()
    if (!m.chain.empty())
        put->bind_blob(8, chain);
    else
        put->bind_null(8);
    put->run();
    note_write();
    return ManifestStored::kNewHead;
}

std::optional<std::string> Store::get_manifest(const ChannelId& channel) {
    Use s(st_->manifest_get);
    s->bind_blob(1, channel.span());
    if (!s->step()) return std::nullopt;
    return s->text(0);
}

std::vector<Follower> Store::channel_peers(const ChannelId& channel, const UserId& asker,
                                           std::uint16_t numwant) {
    std::vector<Follower> out;
    const std::size_t want = std::min<std::size_t>(numwant, limits::kMaxNumWant);
    if (want == 0) return out;
    const std::int64_t since = cutoff(now_ms_());
    const UserId start = random_start();
    // As get_peers: the followers in userid order from the random start.
    auto collect = [&](sqlite::Statement& stmt) {
        Use s(stmt);
        s->bind_blob(1, channel.span()).bind_blob(2, start.span());
        while (out.size() < want && s->step()) {
            const UserId follower = id_from<UserId>(s->blob(0));
            if (follower == asker) continue;
            const auto it = users_.find(follower);
            if (it == users_.end() || it->second.port == 0 || !live(it->second, since)) continue;
            out.push_back(
                Follower{it->second.address, it->second.port, follower, loaded(s->int64(1))});
        }
    };
    collect(st_->followers_from);
    if (out.size() < want) collect(st_->followers_before);  // wrap around
    std::shuffle(out.begin(), out.end(), rng_);
    return out;
}

ChannelPage Store::list_channels(const std::optional<ChannelId>& after, std::size_t limit) {
    ChannelPage out;
    limit = std::clamp<std::size_t>(limit, 1, limits::kMaxListChannelsPage);
    const std::int64_t since = cutoff(now_ms_());
    {
        Use s(st_->channels_page);
        // The empty blob sorts before every id.
        s->bind_blob(1, after ? after->span() : ByteSpan())
            .bind(2, static_cast<std::int64_t>(limit + 1));
        while (s->step()) {
            if (out.channels.size() == limit) {
                out.more = true;
                break;
            }
            ChannelSummary c;
            c.head.channel = id_from<ChannelId>(s->blob(0));
            c.head.version = loaded(s->int64(1));
            c.head.body_hash = id_from<Digest>(s->blob(2));
            c.head.name = s->text(3);
            c.head.files = static_cast<std::uint32_t>(s->int64(4));
            c.head.size = static_cast<std::uint64_t>(s->int64(5));
            c.head.chain = chain_from_blob(s->blob(6));
            out.channels.push_back(std::move(c));
        }
    }
    for (auto& c : out.channels) {  // live followers, serving or not
        Use s(st_->followers_of);
        s->bind_blob(1, c.head.channel.span());
        while (s->step()) {
            const auto it = users_.find(id_from<UserId>(s->blob(0)));
            if (it != users_.end() && live(it->second, since)) ++c.followers;
        }
    }
    return out;
}

std::size_t Store::sweep_heads() {
    const std::int64_t now = now_ms_();
    const auto retention =
        std::chrono::duration_cast<std::chrono::milliseconds>(limits::kChannelRetention).count();
    begin_write();
    sqlite::Savepoint sp(db_, "sp_heads");
    Use(st_->heads_unfollowed)->bind(1, now).run();
    Use(st_->heads_followed)->run();
    Use(st_->heads_expire)->bind(1, now - retention).run();
    const auto deleted = static_cast<std::size_t>(db_.changes());
    sp.commit();
    return deleted;
}

}  // namespace seedshare::tracker
