// Turns one decoded request on one connection into its response: the
// tracker's protocol rules (Join first, version check, token check, which
// errors end the connection) on top of a Registry, whose domain results it
// maps to the wire. No I/O: the session feeds it requests and writes what it
// returns; tests drive it with an in-memory registry.
#pragma once

#include <asio/ip/address.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/ids.hpp"
#include "common/wire/tracker_protocol.hpp"
#include "tracker/core/registry.hpp"

namespace seedshare::tracker {

// What the tracker knows about one connection.
struct Connection {
    asio::ip::address remote;    // the socket's peer address, v4-mapped normalized
    std::optional<UserId> user;  // set by a successful Join
    Token token;
    // Joined with kJoinReadsRoles: its Peers entries may mark backup peers.
    bool reads_roles = false;
    bool joined() const { return user.has_value(); }
};

struct Outcome {
    tracker_proto::Response response;
    bool close = false;  // send the response, then end the connection
};

class Handler {
  public:
    explicit Handler(Registry& registry) : registry_(registry) {}

    // The trackers of this tracker's cluster, for a Join that asks for them
    // (unset: not in a cluster). Called from the thread handle() runs on.
    using ClusterFn = std::function<std::vector<HostPort>()>;
    void set_cluster(ClusterFn cluster) { cluster_ = std::move(cluster); }

    // `parsed` is the PutSeed text already parsed off the I/O thread, and
    // `checked` the PutManifest text already checked there (the handler does
    // it itself when null). Never throws on bad input; a RegistryFailure
    // becomes an Internal error that keeps the connection.
    Outcome handle(Connection& conn, const tracker_proto::Request& request,
                   const Result<ParsedSeed>* parsed = nullptr,
                   const Result<ManifestSummary>* checked = nullptr);

    // The answer when it needs no registry call that may wait on I/O: a
    // refusal by the rules, a heartbeat the registry answers from memory,
    // and, when the registry reads from memory, GetPeers, ListFiles,
    // GetChannelPeers and ListChannels. nullopt otherwise: call handle()
    // (where waiting is fine). The server of a registry whose calls wait
    // (etcd) tries this on its I/O thread before handing a request to a
    // worker thread.
    std::optional<Outcome> handle_now(Connection& conn, const tracker_proto::Request& request);

    // Heartbeat interval announced in Joined: a third of the TTL, so a peer
    // can miss two heartbeats before it expires.
    std::chrono::milliseconds heartbeat_interval() const;

  private:
    // The refusal a request gets by the rules alone (Join first, once; the
    // connection's token), if any.
    std::optional<Outcome> rule_refusal(const Connection& conn,
                                        const tracker_proto::Request& request) const;
    Outcome join(Connection& conn, const tracker_proto::Join& join);
    Outcome dispatch(Connection& conn, const tracker_proto::Request& request,
                     const Result<ParsedSeed>* parsed, const Result<ManifestSummary>* checked);
    Outcome channel_request(const UserId& user, const tracker_proto::Request& request,
                            const Result<ManifestSummary>* checked);
    // The wire error for a registry's refusal of `user`'s request.
    Outcome refusal_of(const RegistryError& e, const UserId& user) const;
    template <class T, class ToWire>
    Outcome answer(RegistryResult<T>&& r, const UserId& user, ToWire to_wire) const;

    Registry& registry_;
    ClusterFn cluster_;
};

// An error reply; `close` follows tracker_proto::ends_connection.
Outcome refusal(tracker_proto::ErrorCode code, std::string message);

}  // namespace seedshare::tracker
