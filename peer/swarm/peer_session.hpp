// PeerSession: the protocol decisions of one connection about one seed,
// without I/O: what the remote holds, what to ask it for and how much to
// keep in flight, what to serve it and what to refuse (rationing, queue
// bounds, a Goodbye's rules), cancels and rejects crossing on the wire, peer
// exchange's rate, and the download rate. Time comes in as an argument, the
// frames it wants written go to an outbox, and what the shell must do (close,
// report to the swarm) comes back as Events. PeerConnection (connection.hpp)
// is the shell: it moves the bytes, waits on the rate limits and runs the
// timers; the framing checks (unknown types, sizes), keepalives, an Error's
// linger and a failed disk read stay there. Tested directly in
// test/peer_session_test.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/bytes.hpp"
#include "common/model/bitfield.hpp"
#include "common/model/seed.hpp"
#include "common/wire/peer_protocol.hpp"
#include "peer/discovery/pex_gate.hpp"
#include "peer/swarm/buffer_pool.hpp"
#include "peer/swarm/picker.hpp"
#include "peer/swarm/rate_meter.hpp"
#include "peer/swarm/spread.hpp"
#include "peer/swarm/swarm_options.hpp"

namespace seedshare {

// What a session reads and updates of its swarm: the settings and the
// bookkeeping all connections of a swarm share. SwarmLink extends it with
// what the shell needs (the process's SwarmEnv, storage, the events it
// reports, whether a remote is spared).
class SessionHost {
  public:
    virtual const Seed& seed() const = 0;
    virtual const SwarmOptions& options() const = 0;
    // The chunks we hold (verified), and whether we still fetch.
    virtual const Bitfield& have() const = 0;
    virtual bool holds(ChunkIndex c) const = 0;
    virtual bool downloading() const = 0;
    virtual Picker& picker() = 0;
    // How widely the picker may choose among equally rare chunks.
    virtual std::size_t pick_window() const = 0;
    // Chunk data being fetched or waiting for verification.
    virtual BufferPool& fetch_buffers() = 0;
    // How far each chunk has spread among the peers we are connected to.
    virtual SpreadTracker& spread() = 0;
    // May one more block be requested, counting what every connection has
    // requested (RequestBudget)?
    virtual bool may_request_more() const = 0;
    // May a backup be asked for chunks another connected peer holds
    // (BackupSparing::turn_to_backup on the swarm's connections now)?
    virtual bool turn_to_backups() = 0;
    // A complete peer with several partial peers rations its upload: only
    // the least spread chunks (SpreadTracker), so peers trade the rest.
    virtual bool rationing_uploads() const = 0;
    // May a request that begins a chunk be queued behind what every
    // connection of the swarm has queued to send (UploadBacklog)?
    virtual bool may_queue_upload(std::chrono::steady_clock::time_point now) = 0;

  protected:
    ~SessionHost() = default;
};

class PeerSession {
  public:
    using TimePoint = std::chrono::steady_clock::time_point;

    // What the shell does after a message was handled. A violation ends the
    // connection with an Error frame (fail()); `close` ends it at once.
    struct Events {
        std::optional<std::string> violation;
        std::optional<std::string> close;
        std::optional<std::string> remote_error;  // the remote's Error text
        bool bitfield = false;                    // its bitfield arrived: call join()
        bool wake_fetchers = false;               // chunks became free for other connections
        bool peers_asked = false;                 // GetPeers, within its rate: answer it
        bool pex_ignored = false;                 // PeerList over its rate: ignored
        // PeerList, within its rate: at most kPexMaxAdded of each, normalised.
        std::optional<std::pair<std::vector<PeerAddress>, std::vector<PeerAddress>>> heard;
    };

    // Where a Piece's data goes: into `into`, or skipped (it crossed our
    // Cancel on the wire).
    struct PieceTarget {
        bool skip = false;
        std::span<std::uint8_t> into;
    };

    // A chunk whose every block arrived: the shell hands it to the swarm.
    struct Completed {
        ChunkIndex chunk;
        BufferPool::Buffer data;
    };

