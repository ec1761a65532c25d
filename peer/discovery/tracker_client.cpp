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

namespace seedshare {

namespace proto = tracker_proto;
using net::awaitable;
using net::Clock;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kBackoffMin = std::chrono::milliseconds(500);
constexpr auto kBackoffMax = std::chrono::seconds(30);
// A heartbeat interval from the tracker is kept within these bounds.
constexpr auto kMinHeartbeat = std::chrono::milliseconds(50);
constexpr auto kMaxHeartbeat = std::chrono::hours(1);
// list_files() stops after this many pages (a tracker that never ends a listing).
constexpr std::size_t kMaxListPages = 100000;

// The tracker answered with an error. what() is "tracker HOST:PORT: REASON".
struct TrackerRefusal : std::runtime_error {
    TrackerRefusal(proto::ErrorCode c, const std::string& where, std::string why)
        : std::runtime_error(fmt::format("tracker {}: {}", where, why)),
          code(c),
          reason(std::move(why)) {}
    proto::ErrorCode code;
    std::string reason;  // the tracker's message and the code's name
};

}  // namespace

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

struct TrackerClient::State {
    State(asio::any_io_executor e, Options o, Logger l)
        : ex(std::move(e)),
          opt(std::move(o)),
          log(std::move(l)),
          where(opt.tracker.str()),
          wake(ex),
          retry(ex),
          rng(std::random_device{}()) {}

    struct Held {
        proto::FileEntry entry;
        std::string seed_text;
    };

    asio::any_io_executor ex;
    Options opt;
    Logger log;
    std::string where;  // "host:port", for messages

    std::shared_ptr<net::FrameStream> stream;
    std::uint64_t generation = 0;  // counts connections, so a stale failure spares a newer one
    bool joined = false;
    Token token;  // presented at rejoin, so the tracker keeps our identity
    Clock::duration heartbeat = std::chrono::seconds(30);
    Clock::time_point next_heartbeat;

    std::map<SeedId, Held> held;
    std::set<SeedId> changed;  // ids to send as a delta
    bool full_sync = true;     // send the whole list (after every join)

    std::map<ChannelId, std::uint64_t> followed;  // channel -> version held
    std::set<ChannelId> follows_changed;          // channels to send as a delta
    bool follows_full_sync = true;                // send them all (after every join)
    // A peer that never followed a channel sends no FollowChannels at all.
    bool ever_followed = false;
    bool follows_pending() const {
        return ever_followed && (follows_full_sync || !follows_changed.empty());
    }

    bool stopping = false;
    asio::steady_timer wake;   // run() idles on it; changes and stop() cancel it
    asio::steady_timer retry;  // reconnect backoff; only stop() cancels it
    std::mt19937_64 rng;

    bool busy = false;           // a request is in flight
    net::WaiterQueue<> waiters;  // for the request lock

    // Drops connection `gen` (if it is still the current one) and wakes run().
    void lose(std::uint64_t gen) {
        if (gen != generation || !stream) return;
        stream->close();
        stream.reset();
        joined = false;
        wake.cancel();
    }
    // Hands the request lock to the oldest waiter, if any.
    void release() {
        if (!waiters.grant_front()) busy = false;
    }
    std::runtime_error failure(std::string_view what) const {
        return std::runtime_error(fmt::format("tracker {}: {}", where, what));
    }

    // The coroutines behind the public calls. Each holds the State alive by
    // its shared_ptr, so a TrackerClient may be destroyed while they sleep.
    class Lock;
    static awaitable<proto::Response> exchange(State& s, net::FrameStream& stream,
                                               const proto::Request& req);
    static awaitable<proto::Response> request(std::shared_ptr<State> s, proto::Request req);
    static awaitable<void> establish(std::shared_ptr<State> s);
    static awaitable<void> sync(std::shared_ptr<State> s);
    static awaitable<void> sync_follows(std::shared_ptr<State> s);
    static awaitable<void> idle(std::shared_ptr<State> s);
    template <class T>
    T expect(proto::Response&& r) const {
        if (auto* v = std::get_if<T>(&r)) return std::move(*v);
        throw failure("unexpected response type");
    }
};

namespace {
Clock::duration jittered(Clock::duration d, std::mt19937_64& rng) {
    // 50-100% of d, so peers that lost the same tracker do not return in step.
    std::uniform_real_distribution<double> f(0.5, 1.0);
    return std::chrono::duration_cast<Clock::duration>(d * f(rng));
}
}  // namespace

// Holds the request lock: one request in flight per connection, in order.
class TrackerClient::State::Lock {
  public:
    static awaitable<Lock> acquire(std::shared_ptr<State> s, Clock::duration timeout) {
        if (s->stopping) throw s->failure("stopped");
        if (s->busy) {
            const bool granted = co_await s->waiters.wait(timeout);
            if (!granted)
                throw s->failure(s->stopping ? "stopped" : "timed out behind an earlier request");
        }
        s->busy = true;
        co_return Lock(s);
    }
    Lock(Lock&& o) noexcept : s_(std::move(o.s_)) {}
    Lock& operator=(Lock&&) = delete;
    ~Lock() {
        if (s_) s_->release();
    }

