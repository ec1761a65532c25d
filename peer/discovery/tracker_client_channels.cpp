// TrackerClient's channel calls: the follows run() keeps registered, and
// manifests put, got and listed (the rest is in tracker_client.cpp).
#include <algorithm>

#include "peer/discovery/tracker_client.hpp"
#include "peer/discovery/tracker_client_state.hpp"

namespace seedshare {

// Sends the follows: all of them (after a join, or when the changes would not
// fit one message) or what changed. One message: a peer follows at most
// kMaxChannelsPerPeer <= kMaxFollowEntries channels, and a delta names each
// changed channel once.
awaitable<void> TrackerClient::State::sync_follows(std::shared_ptr<State> s) {
    static_assert(limits::kMaxChannelsPerPeer <= limits::kMaxFollowEntries);
    const bool full = s->follows_full_sync || s->follows_changed.size() > limits::kMaxFollowEntries;
    std::set<ChannelId> taken = std::move(s->follows_changed);
    s->follows_changed.clear();
    s->follows_full_sync = false;
    proto::FollowChannels msg;
    msg.replace_all = full;
    for (const auto& [channel, version] : s->followed) {
        if (msg.add.size() == limits::kMaxChannelsPerPeer) break;
        if (full || taken.count(channel) != 0) msg.add.push_back({channel, version});
    }
    if (!full)
        for (const auto& channel : taken)
            if (s->followed.count(channel) == 0) msg.remove.push_back(channel);
    if (s->followed.size() > limits::kMaxChannelsPerPeer)
        s->log.warn("following {} channels; the tracker is told of the first {}",
                    s->followed.size(), limits::kMaxChannelsPerPeer);
    try {
        proto::Request req{std::move(msg)};
        auto answer = co_await request(s, std::move(req));
        s->expect<proto::OkReply>(std::move(answer));
    } catch (const TrackerRefusal& e) {
        if (e.code == proto::ErrorCode::kLimit) {
            s->log.warn("channels not accepted: {}", e.what());
            co_return;
        }
        if (full) s->follows_full_sync = true;
        s->follows_changed.insert(taken.begin(), taken.end());
        throw;
    } catch (...) {
        if (full) s->follows_full_sync = true;
        s->follows_changed.insert(taken.begin(), taken.end());
        throw;
    }
}

void TrackerClient::follow(const ChannelId& channel, std::uint64_t version) {
    auto& s = *state_;
    version = std::min(version, limits::kMaxManifestVersion);  // what the wire allows
    auto [it, added] = s.followed.try_emplace(channel, version);
    if (!added && it->second == version) return;
    it->second = version;
    s.ever_followed = true;
    s.follows_changed.insert(channel);
    s.wake.cancel();
}

void TrackerClient::unfollow(const ChannelId& channel) {
    auto& s = *state_;
    if (s.followed.erase(channel) == 0) return;
    s.follows_changed.insert(channel);
    s.wake.cancel();
}

net::awaitable<void> TrackerClient::put_manifest(std::string text) {
    using Kind = TrackerError::Kind;
    auto s = state_;
    // The tracker keeps manifests only of channels the peer follows.
    if (s->joined && s->follows_pending()) co_await State::sync_follows(s);
    std::optional<TrackerError> refused;
    try {
        proto::Request req{proto::PutManifest{Token{}, std::move(text)}};
        auto answer = co_await State::request(s, std::move(req));
        s->expect<proto::OkReply>(std::move(answer));
    } catch (const TrackerRefusal& e) {
        switch (e.code) {
            case proto::ErrorCode::kManifestRefused:
                refused.emplace(Kind::kManifestRefused, s->opt.tracker, e.reason);
                break;
            case proto::ErrorCode::kManifestStale:
                refused.emplace(Kind::kManifestStale, s->opt.tracker, e.reason);
                break;
            case proto::ErrorCode::kManifestConflict:
                refused.emplace(Kind::kManifestConflict, s->opt.tracker, e.reason);
                break;
            default:
                throw;
        }
    }
    if (refused) throw *refused;
}

net::awaitable<std::optional<std::string>> TrackerClient::get_manifest(const ChannelId& channel) {
    auto s = state_;
    proto::Response resp;
    try {
        proto::Request req{proto::GetManifest{Token{}, channel}};
        resp = co_await State::request(s, std::move(req));
    } catch (const TrackerRefusal& e) {
        if (e.code != proto::ErrorCode::kUnknownChannel) throw;
        co_return std::nullopt;
    }
    auto text = s->expect<proto::ManifestText>(std::move(resp));
    if (text.channel != channel) {
        s->lose(s->generation);
        throw s->failure("answered the manifest of another channel");
    }
    co_return std::move(text.text);
}

net::awaitable<std::vector<proto::ChannelPeerEntry>> TrackerClient::channel_peers(
    const ChannelId& channel, std::uint16_t numwant) {
    auto s = state_;
    proto::GetChannelPeers q;
    q.channel = channel;
    q.numwant = std::clamp<std::uint16_t>(numwant, 1, limits::kMaxNumWant);
    proto::Request req{q};
    auto answer = co_await State::request(s, std::move(req));
    auto peers = s->expect<proto::ChannelPeers>(std::move(answer));
    if (peers.channel != channel) {
        s->lose(s->generation);
        throw s->failure("answered the peers of another channel");
    }
    co_return std::move(peers.peers);
}

net::awaitable<std::vector<proto::ChannelInfo>> TrackerClient::list_channels(
    std::size_t max_entries) {
    auto s = state_;
    std::vector<proto::ChannelInfo> out;
    proto::ListChannels q;
    q.from_start = true;
    q.limit = static_cast<std::uint16_t>(limits::kMaxListChannelsPage);
    for (std::size_t page = 0; page < kMaxListPages; ++page) {
        proto::Request req{q};
        auto answer = co_await State::request(s, std::move(req));
        auto channels = s->expect<proto::Channels>(std::move(answer));
        if (!q.from_start && !channels.channels.empty() &&
            !(q.after < channels.channels.front().channel))
            throw s->failure("listed channels out of order");
        if (channels.more && channels.channels.empty())
            throw s->failure("listed an empty page with more to come");
        for (auto& c : channels.channels)
            out.push_back(std::move(c));
        if (!channels.more) co_return out;
        if (out.size() >= max_entries) {
            out.resize(max_entries);
            co_return out;
        }
        q.from_start = false;
        q.after = out.back().channel;
    }
    throw s->failure("the channel list does not end");
}

}  // namespace seedshare
