#include "tracker/server/server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "common/core/address.hpp"
#include "common/core/plural.hpp"
#include "common/core/token_bucket.hpp"
#include "common/net/listener.hpp"
#include "common/net/net.hpp"
#include "common/net/waiter_queue.hpp"
#include "common/wire/tracker_protocol.hpp"
#include "tracker/core/handler.hpp"
#include "tracker/server/byte_budget.hpp"

namespace seedshare::tracker {

namespace proto = tracker_proto;
using net::awaitable;
using net::Clock;
using net::tcp;

namespace {

// Frames with a payload above this share the server's large-frame budget.
constexpr std::size_t kLargeFrameBytes = 64u << 10;
// Sweep in steps of this many peers, yielding between steps.
constexpr std::size_t kSweepStep = 1000;
// After a failed accept (out of descriptors), wait before trying again.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

bool out_of_descriptors(const asio::error_code& ec) {
    return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
           ec == asio::error::no_memory || ec.value() == ENFILE;
}

}  // namespace

// One connection. Small, as a tracker holds tens of thousands of them: no
// logger of its own (log() makes one, named after the remote, for the few
// lines a connection writes), no watchdog (the server's deadline sweep
// closes overdue streams), one coroutine while idle.
struct Session {
    std::shared_ptr<net::FrameStream> stream;
    Connection conn;
    TokenBucket bucket;  // requests allowed: a token each
    const Logger* server_log;
    Logger log() const { return server_log->sub(stream->remote()); }
};

namespace detail {

struct ServerState {
    using Options = TrackerServer::Options;
    ServerState(asio::any_io_executor ex, Registry& store, Options options, Logger log)
        : ex(ex),
          store(store),
          opt(std::move(options)),
          log(std::move(log)),
          handler(store),
          acceptor(ex),
          housekeeping(ex),
          deadlines(ex),
          budget(opt.large_frame_budget) {
        store.set_ttl(opt.ttl);
        if (opt.cluster) handler.set_cluster(opt.cluster);
    }

    asio::any_io_executor ex;
    Registry& store;
    Options opt;
    Logger log;
    Handler handler;
    tcp::acceptor acceptor;
    asio::steady_timer housekeeping;
    asio::steady_timer deadlines;  // sweep_deadlines' sleep
    ByteBudget budget;
    std::unique_ptr<asio::thread_pool> pool;  // parses uploaded seeds
    // Runs the registry's calls when opt.registry_threads > 0.
    std::unique_ptr<asio::thread_pool> registry_pool;
    std::unordered_set<Session*> sessions;
    std::unordered_map<UserId, Session*, FixedIdHash> by_user;
    std::uint64_t requests = 0;  // handled since the last summary line
    std::uint16_t port = 0;
    std::string listen_text;
    bool started = false;
    bool stopped = false;
};

}  // namespace detail

namespace {

using State = detail::ServerState;

// (optional: co_spawn wants a default-constructible result)
awaitable<std::optional<Result<ParsedSeed>>> parse_task(std::shared_ptr<std::string> text) {
    co_return parse_seed_for_upload(*text);
}
awaitable<std::optional<Result<ManifestSummary>>> check_manifest_task(
    std::shared_ptr<std::string> text) {
    co_return check_manifest_for_upload(*text);
}

// Runs `job` on the registry pool (when there is one) and resumes on the
// server's executor with its result; an exception it throws is rethrown here.
template <class R>
awaitable<R> on_registry(State& st, std::function<R()> job) {
    if (!st.registry_pool) co_return job();
    auto initiate = [&st](auto handler, std::function<R()> fn) {
        asio::post(
            *st.registry_pool, [h = std::move(handler), fn = std::move(fn), ex = st.ex]() mutable {
                std::exception_ptr error;
                R result{};
                try {
                    result = fn();
                } catch (...) {
                    error = std::current_exception();
                }
                asio::post(ex, [h = std::move(h), error, result = std::move(result)]() mutable {
                    std::move(h)(error, std::move(result));
                });
            });
    };
    co_return co_await asio::async_initiate<decltype(asio::use_awaitable),
                                            void(std::exception_ptr, R)>(
        initiate, asio::use_awaitable, std::move(job));
}

// A manifest refused is worth a warning: a forged or rolled-back version, or
// a publisher that lost track of its numbers.
bool manifest_refusal(const Outcome& out) {
    const auto* e = std::get_if<proto::ErrorReply>(&out.response);
    return e != nullptr && (e->code == proto::ErrorCode::kManifestRefused ||
                            e->code == proto::ErrorCode::kManifestStale ||
                            e->code == proto::ErrorCode::kManifestConflict);
}

// Registers a session for stop() and for replacement by a newer connection of
// the same userid; unregisters and closes when the session ends.
class Registration {
  public:
    Registration(State& st, Session& s) : st_(st), s_(s) { st_.sessions.insert(&s_); }
    ~Registration() {
        st_.sessions.erase(&s_);
        if (s_.conn.user) {
            auto it = st_.by_user.find(*s_.conn.user);
            if (it != st_.by_user.end() && it->second == &s_) st_.by_user.erase(it);
        }
        s_.stream->close();
    }

