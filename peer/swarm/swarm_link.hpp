// What a PeerConnection sees of its swarm: the swarm's settings and shared
// bookkeeping, and the events a connection reports. Swarm implements it;
// connections hold the swarm only through this interface, so nothing of the
// swarm's own machinery (candidates, admission, bans, verification, stop) is
// within their reach.
#pragma once

#include <asio.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/ids.hpp"
#include "common/core/limits.hpp"
#include "common/core/log.hpp"
#include "common/env/clock.hpp"
#include "common/model/bitfield.hpp"
#include "common/model/seed.hpp"
#include "common/net/clock_timer.hpp"
#include "common/net/rate_limiter.hpp"
#include "common/wire/peer_protocol.hpp"
#include "peer/discovery/address_book.hpp"
#include "peer/storage/storage.hpp"
#include "peer/swarm/buffer_pool.hpp"
#include "peer/swarm/peer_session.hpp"
#include "peer/swarm/picker.hpp"
#include "peer/swarm/spread.hpp"
#include "peer/swarm/swarm_options.hpp"
#include "peer/swarm/upload_slots.hpp"

namespace seedshare {

class PeerConnection;

// What a swarm needs from its process.
// What every swarm of a process adds to, for peer --metrics: atomics, so an
// HTTP thread reads them while the I/O thread counts. Never decreases (a
// swarm removed keeps its share).
struct SwarmCounters {
    std::atomic<std::uint64_t> bytes_down{0};  // chunk data received
    std::atomic<std::uint64_t> bytes_up{0};    // chunk data sent
    std::atomic<std::uint64_t> chunks_verified{0};
    std::atomic<std::uint64_t> chunks_failed{0};  // failed verification (a strike each)
    std::atomic<std::uint64_t> peers_banned{0};   // dropped after max_strikes
    // Idle connections closed for a new one (ConnectionBudget), and new
    // connections refused (or dials put off) because the process was full.
    std::atomic<std::uint64_t> connections_evicted{0};
    std::atomic<std::uint64_t> connections_refused{0};
};

// The process's connection budget (ConnectionBudget) as a swarm sees it;
// the Node fills it in, and empties it when it goes (then each swarm keeps
// only its own limit).
struct ConnectionSlots {
    // Room for one more connection of the swarm for `seed` (a dial about to
    // start, or an accepted one): true, perhaps after closing an idle
    // connection of some swarm; false: the process is full (refuse, retry).
    std::function<bool(const SeedId& seed)> make_room;
    // How many connections a downloading swarm dials for now.
    std::function<std::size_t()> share;
};

struct SwarmEnv {
    // Our Hello for a swarm of `seed`.
    peer_proto::Hello hello(const SeedId& seed) const {
        const auto flags = static_cast<std::uint8_t>((backup ? peer_proto::kHelloBackup : 0) |
                                                     (spare_upload ? peer_proto::kHelloSpare : 0));
        return peer_proto::Hello{peer_proto::kVersion, seed, user, listen_port, flags};
    }

    asio::any_io_executor ex;
    asio::thread_pool* pool = nullptr;
    UserId user;
    std::uint16_t listen_port = 0;
    // A backup peer (`peer backup`): its Hello says so, and getters spare
    // its upload however they found it (tracker, peer exchange, address book).
    bool backup = false;
    // A channel's publisher (`peer publish`): its Hello asks getters to spare
    // its upload as a backup's, so each chunk comes from it about once.
    bool spare_upload = false;
    std::shared_ptr<BufferPool> upload_buffers;   // shared by all swarms of the process
    std::shared_ptr<UploadSlots> upload_slots;    // per process; null: no limit
    std::shared_ptr<RateLimiter> upload_limit;    // per process (may be unlimited)
    std::shared_ptr<RateLimiter> download_limit;  // per process (may be unlimited)
    Logger log{"peer"};
    // The process's address book (may be null: nothing remembered).
    std::shared_ptr<AddressBook> book;
    // Merges into `book` what other processes sharing its file saved since
    // (null: the book has no file). Called before the book is asked.
    std::function<void()> refresh_book;
    std::shared_ptr<SwarmCounters> counters;  // per process; null: not counted
    // Peers this process never talks to (Node::refuse); null: none.
    std::shared_ptr<const std::set<UserId>> refused;
    std::shared_ptr<ConnectionSlots> slots;  // per process; null: no budget
    // The clock of the swarm's discovery: its peer list's backoff and rests,
    // when it asks trackers, book and peers, and the peer-exchange pace (a
    // test's FakeClock: they come when the test moves time). Bytes, their
    // rates and the connections' deadlines keep to real time. Outlives the
    // swarms (NodeOptions::clock).
    const Clock* clock = &Clock::real();
};

class SwarmLink : public SessionHost {
  public:
    // --- what a connection reads (besides its session's SessionHost) ----------
    virtual const SeedId& id() const = 0;
    virtual const SwarmEnv& env() const = 0;
    virtual const Logger& log() const = 0;
    virtual std::shared_ptr<Storage> storage_ptr() = 0;

    // --- the swarm's bookkeeping a connection takes part in --------------------
    // The remote's upload is spared (BackupSparing): its Hello asked so (a
    // backup, a publisher), or the trackers marked it a backup.
    virtual bool spares(const PeerConnection& conn) const = 0;

    // --- what a connection reports ------------------------------------------------
    // Its bitfield arrived: the connection takes part in the swarm.
    virtual void connection_ready(const std::shared_ptr<PeerConnection>& conn) = 0;
    // Both its coroutines ended; `goodbye`: the remote left on purpose.
    virtual void connection_closed(PeerConnection* conn, bool goodbye) = 0;
    // A chunk arrived whole from `from`: verify, write, announce.
    virtual void chunk_received(const std::shared_ptr<PeerConnection>& from, ChunkIndex c,
                                BufferPool::Buffer data) = 0;
    // Peer exchange: addresses the remote says hold the file, and those it
    // says left (untrusted; `dropped` only retracts what it gossiped itself).
    virtual void peers_heard(const std::shared_ptr<PeerConnection>& from,
                             const std::vector<PeerAddress>& peers,
                             const std::vector<PeerAddress>& dropped) = 0;
    // The remote asked for the peers we know (GetPeers).
    virtual void peers_asked(const std::shared_ptr<PeerConnection>& from) = 0;
    // Connections may have work again (a peer left, a chunk is free).
    virtual void wake_fetchers() = 0;
    virtual void count_traffic(const std::string& name, std::uint64_t down, std::uint64_t up) = 0;
    // A connection finished its uploads (stop() waits for them).
    virtual void upload_finished() = 0;
    // Serving failed to read the file: it changed on disk or cannot be read.
    virtual void storage_failed(const std::string& why) = 0;

  protected:
    ~SwarmLink() = default;
};

}  // namespace seedshare
