// One shared file and everyone we exchange it with. A Swarm owns the file's
// storage, which chunks we hold (through the Picker while downloading), the
// peer connections for this file, and the addresses we could connect to.
// Connections do the byte moving; the swarm decides (which chunk next,
// whom to trust, when the file is done) and does the verification.
//
// Lifetime: created and driven on the I/O thread; connections keep it alive
// (shared_ptr) until they end; stop() ends them all.
#pragma once

#include <asio.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/ids.hpp"
#include "common/core/log.hpp"
#include "common/model/bitfield.hpp"
#include "common/model/seed.hpp"
#include "common/net/net.hpp"
#include "common/net/rate_limiter.hpp"
#include "common/net/wakeup.hpp"
#include "common/wire/peer_protocol.hpp"
#include "peer/discovery/peer_list.hpp"
#include "peer/discovery/pool_planner.hpp"
#include "peer/storage/storage.hpp"
#include "peer/swarm/buffer_pool.hpp"
#include "peer/swarm/connection_budget.hpp"
#include "peer/swarm/picker.hpp"
#include "peer/swarm/rate_meter.hpp"
#include "peer/swarm/spread.hpp"
#include "peer/swarm/swarm_link.hpp"
#include "peer/swarm/verifier.hpp"

namespace seedshare {

class PeerConnection;

// Why a connection may not join a swarm. Decisions are made on `reason`;
// `message` is for people (logs, and the text of the Error frame).
struct Refusal {
    enum class Reason {
        kLeaving,      // this peer is stopping the swarm
        kBanned,       // the remote sent bad data before
        kDuplicate,    // already connected to that peer (the other connection stays)
        kFull,         // the swarm's connection limit is reached
        kProcessFull,  // the process's (ConnectionBudget) is, with nothing idle to close
    };
    Reason reason;
    std::string message;
};

struct PeerStats {
    std::string name;  // address:port
    std::uint64_t downloaded = 0;
    std::uint64_t uploaded = 0;
    bool connected = false;
};

class Swarm final : public SwarmLink, public std::enable_shared_from_this<Swarm> {
  public:
    enum class State { kDownloading, kFinishing, kComplete, kFailed };

    // `have`: the chunks storage already holds, verified. A complete bitfield
    // makes a seeding swarm (serve). For downloads, `hashed_prefix_ok` is
    // false: the whole-file hash is computed as chunks arrive.
    Swarm(std::shared_ptr<const SwarmEnv> env, Seed seed, std::shared_ptr<Storage> storage,
          Bitfield have, SwarmOptions options);
    ~Swarm();

    const Seed& seed() const override { return seed_; }
    const SeedId& id() const override { return id_; }
    State state() const { return state_; }
    bool complete() const { return state_ == State::kComplete; }
    const Bitfield& have() const override { return picker_.have(); }
    const std::string& failure() const { return failure_; }
    // Every chunk verified, but the whole file's hash differs from the seed's.
    bool integrity_failure() const { return integrity_failure_; }
    Storage& storage() { return *storage_; }
    std::shared_ptr<Storage> storage_ptr() override { return storage_; }

    // Starts the background work: connecting to candidates, asking for peers
    // (when downloading), stall checks. For a download that starts with every
    // chunk already verified, it finishes at once.
    void start();
    // Says Goodbye to every peer, lets uploads in flight finish (up to
    // `grace`), then closes every connection.
    net::awaitable<void> stop(std::chrono::milliseconds grace);
    // Closes every connection now, without a goodbye (as if the process died).
    void abort();

    // Resolves once the download is complete and verified, or failed.
    net::awaitable<void> wait_done();

    // Where to find more peers (the trackers). Called with numwant.
    std::function<net::awaitable<std::vector<PeerAddress>>(std::uint16_t)> find_peers;
    // Whether the trackers said the peer at an address is a backup peer (its
    // upload spared, BackupSparing); null: no peer is.
    std::function<bool(const PeerAddress&)> is_backup;
    // Called when the holding changes: first verified chunk (partial) and
    // complete. The process tells its trackers.
    std::function<void(bool complete)> on_holding;
    // Called (once) when the served file changed on disk: the process re-seeds.
    std::function<void()> on_storage_changed;

