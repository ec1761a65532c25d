#include "peer/swarm/swarm.hpp"

#include <fmt/format.h>

#include <random>

#include "common/core/plural.hpp"
#include "common/net/offload.hpp"
#include "peer/discovery/address_book_file.hpp"
#include "peer/swarm/backup_sparing.hpp"
#include "peer/swarm/connection.hpp"
#include "peer/swarm/handshake.hpp"
#include "peer/swarm/request_budget.hpp"
#include "peer/swarm/upload_backlog.hpp"

namespace seedshare {

namespace pp = peer_proto;
using namespace std::chrono_literals;

Swarm::Swarm(std::shared_ptr<const SwarmEnv> env, Seed seed, std::shared_ptr<Storage> storage,
             Bitfield have, SwarmOptions options)
    : env_owner_(std::move(env)),
      env_(*env_owner_),
      seed_(std::move(seed)),
      id_(seed_.id()),
      storage_(std::move(storage)),
      options_(options),
      log_(env_.log.sub(seed_.name)),
      picker_(std::move(have), fresh_seed()),
      spread_(seed_.chunk_count()),
      fetch_buffers_(BufferPool::create(
          options.fetch_budget_bytes,
          static_cast<std::size_t>(std::max<std::uint64_t>(1, seed_.chunk_size)))),
      state_(picker_.complete() ? State::kComplete : State::kDownloading),
      planner_(PoolPlanner::Settings{.min_peers = options.min_peers,
                                     .target = options.max_connections,
                                     .rediscover = options.rediscover}),
      done_signal_(env_.ex),
      connect_signal_(env_.ex),
      discover_signal_(env_.ex, *env_.clock),
      pex_signal_(env_.ex, *env_.clock) {
    for (std::uint32_t i = 0; i < picker_.have().size(); ++i)
        if (picker_.have().test(ChunkIndex{i}))
            verified_bytes_ += seed_.chunk_length(ChunkIndex{i});
    if (state_ == State::kDownloading)
        verifier_ = std::make_shared<Verifier>(seed_, storage_, picker_.have());
}

Swarm::~Swarm() = default;

void Swarm::start() {
    auto self = shared_from_this();
    if (state_ == State::kDownloading && picker_.complete()) {
        net::spawn(env_.ex, finish_download(), log_, "finishing");
        return;
    }
    wake_connect();
    if (state_ == State::kDownloading) net::spawn(env_.ex, discover_loop(), log_, "peer discovery");
}

bool Swarm::rationing_uploads() const {
    if (!complete()) return false;
    std::size_t partial = 0;
    for (const auto& c : conns_)
        if (c->counted_in_picker() && !c->theirs().all() && ++partial >= 2) return true;
    return false;
}

bool Swarm::may_queue_upload(net::Clock::time_point now) {
    std::uint64_t queued = 0;
    bool uploading = false;
    for (const auto& c : conns_) {
        queued += c->queued_upload_bytes(options_.block_bytes);
        uploading = uploading || c->uploading();
    }
    if (queued == 0 && !uploading) upload_rate_.resume(now);  // idle time is not slowness
    return UploadBacklog::may_queue(queued,
                                    UploadBacklog::limit(upload_rate_.rate(), options_.block_bytes,
                                                         options_.upload_queue_min_blocks));
}

bool Swarm::may_request_more() const {
    std::uint64_t outstanding = 0;
    double rate = 0;
    for (const auto& c : conns_) {
        outstanding += c->outstanding_bytes();
        rate += c->download_rate();
    }
    // At most what fits in the fetch buffers: where bytes come fast (loopback)
    // the budget does not bind, and each connection's own pipeline does.
    const auto most = std::max<std::uint64_t>(options_.fetch_budget_bytes, options_.block_bytes);
    return RequestBudget::may_request(
        outstanding, RequestBudget::total_target(rate, options_.block_bytes, most));
}

bool Swarm::spares(const PeerConnection& conn) const {
    const auto where = listed_as(conn);
    // Said in its Hello, or by the trackers that listed it.
    if (conn.asks_to_be_spared()) return true;
    return is_backup && where && is_backup(*where);
}

bool Swarm::turn_to_backups() {
    const auto now = net::Clock::now();
    BackupSparing::View v;
    for (const auto& c : conns_) {
        if (!c->counted_in_picker() || c->closed() || c->remote_leaving()) continue;
        if (c->spared()) {
            v.backup_rate = std::max(v.backup_rate, c->download_rate());
        } else if (!c->stalled(now)) {
            ++v.others;
            // A rate is measured only as blocks come: one that has sent no
            // block for stall_timeout (it refuses us, say: a Reject is an
            // answer, so it never stalls) delivers nothing now. Not a
            // shorter window: a healthy peer on a slow link sends a block
            // less often than every 2 s.
            if (c->downloaded() > 0 && now - c->last_received_at() < options_.stall_timeout)
                v.others_rate += c->download_rate();
        }
    }
    if (v.others == 0)
        others_since_.reset();
    else if (!others_since_)
        others_since_ = now;
    if (others_since_) v.others_for = now - *others_since_;
    return BackupSparing::turn_to_backup(v);
}

std::size_t Swarm::pick_window() const {
    // Alone with a seed: nearly in order (the whole-file hash keeps up).
    // Among many peers: wide, so they fetch different chunks and trade them.
    return std::min(Picker::kMaxWindow, Picker::kWindow * std::max<std::size_t>(1, conns_.size()));
}

net::awaitable<void> Swarm::wait_done() {
    auto self = shared_from_this();
    while (state_ == State::kDownloading || state_ == State::kFinishing) {
        done_signal_.expires_at(net::Clock::time_point::max());
        asio::error_code ec;
        co_await done_signal_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

void Swarm::set_done(State s, std::string failure) {
    state_ = s;
    failure_ = std::move(failure);
    done_signal_.cancel();
    wake_connect();
    wake(discover_signal_);
}

net::awaitable<void> Swarm::stop(std::chrono::milliseconds grace) {
    auto self = shared_from_this();
    stopping_ = true;
    wake(connect_signal_);
    wake(discover_signal_);
    wake(pex_signal_);
    for (const auto& c : conns_)
        c->say_goodbye();
    // Let uploads in flight finish, within the grace period.
    const auto deadline = net::Clock::now() + grace;
    asio::steady_timer timer(env_.ex);
    while (net::Clock::now() < deadline &&
           std::any_of(conns_.begin(), conns_.end(),
                       [](const auto& c) { return c->uploads_pending(); })) {
        drained_signal_ = &timer;
        timer.expires_at(deadline);
        asio::error_code ec;
        co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        drained_signal_ = nullptr;
    }
    const auto conns = conns_;
    for (const auto& c : conns)
        c->close("leaving");
    if (state_ == State::kDownloading || state_ == State::kFinishing)
        set_done(State::kFailed, "stopped");
}

void Swarm::abort() {
    stopping_ = true;
    wake(connect_signal_);
    wake(discover_signal_);
    wake(pex_signal_);
    const auto conns = conns_;
    for (const auto& c : conns)
        c->close("aborted");
    if (state_ == State::kDownloading || state_ == State::kFinishing)
        set_done(State::kFailed, "aborted");
}

void Swarm::upload_finished() {
    if (drained_signal_ != nullptr) drained_signal_->cancel();
}

// --- connections -----------------------------------------------------------

std::shared_ptr<PeerConnection> Swarm::connection_to(const UserId& user) const {
    for (const auto& c : conns_)
        if (c->user() == user && !c->closed()) return c;
    return nullptr;
}

void Swarm::connection_ready(const std::shared_ptr<PeerConnection>& conn) {
    // Peer exchange: the newcomer learns whom we are connected to now, and
    // the others learn of it (batched by pex_loop). Only peers through their
    // handshake are passed on, this one from now.
    if (auto known = handshaken_peers(conn.get()); !known.peers.empty()) conn->send_peers(known);
    if (const auto addr = conn->listen_address()) {
        if (env_.book) env_.book->learn(AddressBook::key(id_), *addr, address_book_now());
        pex_pending_.insert(*addr);
        pex_dropped_.erase(*addr);
        wake_pex();
    }
    // Two complete peers have nothing to give each other.
    if (complete() && conn->theirs().all()) conn->close("both complete");
    // One that holds chunks, none we lack, is no source (DialPlan): another
    // is dialled now rather than at the connect loop's next turn.
    if (state_ == State::kDownloading && !conn->theirs().none() &&
        !conn->theirs().has_any_not_in(picker_.have()))
        wake_connect();
}

std::optional<PeerAddress> Swarm::listed_as(const PeerConnection& conn) {
    return conn.dialed() ? conn.dialed() : conn.listen_address();
}

void Swarm::connection_closed(PeerConnection* conn, bool goodbye) {
    std::shared_ptr<PeerConnection> keep;
    for (auto it = conns_.begin(); it != conns_.end(); ++it) {
        if (it->get() == conn) {
            keep = *it;
            conns_.erase(it);
            break;
        }
    }
    if (conn->counted_in_picker()) picker_.remove_peer(conn->theirs(), conn->spared());
    // A peer that left on purpose is not asked again soon; one that failed
    // is retried with backoff (unless another connection to it is up).
    if (const auto where = listed_as(*conn))
        peer_list_.disconnected(*where, goodbye, env_.clock->now());
    // Peer exchange's "dropped": a peer we gossiped (through its handshake)
    // that said goodbye, when no other connection to it is left. Not one we
    // closed ourselves (both complete, evicted): it may well be serving others.
    if (goodbye && conn->counted_in_picker()) gossip_dropped(conn);
    wake_fetchers();
    wake_connect();
    if (conns_.size() < options_.min_peers) wake(discover_signal_);  // below the mark: plan
    upload_finished();
}

void Swarm::wake_fetchers() {
    if (state_ != State::kDownloading) return;
    // Copy: fill_requests may close connections.
    const auto conns = conns_;
    for (const auto& c : conns)
        c->fill_requests();
}

void Swarm::count_traffic(const std::string& name, std::uint64_t down, std::uint64_t up) {
    auto& t = traffic_[name];
    t.name = name;
    t.downloaded += down;
    t.uploaded += up;
    if (up > 0) upload_rate_.add(up, net::Clock::now());
    if (env_.counters) {
        env_.counters->bytes_down += down;
        env_.counters->bytes_up += up;
    }
}

std::vector<PeerStats> Swarm::peer_stats() const {
    std::vector<PeerStats> out;
    for (const auto& [name, t] : traffic_) {
        PeerStats s = t;
        s.connected = std::any_of(conns_.begin(), conns_.end(),
                                  [&](const auto& c) { return c->name() == name; });
        out.push_back(s);
    }
    return out;
}

// --- verification ------------------------------------------------------------

void Swarm::chunk_received(const std::shared_ptr<PeerConnection>& from, ChunkIndex c,
                           BufferPool::Buffer data) {
    if (!picker_.received(c)) {
        log_.debug("chunk {} from {}: a copy is already here, dropped", c.value, from->name());
        return;
    }
    // In end-game others may be fetching it too: one copy is enough.
    const auto conns = conns_;
    for (const auto& conn : conns)
        if (conn != from) conn->cancel_fetch(c);
    net::spawn(env_.ex, verify(from, c, std::move(data)), log_, "verify");
}

net::awaitable<void> Swarm::verify(std::shared_ptr<PeerConnection> from, ChunkIndex c,
                                   BufferPool::Buffer data) {
    auto self = shared_from_this();
    const auto span = data.span();
    auto check_and_write = [verifier = verifier_, c, span] {
        return verifier->check_and_write(c, span);
    };
    const Verifier::Verdict verdict = co_await offload(*env_.pool, std::move(check_and_write));
    data = {};  // back to the pool before waking the fetchers
    if (verdict.drain) {
        // Chunks verified out of order are read back and hashed by a job of
        // their own, so no chunk buffer waits for it.
        auto drain_job = [verifier = verifier_] { verifier->drain(); };
        net::spawn(env_.ex, offload(*env_.pool, std::move(drain_job)), log_, "hashing");
    }
    if (state_ != State::kDownloading) {
        picker_.verify_failed(c);
        co_return;
    }
    switch (verdict.outcome) {
        case Verifier::Outcome::kOk: {
            picker_.mark_have(c);
            verified_bytes_ += span.size();
            if (env_.counters) ++env_.counters->chunks_verified;
            for (const auto& conn : conns_)
                conn->announce(c);
            if (!announced_partial_) {
                announced_partial_ = true;
                if (on_holding && !picker_.complete()) on_holding(false);
            }
            if (picker_.complete()) net::spawn(env_.ex, finish_download(), log_, "finishing");
            break;
        }
        case Verifier::Outcome::kBadHash:
            picker_.verify_failed(c);
            strike(from, c);
            break;
        case Verifier::Outcome::kWriteFailed:
            log_.error("{}", verdict.error->message);
            picker_.verify_failed(c);
            set_done(State::kFailed, verdict.error->message);
            break;
    }
    wake_fetchers();
}

void Swarm::strike(const std::shared_ptr<PeerConnection>& from, ChunkIndex c) {
    const auto n = ++strikes_[from->user()];
    if (env_.counters) ++env_.counters->chunks_failed;
    log_.warn("chunk {} from {} failed verification (strike {} of {})", c.value, from->name(), n,
              options_.max_strikes);
    if (n >= options_.max_strikes) {
        banned_users_.insert(from->user());
        if (env_.counters) ++env_.counters->peers_banned;
        for (const auto& where : {from->dialed(), from->listen_address()})
            if (where) peer_list_.ban(*where);
        from->close("dropped: sent bad chunks");
        log_.warn("dropped {}: it sent {}; it is not asked again", from->name(),
                  count_of(n, "bad chunk"));
    }
}

net::awaitable<void> Swarm::finish_download() {
    auto self = shared_from_this();
    if (state_ != State::kDownloading) co_return;
    state_ = State::kFinishing;
    log_.debug("every chunk verified; finishing the whole-file hash ({} of {} hashed so far)",
               verifier_->hashed(), count_of(seed_.chunk_count(), "chunk"));
    auto finish_hash = [verifier = verifier_] { return verifier->finish(); };
    auto digest = co_await offload(*env_.pool, std::move(finish_hash));
    if (!digest) {
        set_done(State::kFailed, digest.error().message);
        co_return;
    }
    if (*digest != seed_.file_hash) {
        integrity_failure_ = true;
        set_done(State::kFailed,
                 fmt::format("every chunk verified, but the whole file's SHA-256 is {} where the "
                             "seed says {}: the seed is inconsistent",
                             digest->hex(), seed_.file_hash.hex()));
        co_return;
    }
    verifier_.reset();
    fetch_buffers_->trim();  // nothing more to fetch: the chunk buffers go
    set_done(State::kComplete);
    if (on_holding) on_holding(true);
    const auto conns = conns_;
    for (const auto& c : conns)
        if (c->theirs().all()) c->close("both complete");
}

void Swarm::storage_failed(const std::string& why) {
    if (storage_change_reported_) return;
    storage_change_reported_ = true;
    log_.warn("stopped serving: {}", why);
    if (on_storage_changed) on_storage_changed();
}

}  // namespace seedshare
