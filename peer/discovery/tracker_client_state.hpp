// Inside TrackerClient (not for other users): its shared state, the request
// lock and the refusal type, for tracker_client.cpp (connection, holdings,
// queries) and tracker_client_channels.cpp (follows and manifests).
#pragma once

#include <algorithm>

#include <fmt/format.h>

#include <map>
#include <random>
#include <set>

#include "common/core/limits.hpp"
#include "common/net/clock_timer.hpp"
#include "common/net/waiter_queue.hpp"
#include "peer/discovery/tracker_client.hpp"

namespace seedshare {

namespace proto = tracker_proto;
using net::awaitable;

namespace tracker_client_detail {

constexpr auto kBackoffMin = std::chrono::milliseconds(500);
constexpr auto kBackoffMax = std::chrono::seconds(30);
// A heartbeat interval from the tracker is kept within these bounds.
constexpr auto kMinHeartbeat = std::chrono::milliseconds(50);
constexpr auto kMaxHeartbeat = std::chrono::hours(1);
// list_files() and list_channels() stop after this many pages (a tracker
// that never ends a listing).
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

}  // namespace tracker_client_detail

using namespace tracker_client_detail;

struct TrackerClient::State {
    State(asio::any_io_executor e, Options o, Logger l)
        : ex(std::move(e)),
          opt(std::move(o)),
          log(std::move(l)),
          where(opt.tracker.str()),
          current(opt.tracker),
          clock(*opt.clock),
          wake(ex, clock),
          retry(ex, clock),
          rng(std::random_device{}()) {}

    struct Held {
        proto::FileEntry entry;
        std::string seed_text;
    };

    asio::any_io_executor ex;
    Options opt;
    Logger log;
    std::string where;  // "host:port" of `current`, for messages

    // The tracker connected to: opt.tracker, or another tracker of its
    // cluster (Joined.trackers) after opt.tracker failed.
    HostPort current;
    std::vector<HostPort> cluster;  // the last Joined's list (empty: no cluster)
    std::size_t moves = 0;          // moves since the last join (bounds a pass)

    // After a failed join: the next tracker of the cluster to try at once,
    // or false when every one was tried since the last join (then back off).
    bool move_on() {
        if (cluster.size() < 2 || moves + 1 >= cluster.size()) return false;
        const auto at = std::find(cluster.begin(), cluster.end(), current);
        const std::size_t i = at == cluster.end() ? 0 : (at - cluster.begin() + 1) % cluster.size();
        current = cluster[i];
        where = current.str();
        ++moves;
        return true;
    }

    std::shared_ptr<net::FrameStream> stream;
    std::uint64_t generation = 0;  // counts connections, so a stale failure spares a newer one
    bool joined = false;
    Token token;  // presented at rejoin, so the tracker keeps our identity
    // This tracker refused a Join saying it reads roles (kJoinReadsRoles):
    // it predates the flag, so we join without it (and learn no backups).
    bool roles_refused = false;
    net::Clock::duration heartbeat = std::chrono::seconds(30);
    net::Clock::time_point next_heartbeat;
    std::uint64_t heartbeats = 0;  // answered, since the client was made

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
    const seedshare::Clock& clock;  // heartbeats and backoff (opt.clock)
    net::ClockTimer wake;           // run() idles on it; changes and stop() cancel it
    net::ClockTimer retry;          // reconnect backoff; only stop() cancels it
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

// Holds the request lock: one request in flight per connection, in order.
class TrackerClient::State::Lock {
  public:
    static awaitable<Lock> acquire(std::shared_ptr<State> s, net::Clock::duration timeout) {
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

}  // namespace seedshare
