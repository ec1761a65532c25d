// One TCP connection to one peer about one seed: the I/O shell around a
// PeerSession (peer_session.hpp), which makes the protocol's decisions about
// messages (the shell keeps the framing checks, keepalives, an Error's
// linger and what a failed disk read means). Three
// coroutines share it: a reader (frames in, handed to the session), a writer
// (the session's control frames first, then the blocks it queued to serve,
// each in its upload turn) and the stream's watchdog.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/core/address.hpp"
#include "common/model/bitfield.hpp"
#include "common/net/net.hpp"
#include "common/wire/peer_protocol.hpp"
#include "peer/swarm/buffer_pool.hpp"
#include "peer/swarm/peer_session.hpp"
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
    // What the kernel may hold of our uploads, written but not yet sent
    // (FrameStream::limit_unsent). Without it a block counts as sent once a
    // send buffer of up to megabytes took it, so the upload slots bound
    // nothing and the upload rate a seed measures is the buffers' (on the
    // shaped network of scripts/bench/netswarm, about 2 MiB/s "sent" on a
    // 1 MiB/s link). Small, so a block leaves about when its slot is given
    // back, at the cost of more writes (about 16 per 256 KiB block where
    // there was one) and of the rest of a block read again in slices when a
    // connection drains under about 32 KiB/s (it looks stalled).
    static constexpr std::size_t kUnsentBytes = 16u << 10;
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
    const Bitfield& theirs() const { return session_.theirs(); }
    std::optional<PeerAddress> listen_address() const;
    std::optional<PeerAddress> dialed() const { return dialed_; }
    // Who says what this connection gossips: its listening address (or the
    // dialled one, or the remote IP with port 0).
    PeerAddress origin() const;
    std::uint64_t downloaded() const { return session_.downloaded(); }
    std::uint64_t uploaded() const { return session_.uploaded(); }
    // When the last block crossed either way (or when it connected).
    net::Clock::time_point last_block_at() const { return session_.last_block_at(); }
    net::Clock::time_point connected_at() const { return connected_at_; }
    // When a block last came from the remote (or when it connected).
    net::Clock::time_point last_received_at() const { return session_.last_received_at(); }
    bool remote_leaving() const { return session_.remote_leaving(); }
    // Its bitfield arrived, so the picker counts its chunks.
    bool counted_in_picker() const { return session_.counted_in_picker(); }
    // A backup peer: asked only for chunks no other connected peer holds,
    // unless the others are slow (BackupSparing). Counted so in the picker.
    bool spared() const { return session_.spared(); }
    void set_spared(bool spared) { session_.set_spared(spared); }

    // Asks for more blocks if the pipeline has room and there is work.
    void fill_requests() { session_.fill_requests(net::Clock::now()); }
    // Peer exchange: other holders we know.
    void send_peers(const peer_proto::PeerList& list) { session_.send(list); }
    // Peer exchange: our pool is low; the remote answers with a PeerList.
    void ask_peers() { session_.send(peer_proto::GetPeers{}); }
    // Bytes requested from the remote, not received yet.
    std::uint64_t outstanding_bytes() const { return session_.outstanding_bytes(); }
    // Bytes per second received from this peer lately (0 until measured).
    double download_rate() const { return session_.download_rate(); }
    // Blocks queued to send it, as the swarm's upload queue counts them
    // (UploadBacklog): at most one block's worth (`most`), so a remote that
    // reads slowly holds no more of the queue than of the upload slots;
    // none once closed, or while it does not read at all.
    std::uint64_t queued_upload_bytes(std::uint64_t most) const {
        return closed_ || upload_stalled_ ? 0 : std::min(session_.queued_upload_bytes(), most);
    }
    // A block is being written to it now.
    bool uploading() const { return serving_; }
    // Its Hello asked to be spared: a backup peer, or a channel's publisher.
    bool asks_to_be_spared() const { return asks_to_be_spared_; }
    // What fill_requests keeps outstanding: rate x pipeline_window, bounded.
    std::uint64_t pipeline_target() const { return session_.pipeline_target(); }
    // We verified c: tell the remote, even one that holds c itself. Its view
    // of us must stay whole: a seed releases the promise it made for c only
    // on our Have (else the chunks it sent us look ever more spread and it
    // refuses the ones we still lack), and two peers that both completed
    // close their connection ("both complete") only when each sees the
    // other whole (else a stale partial view keeps it open and makes the
    // seed ration its uploads for a peer that needs nothing).
    void announce(ChunkIndex c) { session_.send(peer_proto::Have{c}); }
    // Someone else delivered c first: stop fetching it here.
    void cancel_fetch(ChunkIndex c) { session_.cancel_fetch(c, net::Clock::now()); }
    bool fetching(ChunkIndex c) const { return session_.fetching(c); }
    // We are leaving: tell the remote, take no new requests.
    void say_goodbye() { session_.say_goodbye(); }
    // Blocks asked of us not yet sent, or frames not yet written (a Goodbye
    // just queued: closing before it is written would lose it).
    bool uploads_pending() const {
        return session_.uploads_queued() || serving_ || session_.frames_pending() || flushing_;
    }
    // Stalled: requests outstanding and nothing received for stall_timeout.
    bool stalled(net::Clock::time_point now) const { return session_.stalled(now); }

  private:
    net::awaitable<void> read_loop();
    net::awaitable<void> write_loop();
    net::awaitable<void> receive_piece(const FrameHeader& h);
    // Sends one block; `slot` is its upload slot (empty: no limit), given
    // back when the remote stops reading and taken again to resume.
    net::awaitable<void> serve(peer_proto::Block b, UploadSlots::Slot& slot);
    // Writes control frames; a remote that stops reading them gives back its
    // place in the upload-slot queue meanwhile.
    net::awaitable<void> write_control(const Bytes& frames);
    // Acts on what the session decided about one message.
    void act(PeerSession::Events& ev);
    void teardown();

    std::shared_ptr<SwarmLink> swarm_;  // the swarm, as connections see it
    std::shared_ptr<net::FrameStream> stream_;
    UserId user_;
    std::uint16_t their_port_;
    bool asks_to_be_spared_;  // its Hello says it is a backup peer or a publisher
    const net::Clock::time_point connected_at_ = net::Clock::now();
    asio::ip::address address_;
    std::optional<PeerAddress> dialed_;
    std::string name_;
    Logger log_;

    net::Clock::time_point closed_at_{};
    bool closed_ = false;
    int running_ = 0;  // coroutines still running
    bool serving_ = false;
    bool upload_stalled_ = false;  // the remote stopped reading what we send

    asio::steady_timer writer_wake_;
    // The protocol's decisions (after writer_wake_: it wakes it).
    PeerSession session_;
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