  private:
    State& st_;
    Session& s_;
};

// Why a session ended, and what to tell the peer on the way out.
struct Ending {
    Ending() = default;
    Ending(std::string r, bool w = false) : reason(std::move(r)), warn(w) {}
    std::string reason;
    bool warn = false;
    std::optional<proto::ErrorReply> farewell;
};

Ending violation(proto::ErrorCode code, std::string message) {
    Ending e(message, true);
    e.farewell = proto::ErrorReply{code, std::move(message)};
    return e;
}

// One request, from its header on: read, paced, answered. Its own
// coroutine, so the frame holding a request's values (the decoded request,
// the answer, parsed seeds) exists only while a request is handled, and an
// idle connection keeps only the loop below (a tracker holds tens of
// thousands of them). nullopt: the session goes on.
awaitable<std::optional<Ending>> serve_request(std::shared_ptr<State> st, Session& s,
                                               FrameHeader h) {
    auto& fs = *s.stream;
    {
        if (st->stopped) co_return Ending{"tracker stopping"};
        if (auto fits = proto::check_request_header(h); !fits)
            co_return violation(proto::ErrorCode::kMalformed, fits.error().message);
        std::optional<ByteBudget::Lease> lease;
        if (h.payload_size() > kLargeFrameBytes) {
            lease = co_await st->budget.acquire(h.payload_size(), st->opt.frame_timeout);
            if (st->stopped) co_return Ending{"tracker stopping"};
            if (!lease)
                co_return violation(proto::ErrorCode::kLimit,
                                    "the tracker is busy with large requests; try again later");
        }
        Bytes payload = co_await fs.read_payload(h);
        auto req = proto::decode_request(h.type, payload);
        payload = Bytes();
        if (st->stopped) co_return Ending{"tracker stopping"};
        if (!req) co_return violation(proto::ErrorCode::kMalformed, req.error().message);

        if (const auto wait = s.bucket.take(1); wait > Clock::duration::zero()) {
            asio::steady_timer pace(st->ex);
            co_await net::sleep_for(pace, wait);
            if (st->stopped) co_return Ending{"tracker stopping"};
        }

        const auto began = Clock::now();
        // Parse big uploads off the I/O thread; small ones are not worth the hop.
        std::optional<Result<ParsedSeed>> parsed;
        if (auto* put = std::get_if<proto::PutSeed>(&*req);
            put != nullptr && s.conn.joined() && put->token == s.conn.token &&
            put->seed_text.size() > kLargeFrameBytes) {
            auto text = std::make_shared<std::string>(std::move(put->seed_text));
            auto task = parse_task(text);
            parsed = co_await asio::co_spawn(st->pool->get_executor(), std::move(task),
                                             asio::use_awaitable);
            if (st->stopped) co_return Ending{"tracker stopping"};
            put->seed_text = std::move(*text);
        }
        // The same for big manifests (parse, hash, signature check).
        std::optional<Result<ManifestSummary>> checked;
        if (auto* put = std::get_if<proto::PutManifest>(&*req);
            put != nullptr && s.conn.joined() && put->token == s.conn.token &&
            put->text.size() > kLargeFrameBytes) {
            auto text = std::make_shared<std::string>(std::move(put->text));
            auto task = check_manifest_task(text);
            checked = co_await asio::co_spawn(st->pool->get_executor(), std::move(task),
                                              asio::use_awaitable);
            if (st->stopped) co_return Ending{"tracker stopping"};
            put->text = std::move(*text);
        }

        const bool was_joined = s.conn.joined();
        ++st->requests;
        const auto* parsed_ptr = parsed ? &*parsed : nullptr;
        const auto* checked_ptr = checked ? &*checked : nullptr;
        std::function<Outcome()> job = [st, &s, &req, parsed_ptr, checked_ptr] {
            return st->handler.handle(s.conn, *req, parsed_ptr, checked_ptr);
        };
        // A registry whose calls wait (etcd) answers what it can from memory
        // here, on the I/O thread; the rest goes to its worker threads.
        std::optional<Outcome> now;
        if (st->registry_pool) now = st->handler.handle_now(s.conn, *req);
        Outcome out;
        if (now) {
            out = std::move(*now);
        } else {
            out = co_await on_registry(*st, std::move(job));
        }
        if (st->stopped) co_return Ending{"tracker stopping"};
        lease.reset();
        if (st->opt.on_request) st->opt.on_request(h.type, Clock::now() - began);
        if (std::holds_alternative<proto::PutManifest>(*req) && manifest_refusal(out))
            s.log().warn("manifest refused: {}", std::get<proto::ErrorReply>(out.response).message);
        if (!was_joined && s.conn.joined()) {
            // One live connection per userid: a newer one replaces the older.
            auto [it, inserted] = st->by_user.try_emplace(*s.conn.user, &s);
            if (!inserted && it->second != &s) {
                if (st->log.enabled(LogLevel::kDebug))
                    it->second->log().debug("replaced by a new connection of the same peer from {}",
                                            fs.remote());
                it->second->stream->close();
                it->second = &s;
            }
            auto t = fs.timeouts();
            t.idle = st->opt.ttl + st->opt.idle_margin;
            fs.set_timeouts(t);
            if (s.server_log->enabled(LogLevel::kDebug))
                s.log().debug(
                    "joined as {} (port {}, {} token)", uuid_string(*s.conn.user),
                    std::get<proto::Join>(*req).port,
                    std::get<proto::Joined>(out.response).token == std::get<proto::Join>(*req).token
                        ? "kept its"
                        : "new");
        }
        // (A named value, not a temporary inside co_await: GCC 12 has had
        // bugs destroying such temporaries twice.)
        const Bytes answer = proto::encode(out.response);
        co_await fs.write(answer);
        if (out.close) {
            if (const auto* e = std::get_if<proto::ErrorReply>(&out.response))
                co_return Ending{fmt::format("{}: {}", proto::error_code_name(e->code), e->message),
                                 e->code != proto::ErrorCode::kUnknownPeer};
            co_return Ending{"left"};
        }
    }
    co_return std::nullopt;
}

// One coroutine per connection; while it waits for a request it holds this
// frame and the socket's wait, nothing else.
awaitable<void> serve(std::shared_ptr<State> st, std::shared_ptr<Session> s) {
    Registration reg(*st, *s);
    Ending end;
    try {
        for (;;) {
            if (!s->stream->buffered()) {
                const std::size_t n = co_await s->stream->wait_for_bytes();
                s->stream->end_wait(n);
            }
            const FrameHeader h = co_await s->stream->read_header();
            if (auto ended = co_await serve_request(st, *s, h)) {
                end = std::move(*ended);
                break;
            }
        }
    } catch (const net::ProtocolError& e) {
        end = violation(proto::ErrorCode::kMalformed, e.what());
    } catch (const net::TimeoutError& e) {
        // A joined peer gone silent is a leave like any other (debug); a
        // connection that never joined is worth a warning.
        const bool joined = s->conn.joined();
        end = Ending{fmt::format("{}{}", e.what(), joined ? "" : " (no Join)"), !joined};
    } catch (const asio::system_error& e) {
        if (e.code() == asio::error::eof)
            end = Ending{"closed by the peer"};
        else
            end = Ending{e.code().message()};
    } catch (const std::exception& e) {
        end = Ending{e.what(), true};
    }
    if (end.warn)
        s->log().warn("closing: {}", end.reason);
    else if (st->log.enabled(LogLevel::kDebug))
        s->log().debug("closing: {}", end.reason);
    if (end.farewell && !st->stopped && s->stream->is_open()) {
        const Bytes frame = proto::encode(*end.farewell);
        co_await net::write_then_close(*s->stream, frame, std::chrono::seconds(2));
    }
}

// Answers a connection over the limit with an error, then closes it. The
// frame is tiny and the socket new, so the write does not wait on the peer.
awaitable<void> refuse_connection(tcp::socket socket, std::size_t max) {
    proto::ErrorReply refusal;
    refusal.code = proto::ErrorCode::kLimit;
    refusal.message =
        fmt::format("the tracker serves at most {} connections; try again later", max);
    Bytes frame = proto::encode(proto::Response{refusal});
    co_await net::write_then_close(std::move(socket), std::move(frame));
}

awaitable<void> accept_loop(std::shared_ptr<State> st) {
    asio::steady_timer backoff(st->ex);
    while (!st->stopped) {
        asio::error_code ec;
        tcp::socket socket =
            co_await st->acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (st->stopped) break;
        if (ec) {
            st->log.warn("accept: {}", ec.message());
            if (out_of_descriptors(ec)) co_await net::sleep_for(backoff, kAcceptBackoff);
            continue;
        }
        if (st->sessions.size() >= st->opt.max_connections) {
            st->log.warn("refusing a connection from {}: {} connections open",
                         net::remote_text(socket), st->sessions.size());
            net::spawn(st->ex, refuse_connection(std::move(socket), st->opt.max_connections),
                       st->log, "refuse");
            continue;
        }
        auto stream = std::make_shared<net::FrameStream>(
            std::move(socket), limits::kMaxTrackerFrameBytes,
            net::FrameStream::Timeouts{st->opt.join_timeout, st->opt.frame_timeout,
                                       st->opt.write_timeout});
        asio::error_code ignored;
        const auto remote = stream->socket().remote_endpoint(ignored);
        auto s = std::make_shared<Session>(Session{
            stream, Connection{net::normalize(remote.address()), std::nullopt, Token{}},
            TokenBucket(st->opt.requests_per_second, st->opt.request_burst, st->opt.request_burst),
            &st->log});
        if (st->log.enabled(LogLevel::kDebug)) s->log().debug("connected");
        // (Not net::spawn: its handler holds a logger and a name, and there
        // is one per connection. serve() catches what it expects.)
        asio::co_spawn(st->ex, serve(st, std::move(s)), [st](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                st->log.warn("session: {}", ex.what());
            }
        });
    }
}

// How often every session's deadlines are checked: an eighth of the
// shortest timeout (a stream is closed at most that late), within
// 10 ms .. 1 s. A pass visits every session once.
Clock::duration deadline_tick(const TrackerServer::Options& o) {
    const auto shortest =
        std::min({o.join_timeout, o.frame_timeout, o.write_timeout, o.ttl + o.idle_margin});
    return std::clamp<Clock::duration>(shortest / 8, std::chrono::milliseconds(10),
                                       std::chrono::seconds(1));
}

// Closes the streams whose deadline passed (a read or write that waited
// too long, a connection that never joined, a joined peer gone silent):
// one timer for the server instead of a watchdog coroutine and a timer per
// connection. The closed stream's pending read or write then ends with its
// TimeoutError, as under a watchdog.
awaitable<void> sweep_deadlines(std::shared_ptr<State> st) {
    const auto tick = deadline_tick(st->opt);
    while (!st->stopped) {
        if (!co_await net::sleep_for(st->deadlines, tick)) break;
        if (st->stopped) break;
        // Closing a socket runs no handler here (asio queues them), so the
        // set does not change under the loop.
        const auto now = Clock::now();
        for (Session* s : st->sessions)
            s->stream->expire_overdue(now);
    }
}

// "summary: 3 peers online, 2 seeds, 1 channel, 4 connections, 0.7 requests/s"
void log_summary(State& st, const RegistryStats& stats, Clock::duration since_last) {
    const double secs = std::chrono::duration<double>(since_last).count();
    st.log.info("summary: {} online, {}, {}, {}, {:.1f} requests/s",
                count_of(stats.live_users, "peer"), count_of(stats.files, "seed"),
                count_of(stats.channels, "channel"), count_of(st.sessions.size(), "connection"),
                secs > 0 ? static_cast<double>(st.requests) / secs : 0.0);
    st.requests = 0;
}

awaitable<void> housekeeping(std::shared_ptr<State> st) {
    auto next_sweep = Clock::now() + st->opt.sweep_interval;
    auto last_summary = Clock::now();
    while (!st->stopped) {
        if (!co_await net::sleep_for(st->housekeeping, st->opt.commit_interval)) break;
        if (st->stopped) break;
        try {
            std::function<bool()> flush = [st] {
                st->store.flush();
                return true;
            };
            co_await on_registry(*st, std::move(flush));
            if (st->stopped) break;
            if (st->opt.summary_interval.count() > 0 &&
                Clock::now() - last_summary >= st->opt.summary_interval) {
                std::function<RegistryStats()> stats = [st] { return st->store.stats(); };
                const RegistryStats counted = co_await on_registry(*st, std::move(stats));
                if (st->stopped) break;
                log_summary(*st, counted, Clock::now() - last_summary);
                last_summary = Clock::now();
            }
            if (Clock::now() < next_sweep) continue;
            next_sweep = Clock::now() + st->opt.sweep_interval;
            if (!st->opt.sweeps()) continue;
            SweepResult total;
            for (int step = 0; step < 1000 && !st->stopped; ++step) {
                std::function<SweepResult()> sweep = [st] { return st->store.sweep(kSweepStep); };
                const auto r = co_await on_registry(*st, std::move(sweep));
                if (st->stopped) break;
                total.users += r.users;
                total.holdings += r.holdings;
                total.files += r.files;
                if (r.users < kSweepStep) break;
                co_await asio::post(st->ex, asio::use_awaitable);  // let sessions run
            }
            if (total.users > 0)
                st->log.debug("swept {} expired peers, {} holdings, {} files", total.users,
                              total.holdings, total.files);
        } catch (const RegistryFailure& e) {
            st->log.error("database: {}", e.what());
        }
    }
}

}  // namespace

