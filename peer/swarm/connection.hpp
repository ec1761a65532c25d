// One TCP connection to one peer about one seed. Three coroutines share it:
// a reader (frames in), a writer (control messages first, then blocks we
// serve, from a bounded request queue) and the stream's watchdog. It fetches
// the chunks its Swarm lets it pick, keeping pipeline_target() bytes requested,
// and serves the chunks we hold to the remote.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>

#include "common/core/address.hpp"
#include "common/model/bitfield.hpp"
#include "common/net/net.hpp"
#include "common/wire/peer_protocol.hpp"
#include "peer/discovery/pex_gate.hpp"
#include "peer/swarm/buffer_pool.hpp"
#include "peer/swarm/swarm_link.hpp"

namespace seedshare {

class PeerConnection : public std::enable_shared_from_this<PeerConnection> {
  public:
    // How long an upload may make no progress before its buffer goes back to
    // the pool (the rest is read again when the remote reads).
    static constexpr std::chrono::milliseconds kUploadPatience{250};
    // After such a stall, the rest of the block is read and sent in slices
    // of at most this much.
    static constexpr std::size_t kResumeSliceBytes = 256u << 10;
    // How long the Error frame sent before closing for a protocol error may
    // take to leave.
    static constexpr std::chrono::milliseconds kErrorLinger{2000};
    // How often a block waiting for an upload slot checks that its
    // connection is still open.
    static constexpr std::chrono::milliseconds kSlotRecheck{250};

    PeerConnection(std::shared_ptr<SwarmLink> swarm, std::shared_ptr<net::FrameStream> stream,
                   const peer_proto::Hello& theirs, std::optional<PeerAddress> dialed);
    ~PeerConnection();

    // Starts the reader and writer. An accepted connection first answers the
    // remote's Hello (`send_hello`); both sides then send their bitfield.
    void start(bool send_hello);
    // Ends the connection (idempotent); `reason` is logged once.
    void close(const std::string& reason);
    bool closed() const { return closed_; }

    const UserId& user() const { return user_; }
    const std::string& name() const { return name_; }
    const Bitfield& theirs() const { return theirs_; }
    std::optional<PeerAddress> listen_address() const;
    std::optional<PeerAddress> dialed() const { return dialed_; }
    // Who says what this connection gossips: its listening address (or the
    // dialled one, or the remote IP with port 0).
    PeerAddress origin() const;
    std::uint64_t downloaded() const { return downloaded_; }
    std::uint64_t uploaded() const { return uploaded_; }
    // When the last block crossed either way (or when it connected).
    net::Clock::time_point last_block_at() const { return last_block_at_; }
    bool remote_leaving() const { return remote_leaving_; }
    // Its bitfield arrived, so the picker counts its chunks.
    bool counted_in_picker() const { return got_bitfield_; }
    // A backup peer: asked only for chunks no other connected peer holds,
    // unless the others are slow (BackupSparing). Counted so in the picker.
    bool spared() const { return spared_; }
    void set_spared(bool spared);

    // Asks for more blocks if the pipeline has room and there is work.
    void fill_requests();
    // Peer exchange: other holders we know.
    void send_peers(const peer_proto::PeerList& list) { send(list); }
    // Peer exchange: our pool is low; the remote answers with a PeerList.
    void ask_peers() { send(peer_proto::GetPeers{}); }
    // Bytes requested from the remote, not received yet.
    std::uint64_t outstanding_bytes() const { return outstanding_bytes_; }
    // Bytes per second received from this peer lately (0 until measured).
    double download_rate() const { return rate_; }
    // What fill_requests keeps outstanding: rate x pipeline_window, bounded.
    std::uint64_t pipeline_target() const;
    // We verified c: tell the remote, even one that holds c itself. Its view
    // of us must stay whole: a seed releases the promise it made for c only
    // on our Have (else the chunks it sent us look ever more spread and it
    // refuses the ones we still lack), and two peers that both completed
    // close their connection ("both complete") only when each sees the
    // other whole (else a stale partial view keeps it open and makes the
    // seed ration its uploads for a peer that needs nothing).
    void announce(ChunkIndex c);
    // Someone else delivered c first: stop fetching it here.
    void cancel_fetch(ChunkIndex c);
    bool fetching(ChunkIndex c) const { return fetches_.contains(c.value); }
    // We are leaving: tell the remote, take no new requests.
    void say_goodbye();
    // Blocks asked of us not yet sent, or frames not yet written (a Goodbye
    // just queued: closing before it is written would lose it).
    bool uploads_pending() const {
        return !serve_queue_.empty() || serving_ || !control_.empty() || flushing_;
    }
    // Stalled: requests outstanding and nothing received for stall_timeout.
    bool stalled(net::Clock::time_point now) const;

