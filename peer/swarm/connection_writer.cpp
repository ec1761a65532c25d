// PeerConnection's writer: control frames, rejects, and the blocks it
// serves, in turn among everything the process uploads. (The reader and
// the rest of the connection: connection.cpp.)
#include "common/net/offload.hpp"
#include "peer/swarm/connection.hpp"

namespace seedshare {

namespace pp = peer_proto;

// --- the writer ----------------------------------------------------------------

net::awaitable<void> PeerConnection::serve(pp::Block b, UploadSlots::Slot& slot) {
    // An upload buffer is held only while the remote takes the bytes: when it
    // stops reading for kUploadPatience the buffer goes back to the pool and
    // the rest of the block is read again once its socket has room. So
    // connections that ask and never read cannot starve the others of
    // buffers, and hold nothing while their write deadline runs out.
    auto& pool = *swarm_->env().pool;
    auto storage = swarm_->storage_ptr();
    const std::uint64_t block_offset = swarm_->seed().chunk_offset(b.chunk) + b.offset;
    const Bytes head = pp::encode_piece_header(b.chunk, b.offset, b.length);
    const std::size_t total = head.size() + b.length;
    if (closed_) co_return;  // (close() cancels only a wait under way)
    co_await swarm_->env().upload_limit->acquire(b.length, upload_pace_);
    std::size_t sent = 0;  // of the frame: header, then data
    BufferPool::Buffer buffer;
    std::size_t buffer_from = 0;  // data offset of buffer's first byte
    bool stalled = false;         // the remote stopped reading; we let go
    bool sliced = false;          // since a stall: the rest in slices
    while (sent < total) {
        if (closed_) co_return;
        if (!buffer) {
            if (stalled) {
                upload_stalled_ = true;
                co_await stream_->wait_writable();
                upload_stalled_ = false;
            }
            sliced = sliced || stalled;
            stalled = false;
            if (const auto& slots = swarm_->env().upload_slots; slots && !slot) {
                // Resuming after a stall: our turn again among every block
                // this process sends (FIFO).
                slot = co_await slots->acquire(
                    upload_pace_, [this] { return closed_; }, kSlotRecheck);
                if (closed_) co_return;
            }
            buffer_from = sent > head.size() ? sent - head.size() : 0;
            // After a stall, a slice at a time: a remote that reads a little
            // every while must not make us read the whole rest again each time.
            const std::size_t rest = b.length - buffer_from;
            buffer = co_await swarm_->env().upload_buffers->acquire(
                sliced ? std::min(rest, kResumeSliceBytes) : rest, buffer_wait_,
                [this] { return closed_; });
            if (closed_) co_return;
            const std::uint64_t offset = block_offset + buffer_from;
            auto span = buffer.span();
            // From the page cache without leaving the I/O thread when it can
            // be; from the disk on the pool when it cannot.
            std::optional<Status> cached = storage->read_if_cached(offset, span);
            if (!cached) {
                auto read_block = [storage, offset, span] { return storage->read(offset, span); };
                cached = co_await offload(pool, std::move(read_block));
            }
            const Status read = std::move(*cached);
            if (closed_) co_return;
            if (!read) {
                log_.warn("cannot serve chunk {}: {}", b.chunk.value, read.error().message);
                swarm_->storage_failed(read.error().message);
                if (sent == 0) {
                    session_.unreadable(b);
                    co_return;
                }
                close("cannot read the rest of a block being sent");  // mid-frame
                co_return;
            }
        }
        const auto data = buffer.span();
        const std::size_t data_sent = sent > head.size() ? sent - head.size() : 0;
        std::array<asio::const_buffer, 2> bufs;
        std::size_t count = 0;
        if (sent < head.size())
            bufs[count++] = asio::buffer(head.data() + sent, head.size() - sent);
        bufs[count++] = asio::buffer(data.data() + (data_sent - buffer_from),
                                     data.size() - (data_sent - buffer_from));
        std::size_t want = 0;
        for (std::size_t i = 0; i < count; ++i)
            want += bufs[i].size();
        const std::size_t n =
            co_await stream_->write_within(std::span(bufs.data(), count), kUploadPatience);
        sent += n;
        if (sent < total) {
            // The slice is out (the next one follows at once), or the remote
            // stopped reading: either way, let go of the buffer; a remote
            // that stopped reading lets go of its upload slot too.
            buffer = BufferPool::Buffer{};
            stalled = n < want;
            if (stalled) slot.reset();
        }
    }
    session_.count_uploaded(b, net::Clock::now());
    swarm_->count_traffic(name_, 0, b.length);
}

net::awaitable<void> PeerConnection::write_control(const Bytes& frames) {
    // The writer may hold a place in the queue for an upload slot while it
    // writes these (blocks wait for this remote), and the place may be
    // granted meanwhile. A remote that stops reading would keep that slot
    // from everyone until its write deadline (the idle timeout): after
    // kUploadPatience without progress the place goes back, and its queued
    // blocks stop counting against the upload queue, as when a block
    // stalls (serve). One that reads them slowly gives back a slot granted
    // meanwhile once they have taken kUploadPatience (checked between
    // slices of kUnsentBytes), and keeps a place not granted yet.
    const auto began = net::Clock::now();
    std::size_t sent = 0;
    while (sent < frames.size()) {
        const std::size_t slice = std::min(frames.size() - sent, kUnsentBytes);
        const asio::const_buffer rest = asio::buffer(frames.data() + sent, slice);
        const std::size_t n = co_await stream_->write_within(std::span(&rest, 1), kUploadPatience);
        sent += n;
        if (sent == frames.size() || closed_) break;
        if (n < slice) {  // no room for kUploadPatience
            upload_turn_.reset();
            upload_stalled_ = true;
            co_await stream_->wait_writable();  // at most the write timeout
            upload_stalled_ = false;
        } else if (upload_turn_.granted() && net::Clock::now() - began > kUploadPatience) {
            upload_turn_.reset();
        }
    }
}

net::awaitable<void> PeerConnection::write_loop() {
    auto self = shared_from_this();
    try {
        auto last_write = net::Clock::now();
        while (!closed_) {
            if (session_.frames_pending()) {
                const Bytes frames = session_.take_frames();
                flushing_ = true;
                co_await write_control(frames);
                flushing_ = false;
                if (closed_) break;
                last_write = net::Clock::now();
                if (session_.goodbye_sent()) swarm_->upload_finished();  // stop() waits for it
                if (closing_ && !session_.frames_pending()) {
                    linger_.cancel();  // the reader's Error frame is out: it closes
                    break;
                }
                continue;
            }
            if (session_.uploads_queued()) {
                // A block goes out in our turn among all this process sends
                // (UploadSlots); until then control frames keep flowing.
                UploadSlots::Slot slot;
                bool our_turn = true;
                if (const auto& slots = swarm_->env().upload_slots) {
                    if (!upload_turn_) upload_turn_ = slots->request(writer_wake_);
                    our_turn = upload_turn_.granted();
                    if (our_turn) slot = upload_turn_.take();
                }
                if (our_turn) {
                    const pp::Block b = *session_.next_upload(net::Clock::now());
                    serving_ = true;
                    co_await serve(b, slot);
                    serving_ = false;
                    if (!session_.uploads_queued()) swarm_->upload_finished();
                    last_write = net::Clock::now();
                    continue;
                }
            } else if (session_.remote_done()) {
                close("the peer said goodbye");
                break;
            } else {
                upload_turn_.reset();  // nothing to send: no place in the queue
            }
            // Nothing to send: sleep until woken, or until a keepalive is due.
            const auto keepalive = swarm_->options().keepalive;
            writer_wake_.expires_at(last_write + keepalive);
            asio::error_code ec;
            co_await writer_wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (!ec && !session_.frames_pending() && !session_.uploads_queued() &&
                net::Clock::now() >= last_write + keepalive)
                session_.send(pp::KeepAlive{});
        }
    } catch (const std::exception& e) {
        close(e.what());
    }
    serving_ = false;
    upload_turn_.reset();
}

}  // namespace seedshare
