#include "tracker/core/handler.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/core/limits.hpp"

namespace seedshare::tracker {

namespace proto = tracker_proto;

namespace {

const Token& token_of(const proto::Request& r) {
    return std::visit(
        [](const auto& m) -> const Token& {
            return m.token;  // Join has one too (the presented one); not used here
        },
        r);
}

}  // namespace

Outcome refusal(proto::ErrorCode code, std::string message) {
    return Outcome{proto::Response{proto::ErrorReply{code, std::move(message)}},
                   proto::ends_connection(code)};
}

Outcome Handler::refusal_of(const RegistryError& e, const UserId& user) const {
    switch (e.code) {
        case RegistryErrc::kUserIdInUse:
            return refusal(proto::ErrorCode::kUserIdInUse,
                           fmt::format("userid {} is in use by a live peer: join with its token, "
                                       "or wait for it to expire ({} s without a heartbeat)",
                                       uuid_string(user), registry_.ttl().count() / 1000.0));
        case RegistryErrc::kUnknownPeer:
            return refusal(proto::ErrorCode::kUnknownPeer,
                           "the tracker does not know this peer (silent longer than the TTL, or "
                           "it left): join again");
        case RegistryErrc::kTooManyFiles:
            return refusal(proto::ErrorCode::kLimit,
                           fmt::format("this list would make {} files; a peer may hold at most {}",
                                       e.files, limits::kMaxFilesPerPeer));
        case RegistryErrc::kSeedUnparsable:
            return refusal(proto::ErrorCode::kSeedMismatch,
                           fmt::format("the seed text does not parse: {}", e.parse_error));
        case RegistryErrc::kSeedNotHeld:
            return refusal(proto::ErrorCode::kSeedMismatch,
                           fmt::format("seed {} is not in this peer's file list (send FileList "
                                       "first; the id is the hash of the seed text)",
                                       e.seed.hex()));
        case RegistryErrc::kTooManyChannels:
            return refusal(proto::ErrorCode::kLimit,
                           fmt::format("this list would make {} channels; a peer may follow at "
                                       "most {}",
                                       e.channels, limits::kMaxChannelsPerPeer));
        case RegistryErrc::kManifestInvalid:
            return refusal(proto::ErrorCode::kManifestRefused,
                           fmt::format("the manifest is refused: {}", e.manifest_error));
        case RegistryErrc::kChannelNotFollowed:
            return refusal(proto::ErrorCode::kManifestRefused,
                           fmt::format("channel {} is not among the channels this peer follows "
                                       "(send FollowChannels first)",
                                       e.channel.hex()));
        case RegistryErrc::kManifestStale:
            return refusal(proto::ErrorCode::kManifestStale,
                           fmt::format("version {} of channel {} is older than the tracker's {}",
                                       e.version, e.channel.hex(), e.head_version));
        case RegistryErrc::kManifestConflict:
            return refusal(proto::ErrorCode::kManifestConflict,
                           fmt::format("version {} of channel {} differs from the tracker's "
                                       "version {} and loses the tie-break",
                                       e.version, e.channel.hex(), e.head_version));
        case RegistryErrc::kManifestHandedOver:
            return refusal(proto::ErrorCode::kManifestRefused,
                           fmt::format("version {} of channel {} is signed by a key that has "
                                       "handed over publishing (or forks the hand-overs) of the "
                                       "tracker's version {}",
                                       e.version, e.channel.hex(), e.head_version));
    }
    return refusal(proto::ErrorCode::kInternal, "the registry refused for an unknown reason");
}

template <class T, class ToWire>
Outcome Handler::answer(RegistryResult<T>&& r, const UserId& user, ToWire to_wire) const {
    if (const auto* e = std::get_if<RegistryError>(&r)) return refusal_of(*e, user);
    return Outcome{proto::Response{to_wire(std::move(std::get<T>(r)))}, false};
}

std::chrono::milliseconds Handler::heartbeat_interval() const {
    return std::max(std::chrono::milliseconds(1), registry_.ttl() / 3);
}

std::optional<Outcome> Handler::rule_refusal(const Connection& conn,
                                             const proto::Request& request) const {
    const bool is_join = std::holds_alternative<proto::Join>(request);
    if (!conn.joined()) {
        if (is_join) return std::nullopt;
        return refusal(proto::ErrorCode::kJoinFirst,
                       "the first message on a connection must be Join");
    }
    if (is_join) return refusal(proto::ErrorCode::kMalformed, "Join sent twice on one connection");
    if (token_of(request) != conn.token)
        return refusal(proto::ErrorCode::kBadToken,
                       "the token is not the one this connection joined with");
    return std::nullopt;
}

Outcome Handler::handle(Connection& conn, const proto::Request& request,
                        const Result<ParsedSeed>* parsed, const Result<ManifestSummary>* checked) {
    try {
        if (auto refused = rule_refusal(conn, request)) return std::move(*refused);
        if (!conn.joined()) return join(conn, std::get<proto::Join>(request));
        return dispatch(conn, request, parsed, checked);
    } catch (const RegistryFailure& e) {
        return refusal(
            proto::ErrorCode::kInternal,
            fmt::format("the tracker's database failed ({}); try again later", e.what()));
    }
}

std::optional<Outcome> Handler::handle_now(Connection& conn, const proto::Request& request) {
    if (auto refused = rule_refusal(conn, request)) return refused;
    if (!conn.joined()) return std::nullopt;  // a Join writes
    if (const auto* h = std::get_if<proto::Heartbeat>(&request)) {
        auto r = registry_.heartbeat_from_memory(*conn.user, h->token);
        if (!r) return std::nullopt;
        return answer(std::move(*r), *conn.user, [](Done) { return proto::OkReply{}; });
    }
    const bool read = std::holds_alternative<proto::GetPeers>(request) ||
                      std::holds_alternative<proto::ListFiles>(request) ||
                      std::holds_alternative<proto::GetChannelPeers>(request) ||
                      std::holds_alternative<proto::ListChannels>(request);
    if (!read || !registry_.reads_from_memory()) return std::nullopt;
    return handle(conn, request);
}

Outcome Handler::join(Connection& conn, const proto::Join& j) {
    if (j.version != proto::kVersion)
        return refusal(proto::ErrorCode::kVersionMismatch,
                       fmt::format("protocol version mismatch: the peer speaks tracker protocol "
                                   "version {}, this tracker speaks version {}",
                                   j.version, proto::kVersion));
    auto a = registry_.join(j.user, j.token, conn.remote, j.port, j.backup);
    if (const auto* e = std::get_if<RegistryError>(&a)) return refusal_of(*e, j.user);
    const auto& r = std::get<JoinResult>(a);
    conn.user = j.user;
    conn.token = r.token;
    conn.reads_roles = j.reads_roles;
    proto::Joined out;
    out.token = r.token;
    out.heartbeat_ms = static_cast<std::uint32_t>(heartbeat_interval().count());
    out.ttl_ms = static_cast<std::uint32_t>(registry_.ttl().count());
    out.observed = conn.remote;
    if (j.wants_cluster && cluster_) {
        out.trackers = cluster_();
        if (out.trackers.size() > limits::kMaxClusterTrackers)
            out.trackers.resize(limits::kMaxClusterTrackers);
    }
    return Outcome{proto::Response{out}, false};
}

Outcome Handler::dispatch(Connection& conn, const proto::Request& request,
                          const Result<ParsedSeed>* parsed,
                          const Result<ManifestSummary>* checked) {
    const UserId& user = *conn.user;
    const auto ok = [](Done) { return proto::OkReply{}; };
    return std::visit(
        [&](const auto& m) -> Outcome {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, proto::Heartbeat>) {
                return answer(registry_.heartbeat(user, m.token), user, ok);
            } else if constexpr (std::is_same_v<M, proto::FileList>) {
                FileChanges changes;
                changes.replace_all = m.replace_all;
                changes.add.reserve(m.add.size());
                for (const auto& e : m.add)
                    changes.add.push_back(HeldFile{e.id, e.name, e.length, e.complete});
                changes.remove = m.remove;
                return answer(
                    registry_.update_files(user, m.token, changes), user,
                    [](FilesUpdated u) { return proto::FileListOk{std::move(u.need_seed)}; });
            } else if constexpr (std::is_same_v<M, proto::PutSeed>) {
                if (parsed != nullptr)
                    return answer(registry_.put_seed(user, m.token, m.seed_text, *parsed), user,
                                  ok);
                return answer(registry_.put_seed(user, m.token, m.seed_text), user, ok);
            } else if constexpr (std::is_same_v<M, proto::GetPeers>) {
                proto::Peers out;
                out.id = m.id;
                for (auto& h : registry_.get_peers(m.id, user, m.numwant))
                    out.peers.push_back(proto::PeerEntry{h.address, h.port, h.user, h.complete,
                                                         conn.reads_roles && h.backup});
                return Outcome{proto::Response{std::move(out)}, false};
            } else if constexpr (std::is_same_v<M, proto::ListFiles>) {
                std::optional<SeedId> after;
                if (!m.from_start) after = m.after;
                FilePage page = registry_.list_files(after, m.limit);
                proto::Files out;
                out.more = page.more;
                out.files.reserve(page.files.size());
                for (auto& f : page.files)
                    out.files.push_back(proto::FileInfo{f.id, std::move(f.name), f.length,
                                                        f.holders, f.complete_holders});
                return Outcome{proto::Response{std::move(out)}, false};
            } else if constexpr (std::is_same_v<M, proto::GetSeed>) {
                auto text = registry_.get_seed(m.id);
                if (!text)
                    return refusal(proto::ErrorCode::kUnknownSeed,
                                   fmt::format("no seed text for {}", m.id.hex()));
                return Outcome{proto::Response{proto::SeedText{m.id, std::move(*text)}}, false};
            } else if constexpr (std::is_same_v<M, proto::Leave>) {
                auto out = answer(registry_.leave(user, m.token), user, ok);
                out.close = true;  // nothing more to say on this connection
                conn.user.reset();
                return out;
            } else if constexpr (std::is_same_v<M, proto::Join>) {
                return refusal(proto::ErrorCode::kMalformed, "Join sent twice on one connection");
            } else {
                return channel_request(user, request, checked);
            }
        },
        request);
}