    // An accepted connection whose Hello named this seed.
    void accept(std::shared_ptr<net::FrameStream> stream, const peer_proto::Hello& theirs);
    // Addresses to try (from a tracker, the user, the address book, or peer
    // exchange: then `origin` is the peer that named them, capped per
    // source). How many were new. Tracker answers go to the address book.
    std::size_t add_candidates(const std::vector<PeerAddress>& peers, PeerList::Source source,
                               const std::optional<PeerAddress>& origin = std::nullopt);
    // The candidates and what came of each (tests, status).
    const PeerList& peer_list() const { return peer_list_; }
    // Asks of a discovery source done so far (answered, failed or fruitless).
    std::size_t asks_done(PoolPlanner::Ask which) const {
        return asks_done_[static_cast<std::size_t>(which)];
    }
    // The trackers are not asked for peers within `d` of now: the caller
    // names holders (add_candidates) that should suffice. Call before start().
    void defer_trackers(std::chrono::milliseconds d) {
        planner_.defer(PoolPlanner::Ask::kTrackers, env_.clock->now() + d);
    }

    std::size_t connection_count() const { return conns_.size(); }
    // --- the process's connection budget (swarm_admission.cpp) -----------------
    // Connections not closed, and dials in progress.
    std::size_t open_connections() const;
    // Each open connection, in a fixed order (while nothing changes), for
    // ConnectionBudget::make_room.
    void budget_view(std::vector<ConnectionBudget::Conn>& out) const;
    // Closes the nth connection of budget_view's order, to make room.
    void give_way(std::size_t nth);
    // It sent max_strikes bad chunks: dropped and not connected to again.
    bool banned(const UserId& user) const { return banned_users_.contains(user); }
    std::uint64_t verified_bytes() const { return verified_bytes_; }
    std::vector<PeerStats> peer_stats() const;
    // Bytes of this file sent to `peer` outside the swarm (a channel peer's
    // FileRequest, ChannelMesh): counted with the swarm's own uploads.
    void count_upload(const std::string& peer, std::uint64_t bytes) {
        count_traffic(peer, 0, bytes);
    }
    // The connect and peer-exchange loops now running (0 to 2): a complete
    // swarm with no connection and no gossip left runs none.
    int loops_running() const { return int{connect_running_} + int{pex_running_}; }
    bool connect_loop_running() const { return connect_running_; }
    const SwarmOptions& options() const override { return options_; }

  private:
    // --- SwarmLink: what connections see (swarm_link.hpp) ---------------------
    bool holds(ChunkIndex c) const override { return picker_.have().test(c); }
    bool downloading() const override { return state_ == State::kDownloading; }
    const SwarmEnv& env() const override { return env_; }
    const Logger& log() const override { return log_; }
    Picker& picker() override { return picker_; }
    std::size_t pick_window() const override;
    BufferPool& fetch_buffers() override { return *fetch_buffers_; }
    SpreadTracker& spread() override { return spread_; }
    bool rationing_uploads() const override;
    bool may_queue_upload(net::Clock::time_point now) override;
    bool may_request_more() const override;
    bool spares(const PeerConnection& conn) const override;
    bool turn_to_backups() override;
    void connection_ready(const std::shared_ptr<PeerConnection>& conn) override;
    void connection_closed(PeerConnection* conn, bool goodbye) override;
    void chunk_received(const std::shared_ptr<PeerConnection>& from, ChunkIndex c,
                        BufferPool::Buffer data) override;
    void peers_heard(const std::shared_ptr<PeerConnection>& from,
                     const std::vector<PeerAddress>& peers,
                     const std::vector<PeerAddress>& dropped) override;
    void peers_asked(const std::shared_ptr<PeerConnection>& from) override;
    void wake_fetchers() override;
    void count_traffic(const std::string& name, std::uint64_t down, std::uint64_t up) override;
    void upload_finished() override;
    void storage_failed(const std::string& why) override;