    // How long a chunk the remote rejected is not asked of it again.
    static constexpr std::chrono::seconds kRefusedFor{2};

    // `wake` is called whenever a frame or a block to serve is queued (the
    // shell wakes its writer).
    PeerSession(SessionHost& host, TimePoint now, std::function<void()> wake);
    // Holds a host reference and a callback into its shell: not copied.
    PeerSession(const PeerSession&) = delete;
    PeerSession& operator=(const PeerSession&) = delete;

    // --- the remote's messages (Piece excepted) -----------------------------
    Events handle(peer_proto::Message& m, TimePoint now);
    // After Events::bitfield: the remote joins the picker and the spread
    // (`spared`: a backup peer, asked only for what others lack).
    void join(bool spared);

    // --- a Piece: its header, then its data ----------------------------------
    // A block we asked for: `into` is where its data goes; from here until
    // end_piece a cancel only marks its chunk dropped, so `into` stays
    // valid. A block we cancelled (it crossed the Cancel): skipped, once.
    // Anything else is a violation.
    Result<PieceTarget> begin_piece(const peer_proto::Block& b);
    // Its data is in: counted; the chunk when it is whole.
    std::optional<Completed> end_piece(const peer_proto::Block& b, TimePoint now);

    // --- what the swarm asks -------------------------------------------------
    // Requests more blocks while the pipeline has room and there is work.
    void fill_requests(TimePoint now);
    // Someone else delivered c first: stop fetching it here (Cancels sent).
    void cancel_fetch(ChunkIndex c, TimePoint now);
    bool fetching(ChunkIndex c) const { return fetches_.contains(c.value); }
    void set_spared(bool spared);
    // We are leaving: a Goodbye, and every later request is rejected.
    void say_goodbye();
    // Queues a frame for the writer (nothing once closed).
    void send(const peer_proto::Message& m);
    // A protocol error of the remote's: nothing more is served; the Error
    // frame is queued.
    void fail(const std::string& violation);
    // The connection ended: nothing more is queued.
    void close() { closed_ = true; }
    // Gives back what the session holds of the swarm's bookkeeping (picker
    // reservations, spread counts). Once, after the I/O is done.
    void teardown();

    // --- the writer ----------------------------------------------------------
    // Control frames and rejects queued; take_frames() encodes them all.
    bool frames_pending() const { return !control_.empty() || !rejects_.empty(); }
    Bytes take_frames();
    // The next block to serve, in the order asked; the writer begins writing
    // it now.
    std::optional<peer_proto::Block> next_upload(TimePoint now);
    bool uploads_queued() const { return !serve_queue_.empty(); }
    // A block was handed to the socket (the last block of a promised copy
    // frees the chunk for the next copy).
    void count_uploaded(const peer_proto::Block& b, TimePoint now);
    // The block could not be read from the disk: rejected, and the copy of
    // its chunk given up.
    void unreadable(const peer_proto::Block& b);

    // --- state -----------------------------------------------------------------
    const Bitfield& theirs() const { return theirs_; }
    bool counted_in_picker() const { return got_bitfield_; }
    bool spared() const { return spared_; }
    bool remote_leaving() const { return remote_leaving_; }
    bool goodbye_sent() const { return goodbye_sent_; }
    // The remote said goodbye and everything we asked of it arrived.
    bool remote_done() const { return remote_leaving_ && outstanding_.empty(); }
    std::uint64_t outstanding_bytes() const { return outstanding_bytes_; }
    std::size_t outstanding_blocks() const { return outstanding_.size(); }
    std::size_t fetches() const { return fetches_.size(); }
    std::uint64_t downloaded() const { return downloaded_; }
    std::uint64_t uploaded() const { return uploaded_; }
    TimePoint last_block_at() const { return last_block_at_; }
    // When a block last came from the remote (the connection's start until one does).
    TimePoint last_received_at() const { return last_received_at_; }
    double download_rate() const { return down_rate_.rate(); }
    // Bytes of the blocks queued to serve the remote, not yet being written.
    std::uint64_t queued_upload_bytes() const { return queued_bytes_; }
    // What fill_requests keeps outstanding: rate x pipeline_window, bounded.
    std::uint64_t pipeline_target() const;
    // Requests outstanding and nothing received for stall_timeout.
    bool stalled(TimePoint now) const;