Outcome Handler::channel_request(const UserId& user, const proto::Request& request,
                                 const Result<ManifestSummary>* checked) {
    const auto ok = [](auto) { return proto::OkReply{}; };
    return std::visit(
        [&](const auto& m) -> Outcome {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, proto::FollowChannels>) {
                FollowChanges changes;
                changes.replace_all = m.replace_all;
                changes.add.reserve(m.add.size());
                for (const auto& e : m.add)
                    changes.add.push_back(FollowedChannel{e.channel, e.version});
                changes.remove = m.remove;
                return answer(registry_.follow_channels(user, m.token, changes), user, ok);
            } else if constexpr (std::is_same_v<M, proto::PutManifest>) {
                if (checked != nullptr)
                    return answer(registry_.put_manifest(user, m.token, m.text, *checked), user,
                                  ok);
                return answer(registry_.put_manifest(user, m.token, m.text), user, ok);
            } else if constexpr (std::is_same_v<M, proto::GetManifest>) {
                auto text = registry_.get_manifest(m.channel);
                if (!text)
                    return refusal(proto::ErrorCode::kUnknownChannel,
                                   fmt::format("no manifest for channel {}", m.channel.hex()));
                return Outcome{proto::Response{proto::ManifestText{m.channel, std::move(*text)}},
                               false};
            } else if constexpr (std::is_same_v<M, proto::GetChannelPeers>) {
                proto::ChannelPeers out;
                out.channel = m.channel;
                for (auto& f : registry_.channel_peers(m.channel, user, m.numwant))
                    out.peers.push_back(
                        proto::ChannelPeerEntry{f.address, f.port, f.user, f.version});
                return Outcome{proto::Response{std::move(out)}, false};
            } else if constexpr (std::is_same_v<M, proto::ListChannels>) {
                std::optional<ChannelId> after;
                if (!m.from_start) after = m.after;
                ChannelPage page = registry_.list_channels(after, m.limit);
                proto::Channels out;
                out.more = page.more;
                out.channels.reserve(page.channels.size());
                for (auto& c : page.channels)
                    out.channels.push_back(
                        proto::ChannelInfo{c.head.channel, std::move(c.head.name), c.head.version,
                                           c.head.files, c.head.size, c.followers});
                return Outcome{proto::Response{std::move(out)}, false};
            } else {
                return refusal(proto::ErrorCode::kInternal, "no rule for this request");
            }
        },
        request);
}

}  // namespace seedshare::tracker