    // --- internal -------------------------------------------------------------
    net::awaitable<void> connect_loop();
    net::awaitable<void> discover_loop();
    // One ask of the pool planner.
    net::awaitable<void> ask(PoolPlanner::Ask which);
    // Peers we completed a handshake with, to pass on (at most kPexMaxAdded),
    // leaving out `except`.
    peer_proto::PeerList handshaken_peers(const PeerConnection* except) const;
    net::awaitable<void> pex_loop();
    // `conn` (through its handshake) said goodbye: gossip it as dropped.
    void gossip_dropped(const PeerConnection* conn);
    // Dials candidates while the swarm has too few sources and room for
    // more (DialPlan; the process's budget permitting).
    void dial_candidates(net::Clock::time_point now);
    // The pool as DialPlan sees it, at `real_now` (a connection's traffic
    // is measured in real time: its bytes move in it).
    struct PoolView {
        std::size_t open = 0;                       // connections, and dials under way
        std::size_t sources = 0;                    // of them, sources (DialPlan)
        std::shared_ptr<PeerConnection> swappable;  // the one quiet longest, if any
    };
    PoolView pool_view(net::Clock::time_point real_now) const;
    // `started`: when dial_candidates began it (its entry in dials_started_).
    net::awaitable<void> connect_to(PeerAddress where, net::Clock::time_point started);
    net::awaitable<void> refuse(std::shared_ptr<net::FrameStream> stream,
                                peer_proto::ErrorMsg error);
    // May a connection with `user` join? Resolves simultaneous dials; nullopt
    // admits it.
    std::optional<Refusal> admit(const UserId& user, bool initiated_by_us);
    std::shared_ptr<PeerConnection> connection_to(const UserId& user) const;
    // The address a connection is counted under in the PeerList: the one we
    // dialled, or the listening address an accepted peer named in its Hello.
    static std::optional<PeerAddress> listed_as(const PeerConnection& conn);
    net::awaitable<void> verify(std::shared_ptr<PeerConnection> from, ChunkIndex c,
                                BufferPool::Buffer data);
    net::awaitable<void> finish_download();
    void strike(const std::shared_ptr<PeerConnection>& conn, ChunkIndex c);
    void set_done(State s, std::string failure = {});
    void wake(asio::steady_timer& t) { t.cancel(); }
    void wake(net::ClockTimer& t) { t.cancel(); }
    void wake(net::Wakeup& w) { w.notify(); }
    // The connect and peer-exchange loops run only while they have something
    // to watch (a complete swarm with no connection, nothing to gossip: none;
    // a process serving 10,000 files keeps no 20,000 idle coroutines): these
    // start the loop if it is not running, or wake it.
    void wake_connect();
    void wake_pex();

    std::shared_ptr<const SwarmEnv> env_owner_;  // shared by the process's swarms
    const SwarmEnv& env_;
    Seed seed_;
    SeedId id_;
    std::shared_ptr<Storage> storage_;
    SwarmOptions options_;
    Logger log_;
    Picker picker_;
    SpreadTracker spread_;
    RateMeter upload_rate_{net::Clock::now()};  // this file's uploads, to everyone
    std::shared_ptr<BufferPool> fetch_buffers_;
    std::shared_ptr<Verifier> verifier_;  // downloads only; verify and drain jobs share it
    State state_;
    std::string failure_;
    bool integrity_failure_ = false;
    bool stopping_ = false;
    bool announced_partial_ = false;
    bool storage_change_reported_ = false;
    std::uint64_t verified_bytes_ = 0;
    std::size_t connecting_ = 0;
    std::multiset<net::Clock::time_point> dials_started_;  // of the dials under way
    // Since when peers that are not backups could serve (turn_to_backups).
    std::optional<net::Clock::time_point> others_since_;
    asio::steady_timer* drained_signal_ = nullptr;  // set while stop() waits for uploads

    std::set<std::shared_ptr<PeerConnection>> conns_;
    PeerList peer_list_;                      // the addresses we could connect to
    PoolPlanner planner_;                     // when and where to look for more
    std::array<std::size_t, 3> asks_done_{};  // by PoolPlanner::Ask
    static_assert(static_cast<std::size_t>(PoolPlanner::Ask::kAddressBook) == 2,
                  "asks_done_ has one count per PoolPlanner::Ask");
    std::map<UserId, std::uint32_t> strikes_;
    std::set<UserId> banned_users_;
    std::map<std::string, PeerStats> traffic_;  // by peer name, kept after disconnect

    std::set<PeerAddress> pex_pending_;  // joined since the last gossip
    std::set<PeerAddress> pex_dropped_;  // said goodbye since the last gossip
    bool pex_resting_ = false;           // pex_loop waits out pex_interval
    bool pex_running_ = false;           // pex_loop is running
    bool connect_running_ = false;       // connect_loop is running
    asio::steady_timer done_signal_;
    asio::steady_timer connect_signal_;
    net::Wakeup discover_signal_;  // kept while the loop asks (a connection closed)
    net::ClockTimer pex_signal_;
};

}  // namespace seedshare