  private:
    struct Fetch {
        ChunkIndex chunk;
        BufferPool::Buffer buffer;
        std::uint32_t next_offset = 0;  // next byte to request
        std::uint32_t received = 0;
        bool dropped = false;  // cancelled while a read into it was in flight
    };

    void handle_bitfield(peer_proto::BitfieldMsg& bf, Events& ev);
    void handle_have(const peer_proto::Have& have, TimePoint now, Events& ev);
    void handle_request(const peer_proto::Request& req, TimePoint now, Events& ev);
    void handle_reject(const peer_proto::Reject& reject, TimePoint now);
    void handle_goodbye(TimePoint now, Events& ev);
    void reject(const peer_proto::Block& b);
    void drop_fetch(ChunkIndex c, bool send_cancels, TimePoint now);
    bool refused(ChunkIndex c, TimePoint now);
    void forget_old_cancels(TimePoint now);
    void count_received(std::uint64_t bytes, TimePoint now);
    // The promise of c ends: announced, cancelled, or the connection closed.
    void end_promise(ChunkIndex c);
    static void remember(std::set<std::uint32_t>& chunks, std::uint32_t c);

    SessionHost& host_;
    std::function<void()> wake_;
    Bitfield theirs_;
    bool got_bitfield_ = false;
    bool spared_ = false;
    bool closed_ = false;
    bool goodbye_sent_ = false;
    bool remote_leaving_ = false;

    // Fetching from the remote.
    std::map<std::uint32_t, Fetch> fetches_;
    std::optional<std::uint32_t> reading_into_;  // chunk whose buffer a read fills now
    std::deque<peer_proto::Block> outstanding_;
    std::uint64_t outstanding_bytes_ = 0;
    // Blocks we cancelled, and when: a Piece for one is discarded.
    std::map<peer_proto::Block, TimePoint> cancelled_;
    // Chunks the remote rejected, until when not to ask it again (a seed that
    // rations its upload may serve them later).
    std::map<std::uint32_t, TimePoint> refused_;
    TimePoint last_piece_at_;
    TimePoint last_block_at_;
    TimePoint last_received_at_;
    std::uint64_t downloaded_ = 0;
    RateMeter down_rate_;

    // Serving the remote.
    std::deque<peer_proto::Block> serve_queue_;
    std::uint64_t queued_bytes_ = 0;  // of serve_queue_'s blocks
    // Chunks of several blocks: those whose first block we accepted (the
    // rest is served without asking the backlog again), and those we turned
    // away (the rest is refused, until the remote asks for the chunk anew).
    std::set<std::uint32_t> begun_;
    std::set<std::uint32_t> turned_away_;
    // Requests refused, their Reject not yet written: they count with
    // serve_queue_ toward kMaxQueuedRequests, and a Cancel removes one (the
    // remote forgot it), so the count is what the remote has outstanding.
    std::deque<peer_proto::Block> rejects_;
    // Chunks this (seeding, rationing) peer accepted to send the remote;
    // counted in the swarm's SpreadTracker until the remote announces them,
    // cancels every block of them still queued, or leaves, and as a copy
    // being written until the block that ends the chunk is out. Blocks
    // accepted before the seed rationed are not counted.
    struct Promise {
        std::optional<TimePoint> began;  // its first block taken by the writer
        bool sending = true;
    };
    std::map<std::uint32_t, Promise> promised_;
    std::uint64_t uploaded_ = 0;

    // Peer exchange: PeerLists taken from the remote (4 at once, then 2 a
    // second), and GetPeers answered (2 at once, then one every 2 s).
    PexGate pex_in_{4, std::chrono::milliseconds(500)};
    PexGate pex_answers_{2, std::chrono::seconds(2)};

    Bytes control_;  // encoded frames waiting for the writer
};

}  // namespace seedshare
