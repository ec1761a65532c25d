#include "peer/discovery/tracker_client.hpp"

#include <fmt/format.h>
#include <sys/socket.h>

#include <asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "common/core/limits.hpp"
#include "common/net/waiter_queue.hpp"
#include "peer/discovery/tracker_client_state.hpp"

namespace seedshare {

namespace proto = tracker_proto;
using net::awaitable;
using namespace asio::experimental::awaitable_operators;

TrackerError::TrackerError(Kind k, HostPort w, std::string why)
    : std::runtime_error(k == Kind::kNotATracker
                             ? fmt::format("tracker {}: not a seedshare tracker ({})", w.str(), why)
                             : fmt::format("tracker {}: {}", w.str(), why)),
      kind(k),
      where(std::move(w)),
      reason(std::move(why)) {}

std::string describe(const TrackerError& e) {
    if (e.kind == TrackerError::Kind::kNotATracker)
        return fmt::format("{} is not a seedshare tracker ({})", e.where.str(), e.reason);
    if (e.kind == TrackerError::Kind::kUnreachable)
        return fmt::format("cannot reach tracker {}: {}", e.where.str(), e.reason);
    return e.what();
}

namespace {
net::Clock::duration jittered(net::Clock::duration d, std::mt19937_64& rng) {
    // 50-100% of d, so peers that lost the same tracker do not return in step.
    std::uniform_real_distribution<double> f(0.5, 1.0);
    return std::chrono::duration_cast<net::Clock::duration>(d * f(rng));
}
}  // namespace

// Writes one request and reads its response on `stream` (lock held).
awaitable<proto::Response> TrackerClient::State::exchange(State& s, net::FrameStream& stream,
                                                          const proto::Request& req) {
    // Named values, not temporaries inside co_await expressions: GCC 12 has
    // had bugs destroying those twice.
    const Bytes frame = proto::encode(req);
    co_await stream.write(frame);
    const FrameHeader h = co_await stream.read_header();
    const Bytes payload = co_await stream.read_payload(h);
    auto resp = proto::decode_response(h.type, payload);
    if (!resp) throw net::ProtocolError(resp.error().message);
    if (const auto* e = std::get_if<proto::ErrorReply>(&*resp))
        throw TrackerRefusal(e->code, s.where,
                             fmt::format("{} ({})", e->message, proto::error_code_name(e->code)));
    co_return std::move(*resp);
}

// One request over the current connection. Throws if not joined, on I/O
// failure (and drops the connection), or on an error reply.
awaitable<proto::Response> TrackerClient::State::request(std::shared_ptr<State> s,
                                                         proto::Request req) {
    Lock lock = co_await Lock::acquire(s, s->opt.request_timeout);
    if (!s->stream || !s->joined) throw s->failure("not connected");
    const auto stream = s->stream;
    const auto gen = s->generation;
    std::visit(
        [&](auto& m) {
            if constexpr (!std::is_same_v<std::decay_t<decltype(m)>, proto::Join>)
                m.token = s->token;
        },
        req);
    std::optional<std::string> failed;
    try {
        co_return co_await exchange(*s, *stream, req);
    } catch (const TrackerRefusal& e) {
        if (proto::ends_connection(e.code)) s->lose(gen);
        throw;
    } catch (const std::exception& e) {
        failed = e.what();
    }
    s->lose(gen);
    throw s->failure(*failed);
}

// Connects and joins (holding the lock, so no query slips in between).
awaitable<void> TrackerClient::State::establish(std::shared_ptr<State> s) {
    using Kind = TrackerError::Kind;
    Lock lock = co_await Lock::acquire(s, s->opt.connect_timeout + s->opt.request_timeout);
    if (s->joined) co_return;
    s->lose(s->generation);
    std::optional<std::string> failed;
    Kind kind = Kind::kUnreachable;
    std::shared_ptr<net::FrameStream> stream;
    proto::Response resp;
    // Twice at most: a tracker that predates kJoinReadsRoles refuses the
    // Join as Malformed (and closes); then once more without the flag.
    for (int attempt = 0; attempt < 2; ++attempt) {
        failed.reset();
        kind = Kind::kUnreachable;
        bool retry_without_roles = false;
        try {
            const HostPort to = s->current;
            auto socket = co_await net::connect(to, s->opt.connect_timeout);
            const auto t = s->opt.request_timeout;
            stream =
                std::make_shared<net::FrameStream>(std::move(socket), limits::kMaxTrackerFrameBytes,
                                                   net::FrameStream::Timeouts{t, t, t});
            net::spawn(s->ex, stream->watchdog(), s->log, "tracker watchdog");
            proto::Join join;
            join.user = s->opt.user;
            join.token = s->token;
            join.port = s->opt.listen_port;
            join.wants_cluster = true;
            join.backup = s->opt.backup;
            join.reads_roles = !s->roles_refused;
            const proto::Request req{join};
            resp = co_await exchange(*s, *stream, req);
        } catch (const TrackerRefusal& e) {
            kind = Kind::kRefused;
            failed = fmt::format("refused to join: {}", e.reason);
            if (e.code == proto::ErrorCode::kMalformed && !s->roles_refused) {
                s->roles_refused = true;
                retry_without_roles = true;
            }
        } catch (const net::NotSeedshare& e) {
            // Its first bytes are no frame of ours: something else listens there.
            kind = Kind::kNotATracker;
            const auto name = foreign_protocol_name(e.looks_like);
            failed = name.empty() ? fmt::format("its answer is no seedshare frame: {}", e.what())
                                  : fmt::format("it answered like {}", name);
        } catch (const net::ProtocolError& e) {
            // A frame, but not an answer a tracker gives to Join.
            kind = Kind::kNotATracker;
            failed = fmt::format("its answer is no tracker message: {}", e.what());
        } catch (const net::TimeoutError& e) {
            failed = e.reason;  // without the address: TrackerError names the tracker
        } catch (const std::exception& e) {
            failed = e.what();
        }
        if (!retry_without_roles || s->stopping) break;
        s->log.debug("tracker {} predates the roles flag of Join: joining without it", s->where);
        if (stream) stream->close();
        stream.reset();
    }
    if (failed) {
        if (stream) stream->close();
        throw TrackerError(kind, s->current, *failed);
    }
    if (s->stopping) {
        stream->close();
        throw TrackerError(Kind::kStopped, s->current, "stopped");
    }
    if (!std::holds_alternative<proto::Joined>(resp)) {
        stream->close();
        throw TrackerError(Kind::kNotATracker, s->current, "it answered Join with something else");
    }
    const auto joined = std::get<proto::Joined>(resp);
    const bool kept = joined.token == s->token;
    s->token = joined.token;
    s->heartbeat = std::clamp<net::Clock::duration>(std::chrono::milliseconds(joined.heartbeat_ms),
                                                    kMinHeartbeat, kMaxHeartbeat);
    s->next_heartbeat = s->clock.now() + s->heartbeat;
    s->stream = std::move(stream);
    ++s->generation;
    s->joined = true;
    s->full_sync = true;
    s->follows_full_sync = true;
    s->moves = 0;
    if (!joined.trackers.empty()) {
        if (joined.trackers != s->cluster)
            s->log.debug("tracker {} is in a cluster of {} trackers", s->where,
                         joined.trackers.size());
        s->cluster = joined.trackers;
    }
    s->log.debug("joined tracker {} as {} ({} token; heartbeat every {} ms; seen as {})", s->where,
                 uuid_string(s->opt.user), kept ? "kept its" : "new", joined.heartbeat_ms,
                 joined.observed.to_string());
}

// Sends the holdings: everything (after a join) or what changed.
awaitable<void> TrackerClient::State::sync(std::shared_ptr<State> s) {
    const bool full = s->full_sync;
    std::vector<proto::FileEntry> add;
    std::vector<SeedId> remove;
    std::set<SeedId> taken;
    if (full) {
        for (const auto& [id, h] : s->held)
            add.push_back(h.entry);
        s->full_sync = false;
        taken = std::move(s->changed);
    } else {
        taken = std::move(s->changed);
        for (const auto& id : taken) {
            if (auto it = s->held.find(id); it != s->held.end())
                add.push_back(it->second.entry);
            else
                remove.push_back(id);
        }
    }
    s->changed.clear();
    try {
        // Messages of at most kMaxFileListEntries entries; the first of a full
        // sync replaces the whole list, the rest add to it.
        std::size_t a = 0;
        std::size_t r = 0;
        bool first = true;
        while (first || a < add.size() || r < remove.size()) {
            proto::FileList msg;
            msg.replace_all = full && first;
            first = false;
            while (a < add.size() && msg.add.size() < limits::kMaxFileListEntries)
                msg.add.push_back(add[a++]);
            while (r < remove.size() &&
                   msg.add.size() + msg.remove.size() < limits::kMaxFileListEntries)
                msg.remove.push_back(remove[r++]);
            proto::Request req{std::move(msg)};
            auto answer = co_await request(s, std::move(req));
            auto ok = s->expect<proto::FileListOk>(std::move(answer));
            for (const auto& id : ok.need_seed) {
                const auto it = s->held.find(id);
                if (it == s->held.end()) continue;  // dropped meanwhile
                proto::PutSeed put;
                put.seed_text = it->second.seed_text;
                try {
                    proto::Request req{std::move(put)};
                    co_await request(s, std::move(req));
                } catch (const TrackerRefusal& e) {
                    if (proto::ends_connection(e.code)) throw;
                    s->log.warn("seed {} not accepted: {}", id.hex(), e.what());
                }
            }
        }
    } catch (const TrackerRefusal& e) {
        if (e.code == proto::ErrorCode::kLimit) {
            // Retrying the same list cannot help; the tracker keeps what it had.
            s->log.warn("file list not accepted: {}", e.what());
            co_return;
        }
        if (full) s->full_sync = true;
        s->changed.insert(taken.begin(), taken.end());
        throw;
    } catch (...) {
        if (full) s->full_sync = true;
        s->changed.insert(taken.begin(), taken.end());
        throw;
    }
}

// Waits for the next heartbeat, a change to send, stop(), or the tracker
// closing the connection (the socket turns readable while no request is out).
awaitable<void> TrackerClient::State::idle(std::shared_ptr<State> s) {
    const auto stream = s->stream;
    const auto gen = s->generation;
    s->wake.expires_at(s->next_heartbeat);
    asio::error_code read_ec;
    const auto which =
        co_await (s->wake.wait() ||
                  stream->socket().async_wait(net::tcp::socket::wait_read,
                                              asio::redirect_error(asio::use_awaitable, read_ec)));
    if (which.index() == 0 || s->stopping) co_return;
    // Readable: a response to a concurrent query, or the tracker went away.
    // Look once no request is in flight.
    Lock lock = co_await Lock::acquire(s, s->opt.request_timeout);
    if (gen != s->generation || !s->stream) co_return;
    std::uint8_t byte = 0;
    const auto n = ::recv(stream->socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        s->log.debug("tracker {} closed the connection", s->where);
        s->lose(gen);
    } else if (n > 0) {
        s->log.warn("tracker {} sent a message nobody asked for; reconnecting", s->where);
        s->lose(gen);
    }
}

TrackerClient::TrackerClient(asio::any_io_executor ex, Options options, Logger log)
    : state_(std::make_shared<State>(std::move(ex), std::move(options), std::move(log))) {}

TrackerClient::~TrackerClient() {
    stop();
}

net::awaitable<void> TrackerClient::connect() {
    auto s = state_;  // `this` may go away while suspended
    co_await State::establish(s);
}

net::awaitable<void> TrackerClient::run(bool after_failure) {
    auto s = state_;
    net::Clock::duration backoff = kBackoffMin;
    if (after_failure) co_await net::sleep_for(s->retry, jittered(backoff, s->rng));
    while (!s->stopping) {
        std::optional<std::string> failed;
        if (!s->joined) {
            try {
                co_await State::establish(s);
                backoff = kBackoffMin;
            } catch (const std::exception& e) {
                failed = e.what();
            }
            if (failed) {
                if (s->stopping) break;
                // Another tracker of the cluster at once: same token, so the
                // registration (kept in the cluster) carries over.
                if (s->move_on()) {
                    s->log.info("{}; moving to tracker {} of its cluster", *failed, s->where);
                    continue;
                }
                const auto wait = jittered(backoff, s->rng);
                s->log.warn("{}; retrying in {} ms", *failed,
                            std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
                co_await net::sleep_for(s->retry, wait);
                s->moves = 0;  // then a new pass over the cluster
                // At most a heartbeat apart: a tracker that comes back hears
                // from every peer within one heartbeat, and can answer right.
                backoff = std::min<net::Clock::duration>(
                    {backoff * 2, kBackoffMax,
                     std::max<net::Clock::duration>(kBackoffMin, s->heartbeat)});
                continue;
            }
        }
        bool pause = false;
        try {
            if (s->full_sync || !s->changed.empty()) {
                co_await State::sync(s);
            } else if (s->follows_pending()) {
                co_await State::sync_follows(s);
            } else if (s->clock.now() >= s->next_heartbeat) {
                s->next_heartbeat = s->clock.now() + s->heartbeat;
                proto::Request req{proto::Heartbeat{}};
                co_await State::request(s, std::move(req));
                ++s->heartbeats;
            } else {
                co_await State::idle(s);
            }
        } catch (const TrackerRefusal& e) {
            if (!s->stopping) s->log.warn("{}", e.what());
            // A refusal that keeps the connection (Internal): try again later.
            pause = !proto::ends_connection(e.code);
        } catch (const std::exception& e) {
            // The connection was dropped: rejoin right away (backoff applies
            // if that fails).
            if (!s->stopping) s->log.warn("{}", e.what());
        }
        if (pause && !s->stopping) co_await net::sleep_for(s->retry, jittered(backoff, s->rng));
    }
}

net::awaitable<void> TrackerClient::leave() {
    auto s = state_;
    if (s->joined) {
        try {
            proto::Request req{proto::Leave{}};
            co_await State::request(s, std::move(req));
            s->log.debug("left tracker {}", s->where);
        } catch (const std::exception& e) {
            s->log.debug("leave: {}", e.what());
        }
    }
    s->stopping = true;
    s->lose(s->generation);
    s->wake.cancel();
    s->retry.cancel();
}

void TrackerClient::stop() {
    auto& s = *state_;
    s.stopping = true;
    s.lose(s.generation);
    s.wake.cancel();
    s.retry.cancel();
    s.waiters.wake_all();
}

void TrackerClient::hold(const Seed& seed, bool complete) {
    auto& s = *state_;
    proto::FileEntry e{seed.id(), seed.name, seed.length, complete};
    auto it = s.held.find(e.id);
    if (it != s.held.end() && it->second.entry == e) return;
    const SeedId id = e.id;
    s.held[id] = State::Held{std::move(e), format_seed(seed)};
    s.changed.insert(id);
    s.wake.cancel();
}

void TrackerClient::drop(const SeedId& id) {
    auto& s = *state_;
    if (s.held.erase(id) == 0) return;
    s.changed.insert(id);
    s.wake.cancel();
}

net::awaitable<std::vector<proto::PeerEntry>> TrackerClient::get_peers(const SeedId& id,
                                                                       std::uint16_t numwant) {
    auto s = state_;
    proto::GetPeers q;
    q.id = id;
    q.numwant = std::clamp<std::uint16_t>(numwant, 1, limits::kMaxNumWant);
    proto::Request req{q};
    auto answer = co_await State::request(s, std::move(req));
    auto peers = s->expect<proto::Peers>(std::move(answer));
    if (peers.id != id) {
        s->lose(s->generation);
        throw s->failure("answered peers for another seed");
    }
    co_return std::move(peers.peers);
}

net::awaitable<std::optional<std::string>> TrackerClient::get_seed(const SeedId& id) {
    auto s = state_;
    proto::GetSeed q;
    q.id = id;
    proto::Response resp;
    try {
        proto::Request req{q};
        resp = co_await State::request(s, std::move(req));
    } catch (const TrackerRefusal& e) {
        if (e.code != proto::ErrorCode::kUnknownSeed) throw;
        co_return std::nullopt;
    }
    auto text = s->expect<proto::SeedText>(std::move(resp));
    if (text.id != id) {
        s->lose(s->generation);
        throw s->failure("answered the seed text of another seed");
    }
    co_return std::move(text.text);
}

net::awaitable<std::vector<proto::FileInfo>> TrackerClient::list_files(std::size_t max_entries) {
    auto s = state_;
    std::vector<proto::FileInfo> out;
    proto::ListFiles q;
    q.from_start = true;
    q.limit = static_cast<std::uint16_t>(limits::kMaxListFilesPage);
    for (std::size_t page = 0; page < kMaxListPages; ++page) {
        proto::Request req{q};
        auto answer = co_await State::request(s, std::move(req));
        auto files = s->expect<proto::Files>(std::move(answer));
        if (!q.from_start && !files.files.empty() && !(q.after < files.files.front().id))
            throw s->failure("listed files out of order");
        if (files.more && files.files.empty())
            throw s->failure("listed an empty page with more to come");
        for (auto& f : files.files)
            out.push_back(std::move(f));
        if (!files.more) co_return out;
        if (out.size() >= max_entries) {
            out.resize(max_entries);
            co_return out;
        }
        q.from_start = false;
        q.after = out.back().id;
    }
    throw s->failure("the file list does not end");
}

std::uint64_t TrackerClient::heartbeats() const {
    return state_->heartbeats;
}

bool TrackerClient::joined() const {
    return state_->joined && state_->stream != nullptr;
}

const HostPort& TrackerClient::tracker() const {
    return state_->opt.tracker;
}

}  // namespace seedshare