  private:
    explicit Lock(std::shared_ptr<State> s) : s_(std::move(s)) {}
    std::shared_ptr<State> s_;
};

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
    try {
        auto socket = co_await net::connect(s->opt.tracker, s->opt.connect_timeout);
        const auto t = s->opt.request_timeout;
        stream = std::make_shared<net::FrameStream>(
            std::move(socket), limits::kMaxTrackerFrameBytes, net::FrameStream::Timeouts{t, t, t});
        net::spawn(s->ex, stream->watchdog(), s->log, "tracker watchdog");
        proto::Join join;
        join.user = s->opt.user;
        join.token = s->token;
        join.port = s->opt.listen_port;
        const proto::Request req{join};
        resp = co_await exchange(*s, *stream, req);
    } catch (const TrackerRefusal& e) {
        kind = Kind::kRefused;
        failed = fmt::format("refused to join: {}", e.reason);
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
    if (failed) {
        if (stream) stream->close();
        throw TrackerError(kind, s->opt.tracker, *failed);
    }
    if (s->stopping) {
        stream->close();
        throw TrackerError(Kind::kStopped, s->opt.tracker, "stopped");
    }
    if (!std::holds_alternative<proto::Joined>(resp)) {
        stream->close();
        throw TrackerError(Kind::kNotATracker, s->opt.tracker,
                           "it answered Join with something else");
    }
    const auto joined = std::get<proto::Joined>(resp);
    const bool kept = joined.token == s->token;
    s->token = joined.token;
    s->heartbeat = std::clamp<Clock::duration>(std::chrono::milliseconds(joined.heartbeat_ms),
                                               kMinHeartbeat, kMaxHeartbeat);
    s->next_heartbeat = Clock::now() + s->heartbeat;
    s->stream = std::move(stream);
    ++s->generation;
    s->joined = true;
    s->full_sync = true;
    s->follows_full_sync = true;
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

// Sends the follows: all of them (after a join) or what changed. One message:
// a peer follows at most kMaxChannelsPerPeer = kMaxFollowEntries channels.
awaitable<void> TrackerClient::State::sync_follows(std::shared_ptr<State> s) {
    static_assert(limits::kMaxChannelsPerPeer <= limits::kMaxFollowEntries);
    const bool full = s->follows_full_sync;
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

// Waits for the next heartbeat, a change to send, stop(), or the tracker
// closing the connection (the socket turns readable while no request is out).
awaitable<void> TrackerClient::State::idle(std::shared_ptr<State> s) {
    const auto stream = s->stream;
    const auto gen = s->generation;
    s->wake.expires_at(s->next_heartbeat);
    asio::error_code wake_ec;
    asio::error_code read_ec;
    const auto which =
        co_await (s->wake.async_wait(asio::redirect_error(asio::use_awaitable, wake_ec)) ||
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
    Clock::duration backoff = kBackoffMin;
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
                const auto wait = jittered(backoff, s->rng);
                s->log.warn("{}; retrying in {} ms", *failed,
                            std::chrono::duration_cast<std::chrono::milliseconds>(wait).count());
                co_await net::sleep_for(s->retry, wait);
                // At most a heartbeat apart: a tracker that comes back hears
                // from every peer within one heartbeat, and can answer right.
                backoff = std::min<Clock::duration>(
                    {backoff * 2, kBackoffMax,
                     std::max<Clock::duration>(kBackoffMin, s->heartbeat)});
                continue;
            }
        }
        bool pause = false;
        try {
            if (s->full_sync || !s->changed.empty()) {
                co_await State::sync(s);
            } else if (s->follows_pending()) {
                co_await State::sync_follows(s);
            } else if (Clock::now() >= s->next_heartbeat) {
                s->next_heartbeat = Clock::now() + s->heartbeat;
                proto::Request req{proto::Heartbeat{}};
                co_await State::request(s, std::move(req));
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

void TrackerClient::follow(const ChannelId& channel, std::uint64_t version) {
    auto& s = *state_;
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

net::awaitable<std::vector<proto::FileInfo>> TrackerClient::list_files() {
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
        q.from_start = false;
        q.after = out.back().id;
    }
    throw s->failure("the file list does not end");
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

net::awaitable<std::vector<proto::ChannelInfo>> TrackerClient::list_channels() {
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
        q.from_start = false;
        q.after = out.back().channel;
    }
    throw s->failure("the channel list does not end");
}

bool TrackerClient::joined() const {
    return state_->joined && state_->stream != nullptr;
}

const HostPort& TrackerClient::tracker() const {
    return state_->opt.tracker;
}

}  // namespace seedshare