TrackerServer::TrackerServer(asio::any_io_executor ex, Registry& store, Options options, Logger log)
    : state_(std::make_shared<detail::ServerState>(ex, store, std::move(options), std::move(log))) {
}

TrackerServer::~TrackerServer() {
    stop();
}

void TrackerServer::start() {
    auto& st = *state_;
    if (st.started) throw std::logic_error("TrackerServer::start called twice");
    asio::error_code ec;
    const auto addr = asio::ip::make_address(st.opt.host, ec);
    if (ec) throw std::runtime_error(fmt::format("'{}' is not an IP address", st.opt.host));

    net::Listening listening;
    try {
        listening = net::listen(st.acceptor, addr, st.opt.port);
    } catch (const net::ListenError& e) {
        throw std::runtime_error(fmt::format("cannot listen on {}: {}",
                                             endpoint_text(e.wanted.address(), e.wanted.port()),
                                             e.code().message()));
    }
    if (listening.stack == net::Stack::kIPv4Fallback)
        st.log.info("IPv6 unavailable ({}); listening on IPv4 only",
                    listening.ipv6_error.message());
    st.port = listening.local.port();
    st.listen_text = net::listen_text(listening);
    st.pool = std::make_unique<asio::thread_pool>(1);
    if (st.opt.registry_threads > 0)
        st.registry_pool = std::make_unique<asio::thread_pool>(st.opt.registry_threads);
    st.started = true;
    net::spawn(st.ex, accept_loop(state_), st.log, "accept loop");
    net::spawn(st.ex, housekeeping(state_), st.log, "housekeeping");
    net::spawn(st.ex, sweep_deadlines(state_), st.log, "deadlines");
}

void TrackerServer::stop() {
    auto& st = *state_;
    if (st.stopped || !st.started) {
        st.stopped = true;
        return;
    }
    st.stopped = true;
    asio::error_code ec;
    st.acceptor.close(ec);
    st.housekeeping.cancel();
    st.deadlines.cancel();
    st.budget.cancel_all();
    for (Session* s : st.sessions)
        s->stream->close();
    if (st.pool) {
        st.pool->stop();
        st.pool->join();
    }
    if (st.registry_pool) {  // calls under way finish (each has a deadline)
        st.registry_pool->stop();
        st.registry_pool->join();
    }
    try {
        st.store.close();
    } catch (const RegistryFailure& e) {
        st.log.error("database: {}", e.what());
    }
}

std::uint16_t TrackerServer::port() const {
    return state_->port;
}
std::string TrackerServer::listen_text() const {
    return state_->listen_text;
}
std::size_t TrackerServer::connections() const {
    return state_->sessions.size();
}
bool TrackerServer::listening() const {
    return state_->started && !state_->stopped;
}

}  // namespace seedshare::tracker
