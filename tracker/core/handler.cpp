#include "tracker/core/handler.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "tracker/sqlite/sqlite.hpp"

namespace seedshare::tracker {

namespace proto = tracker_proto;

namespace {

template <class T>
Outcome from_answer(Answer<T>&& a) {
    if (auto* e = std::get_if<proto::ErrorReply>(&a))
        return refusal(e->code, std::move(e->message));
    return Outcome{proto::Response{std::move(std::get<T>(a))}, false};
}

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

std::chrono::milliseconds Handler::heartbeat_interval() const {
    return std::max(std::chrono::milliseconds(1), store_.ttl() / 3);
}

Outcome Handler::handle(Connection& conn, const proto::Request& request,
                        const Result<ParsedSeed>* parsed) {
    try {
        if (!conn.joined()) {
            if (const auto* j = std::get_if<proto::Join>(&request)) return join(conn, *j);
            return refusal(proto::ErrorCode::kJoinFirst,
                           "the first message on a connection must be Join");
        }
        if (std::holds_alternative<proto::Join>(request))
            return refusal(proto::ErrorCode::kMalformed, "Join sent twice on one connection");
        if (token_of(request) != conn.token)
            return refusal(proto::ErrorCode::kBadToken,
                           "the token is not the one this connection joined with");
        return dispatch(conn, request, parsed);
    } catch (const sqlite::DbError& e) {
        return refusal(
            proto::ErrorCode::kInternal,
            fmt::format("the tracker's database failed ({}); try again later", e.what()));
    }
}

Outcome Handler::join(Connection& conn, const proto::Join& j) {
    if (j.version != proto::kVersion)
        return refusal(proto::ErrorCode::kVersionMismatch,
                       fmt::format("protocol version mismatch: the peer speaks tracker protocol "
                                   "version {}, this tracker speaks version {}",
                                   j.version, proto::kVersion));
    auto a = store_.join(j.user, j.token, conn.remote, j.port);
    if (auto* e = std::get_if<proto::ErrorReply>(&a))
        return refusal(e->code, std::move(e->message));
    const auto& r = std::get<JoinResult>(a);
    conn.user = j.user;
    conn.token = r.token;
    proto::Joined out;
    out.token = r.token;
    out.heartbeat_ms = static_cast<std::uint32_t>(heartbeat_interval().count());
    out.ttl_ms = static_cast<std::uint32_t>(store_.ttl().count());
    out.observed = conn.remote;
    return Outcome{proto::Response{out}, false};
}

Outcome Handler::dispatch(Connection& conn, const proto::Request& request,
                          const Result<ParsedSeed>* parsed) {
    const UserId& user = *conn.user;
    return std::visit(
        [&](const auto& m) -> Outcome {
            using M = std::decay_t<decltype(m)>;
            if constexpr (std::is_same_v<M, proto::Heartbeat>) {
                return from_answer(store_.heartbeat(user, m.token));
            } else if constexpr (std::is_same_v<M, proto::FileList>) {
                return from_answer(store_.update_files(user, m));
            } else if constexpr (std::is_same_v<M, proto::PutSeed>) {
                if (parsed != nullptr)
                    return from_answer(store_.put_seed(user, m.token, m.seed_text, *parsed));
                return from_answer(store_.put_seed(user, m.token, m.seed_text));
            } else if constexpr (std::is_same_v<M, proto::GetPeers>) {
                return Outcome{proto::Response{store_.get_peers(m.id, user, m.numwant)}, false};
            } else if constexpr (std::is_same_v<M, proto::ListFiles>) {
                std::optional<SeedId> after;
                if (!m.from_start) after = m.after;
                return Outcome{proto::Response{store_.list_files(after, m.limit)}, false};
            } else if constexpr (std::is_same_v<M, proto::GetSeed>) {
                auto text = store_.get_seed(m.id);
                if (!text)
                    return refusal(proto::ErrorCode::kUnknownSeed,
                                   fmt::format("no seed text for {}", m.id.hex()));
                return Outcome{proto::Response{proto::SeedText{m.id, std::move(*text)}}, false};
            } else if constexpr (std::is_same_v<M, proto::Leave>) {
                auto out = from_answer(store_.leave(user, m.token));
                out.close = true;  // nothing more to say on this connection
                conn.user.reset();
                return out;
            } else {
                static_assert(std::is_same_v<M, proto::Join>);
                return refusal(proto::ErrorCode::kMalformed, "Join sent twice on one connection");
            }
        },
        request);
}

}  // namespace seedshare::tracker