  private:
    struct Fetch {
        ChunkIndex chunk;
        BufferPool::Buffer buffer;
        std::uint32_t next_offset = 0;  // next byte to request
        std::uint32_t received = 0;
        bool dropped = false;  // cancelled while a read into it was in flight
    };

    net::awaitable<void> read_loop();
    net::awaitable<void> write_loop();
    net::awaitable<void> receive_piece(const FrameHeader& h);
    // Sends one block; `slot` is its upload slot (empty: no limit), given
    // back when the remote stops reading and taken again to resume.
    net::awaitable<void> serve(peer_proto::Block b, UploadSlots::Slot& slot);
    void handle(peer_proto::Message& m);
    void send(const peer_proto::Message& m);
    void reject(const peer_proto::Block& b);
    void drop_fetch(ChunkIndex c, bool send_cancels);
    void teardown();

    std::shared_ptr<SwarmLink> swarm_;  // the swarm, as connections see it
    std::shared_ptr<net::FrameStream> stream_;
    UserId user_;
    std::uint16_t their_port_;
    asio::ip::address address_;
    std::optional<PeerAddress> dialed_;
    std::string name_;
    Logger log_;

    Bitfield theirs_;
    bool got_bitfield_ = false;
    bool spared_ = false;
    net::Clock::time_point closed_at_{};
    bool closed_ = false;
    bool goodbye_sent_ = false;
    bool remote_leaving_ = false;
    int running_ = 0;  // coroutines still running

    // Fetching from the remote.
    std::map<std::uint32_t, Fetch> fetches_;
    std::optional<std::uint32_t> reading_into_;  // chunk whose buffer a read fills now
    std::deque<peer_proto::Block> outstanding_;
    std::uint64_t outstanding_bytes_ = 0;
    // Blocks we cancelled, and when: a Piece for one is discarded.
    std::map<peer_proto::Block, net::Clock::time_point> cancelled_;
    void forget_old_cancels();
    // Chunks the remote rejected, until when not to ask it again (a seed that
    // rations its upload may serve them later).
    std::map<std::uint32_t, net::Clock::time_point> refused_;
    bool refused(ChunkIndex c);
    net::Clock::time_point last_piece_at_;
    net::Clock::time_point last_block_at_;
    std::uint64_t downloaded_ = 0;
    // Download rate: bytes received since rate_since_, folded into rate_
    // (an exponential average) about every 250 ms.
    net::Clock::time_point rate_since_;
    std::uint64_t rate_bytes_ = 0;
    double rate_ = 0;
    void count_received(std::uint64_t bytes);

    // Serving the remote.
    std::deque<peer_proto::Block> serve_queue_;
    // Chunks this (seeding) peer started sending the remote; counted in the
    // swarm's SpreadTracker until the remote announces them or leaves.
    std::set<std::uint32_t> promised_;
    bool serving_ = false;
    std::uint64_t uploaded_ = 0;

    // Peer exchange: PeerLists taken from the remote (4 at once, then 2 a
    // second), and GetPeers answered (2 at once, then one every 2 s).
    PexGate pex_in_{4, std::chrono::milliseconds(500)};
    PexGate pex_answers_{2, std::chrono::seconds(2)};

    Bytes control_;  // encoded frames waiting for the writer
    // Requests refused, their Reject not yet written: they count with
    // serve_queue_ toward kMaxQueuedRequests, and a Cancel removes one (the
    // remote forgot it), so the count is what the remote has outstanding.
    std::deque<peer_proto::Block> rejects_;
    asio::steady_timer writer_wake_;
    // Our place in the process's queue for an upload slot while blocks wait
    // to be served (after writer_wake_: it refers to it).
    UploadSlots::Ticket upload_turn_;
    // Closing after a protocol error: the writer sends the Error frame and
    // stops; linger_ bounds how long the reader waits for that.
    bool closing_ = false;
    bool flushing_ = false;  // the writer is writing control frames
    asio::steady_timer linger_;
    // What the reader and the writer wait on for the process's rate limits
    // and upload buffers: close() cancels them, so a closed connection's
    // coroutines end (and it is torn down) without waiting their turn.
    asio::steady_timer download_pace_;
    asio::steady_timer upload_pace_;
    std::shared_ptr<asio::steady_timer> buffer_wait_;
};

}  // namespace seedshare
