#include "peer/swarm/connection.hpp"

#include <fmt/format.h>

#include "common/core/limits.hpp"
#include "common/core/plural.hpp"

namespace seedshare {

namespace pp = peer_proto;

PeerConnection::PeerConnection(std::shared_ptr<SwarmLink> swarm,
                               std::shared_ptr<net::FrameStream> stream, const pp::Hello& theirs,
                               std::optional<PeerAddress> dialed)
    : swarm_(std::move(swarm)),
      stream_(std::move(stream)),
      user_(theirs.user),
      their_port_(theirs.listen_port),
      dialed_(dialed),
      name_(stream_->remote()),
      log_(swarm_->log().sub(stream_->remote())),
      theirs_(swarm_->seed().chunk_count()),
      last_piece_at_(net::Clock::now()),
      last_block_at_(last_piece_at_),
      rate_since_(net::Clock::now()),
      writer_wake_(stream_->get_executor()),
      linger_(stream_->get_executor()),
      download_pace_(stream_->get_executor()),
      upload_pace_(stream_->get_executor()),
      buffer_wait_(std::make_shared<asio::steady_timer>(stream_->get_executor())) {
    asio::error_code ec;
    const auto ep = stream_->socket().remote_endpoint(ec);
    if (!ec) address_ = net::normalize(ep.address());
    if (their_port_ != 0 && !ec) name_ = PeerAddress{address_, their_port_}.str();
    const auto& o = swarm_->options();
    stream_->set_timeouts(
        {.idle = o.idle_timeout, .frame = o.idle_timeout, .write = o.idle_timeout});
}

PeerConnection::~PeerConnection() = default;

PeerAddress PeerConnection::origin() const {
    if (const auto a = listen_address()) return *a;
    if (dialed_) return *dialed_;
    return PeerAddress{address_, 0};
}

std::optional<PeerAddress> PeerConnection::listen_address() const {
    if (their_port_ == 0 || address_.is_unspecified()) return std::nullopt;
    return PeerAddress{address_, their_port_};
}

void PeerConnection::start(bool send_hello) {
    auto self = shared_from_this();
    const auto& env = swarm_->env();
    if (send_hello) send(pp::Hello{pp::kVersion, swarm_->id(), env.user, env.listen_port});
    send(pp::BitfieldMsg{swarm_->have()});
    running_ = 2;
    auto done = [self](std::exception_ptr) {
        if (--self->running_ == 0) self->teardown();
    };
    asio::co_spawn(stream_->get_executor(), read_loop(), done);
    asio::co_spawn(stream_->get_executor(), write_loop(), done);
}

void PeerConnection::close(const std::string& reason) {
    if (closed_) return;
    closed_ = true;
    closed_at_ = net::Clock::now();
    log_.debug("closed: {}", reason);
    stream_->close();
    writer_wake_.cancel();
    linger_.cancel();
    download_pace_.cancel();
    upload_pace_.cancel();
    buffer_wait_->cancel();
    upload_turn_.reset();
}

void PeerConnection::teardown() {
    // Both coroutines are done: no read is writing into a fetch buffer now.
    if (const auto late = net::Clock::now() - closed_at_; closed_ && late > std::chrono::seconds(1))
        log_.debug("torn down {} ms after it closed ({} chunks were held)",
                   std::chrono::duration_cast<std::chrono::milliseconds>(late).count(),
                   fetches_.size());
    for (auto& [index, fetch] : fetches_)
        if (!fetch.dropped) swarm_->picker().release(fetch.chunk);
    if (got_bitfield_) swarm_->spread().remove_holder(theirs_);
    for (const auto c : promised_)
        swarm_->spread().unpromise(ChunkIndex{c});
    promised_.clear();
    fetches_.clear();
    outstanding_.clear();
    outstanding_bytes_ = 0;
    swarm_->count_traffic(name_, 0, 0);
    swarm_->connection_closed(this, remote_leaving_);
}

void PeerConnection::send(const pp::Message& m) {
    if (closed_) return;
    const Bytes frame = pp::encode(m);
    control_.insert(control_.end(), frame.begin(), frame.end());
    writer_wake_.cancel();
}

void PeerConnection::reject(const pp::Block& b) {
    if (closed_) return;
    rejects_.push_back(b);
    writer_wake_.cancel();
}

void PeerConnection::forget_old_cancels() {
    // A Piece or Reject that crossed a Cancel arrives within a round trip; the
    // remote may also drop a cancelled request without a word. Entries older
    // than the write deadline are forgotten, so the set does not only grow.
    if (cancelled_.size() < limits::kMaxQueuedRequests) return;
    const auto old = net::Clock::now() - swarm_->options().cancel_memory;
    std::erase_if(cancelled_, [&](const auto& e) { return e.second < old; });
}

void PeerConnection::announce(ChunkIndex c) {
    send(pp::Have{c});
}

void PeerConnection::say_goodbye() {
    if (goodbye_sent_ || closed_) return;
    goodbye_sent_ = true;
    send(pp::Goodbye{});
}

bool PeerConnection::stalled(net::Clock::time_point now) const {
    return !outstanding_.empty() && now - last_piece_at_ > swarm_->options().stall_timeout;
}

// --- fetching ----------------------------------------------------------------

bool PeerConnection::refused(ChunkIndex c) {
    auto it = refused_.find(c.value);
    if (it == refused_.end()) return false;
    if (net::Clock::now() < it->second) return true;
    refused_.erase(it);
    return false;
}

void PeerConnection::count_received(std::uint64_t bytes) {
    const auto now = net::Clock::now();
    rate_bytes_ += bytes;
    const double span = std::chrono::duration<double>(now - rate_since_).count();
    if (span < 0.25) return;
    const double sample = static_cast<double>(rate_bytes_) / span;
    rate_ = rate_ == 0 ? sample : 0.6 * rate_ + 0.4 * sample;
    rate_bytes_ = 0;
    rate_since_ = now;
}

std::uint64_t PeerConnection::pipeline_target() const {
    const auto& o = swarm_->options();
    const auto most = std::max(o.pipeline_min_bytes, o.pipeline_max_bytes);
    // Not measured yet: start small (a busy or rate-limited peer must not
    // collect a large share of the file in its queue); it grows with the rate.
    if (rate_ == 0) return o.pipeline_min_bytes;
    const double want = rate_ * std::chrono::duration<double>(o.pipeline_window).count();
    return std::clamp<std::uint64_t>(static_cast<std::uint64_t>(want), o.pipeline_min_bytes, most);
}

void PeerConnection::set_spared(bool spared) {
    if (spared == spared_) return;
    if (got_bitfield_) {
        swarm_->picker().remove_peer(theirs_, spared_);
        swarm_->picker().add_peer(theirs_, spared);
    }
    spared_ = spared;
}

void PeerConnection::fill_requests() {
    if (closed_ || remote_leaving_ || !swarm_->downloading() || !got_bitfield_) return;
    const auto& o = swarm_->options();
    const auto& seed = swarm_->seed();
    const auto target = pipeline_target();
    // A backup is asked only for what no other connected peer holds, unless
    // the others are slow (BackupSparing).
    const bool spare = spared_ && !swarm_->turn_to_backups();
    if (spare && swarm_->picker().others_hold_all() && fetches_.empty()) return;
    // By bytes, and by count: the remote drops a peer with more than
    // kMaxQueuedRequests waiting (small chunks make small blocks).
    // And within the getter's budget for all its connections together.
    while (outstanding_bytes_ < target && outstanding_.size() + 1 < limits::kMaxQueuedRequests &&
           swarm_->may_request_more()) {
        Fetch* f = nullptr;
        for (auto& [index, fetch] : fetches_) {
            if (fetch.next_offset < fetch.buffer.size() && !fetch.dropped) {
                f = &fetch;
                break;
            }
        }
        if (f == nullptr) {
            // Start a new chunk, if memory allows and the picker has one for us.
            auto& buffers = swarm_->fetch_buffers();
            if (buffers.in_use() >= buffers.capacity()) return;  // before the picker's work
            auto& picker = swarm_->picker();
            if (spare && picker.others_hold_all()) return;
            const auto chunk = picker.pick(
                theirs_,
                [&](ChunkIndex c) {
                    return fetches_.contains(c.value) || refused(c) ||
                           (spare && picker.held_by_others(c));
                },
                swarm_->pick_window());
            if (!chunk) return;
            auto buffer = buffers.try_acquire(seed.chunk_length(*chunk));
            if (!buffer) {
                picker.release(*chunk);
                return;
            }
            f = &fetches_.emplace(chunk->value, Fetch{*chunk, std::move(*buffer)}).first->second;
        }
        if (outstanding_.empty()) {
            last_piece_at_ = net::Clock::now();
            if (rate_bytes_ == 0) rate_since_ = last_piece_at_;  // idle time is not slowness
        }
        const auto length = static_cast<std::uint32_t>(
            std::min<std::size_t>(o.block_bytes, f->buffer.size() - f->next_offset));
        const pp::Block b{f->chunk, f->next_offset, length};
        f->next_offset += length;
        outstanding_.push_back(b);
        outstanding_bytes_ += length;
        send(pp::Request{b});
    }
}

void PeerConnection::drop_fetch(ChunkIndex c, bool send_cancels) {
    auto it = fetches_.find(c.value);
    if (it == fetches_.end() || it->second.dropped) return;
    for (auto o = outstanding_.begin(); o != outstanding_.end();) {
        if (o->chunk == c) {
            if (send_cancels) {
                send(pp::Cancel{*o});
                forget_old_cancels();
                cancelled_.emplace(*o, net::Clock::now());
            }
            outstanding_bytes_ -= o->length;
            o = outstanding_.erase(o);
        } else {
            ++o;
        }
    }
    swarm_->picker().release(c);
    // A read into this buffer may be in flight: then receive_piece erases it.
    if (reading_into_ == c.value) {
        it->second.dropped = true;
    } else {
        fetches_.erase(it);
    }
}

void PeerConnection::cancel_fetch(ChunkIndex c) {
    drop_fetch(c, true);
}

net::awaitable<void> PeerConnection::receive_piece(const FrameHeader& h) {
    if (h.payload_size() <= pp::kPieceHeaderBytes) throw net::ProtocolError("piece without data");
    std::array<std::uint8_t, pp::kPieceHeaderBytes> head{};
    co_await stream_->read_exact(head);
    ByteReader r(head);
    pp::Block b;
    r.u32(b.chunk.value);
    r.u32(b.offset);
    b.length = static_cast<std::uint32_t>(h.payload_size() - pp::kPieceHeaderBytes);

    const auto o = std::find(outstanding_.begin(), outstanding_.end(), b);
    if (o == outstanding_.end()) {
        if (cancelled_.erase(b) != 0) {  // it crossed our Cancel on the wire
            co_await stream_->skip(b.length);
            co_return;
        }
        throw net::ProtocolError(
            fmt::format("sent data that was never requested (chunk {}, offset {}, length {})",
                        b.chunk.value, b.offset, b.length));
    }
    outstanding_.erase(o);
    outstanding_bytes_ -= b.length;
    // From here until the bytes are in, a cancel only marks the fetch dropped.
    reading_into_ = b.chunk.value;
    // Paces the sender through TCP. (The header may have come from the
    // stream's buffer after close(): its cancel came before this wait.)
    if (closed_) co_return;
    co_await swarm_->env().download_limit->acquire(b.length, download_pace_);
    {
        auto& fetch = fetches_.at(b.chunk.value);  // outstanding blocks always have their fetch
        co_await stream_->read_exact(fetch.buffer.span().subspan(b.offset, b.length));
    }
    reading_into_.reset();
    last_piece_at_ = last_block_at_ = net::Clock::now();
    downloaded_ += b.length;
    count_received(b.length);
    swarm_->count_traffic(name_, b.length, 0);

    auto it = fetches_.find(b.chunk.value);
    if (it->second.dropped) {
        fetches_.erase(it);  // cancelled while we read: someone else delivered it
    } else if ((it->second.received += b.length) == it->second.buffer.size()) {
        BufferPool::Buffer data = std::move(it->second.buffer);
        fetches_.erase(it);
        swarm_->chunk_received(shared_from_this(), b.chunk, std::move(data));
    }
    fill_requests();
}

// --- the reader ----------------------------------------------------------------

net::awaitable<void> PeerConnection::read_loop() {
    auto self = shared_from_this();
    std::string violation;  // the protocol error that ends the connection
    try {
        while (!closed_) {
            const auto h = co_await stream_->read_header();
            const auto type = static_cast<pp::Type>(h.type);
            if (pp::max_payload(h.type) == 0 && type != pp::Type::kKeepAlive &&
                type != pp::Type::kGoodbye && type != pp::Type::kGetPeers)
                throw net::ProtocolError(fmt::format("unknown message type {}", h.type));
            if (h.payload_size() > pp::max_payload(h.type))
                throw net::ProtocolError(
                    fmt::format("message type {} of {} bytes is over its limit of {}", h.type,
                                h.payload_size(), pp::max_payload(h.type)));
            if (type == pp::Type::kPiece) {
                co_await receive_piece(h);
                continue;
            }
            const auto payload = co_await stream_->read_payload(h);
            auto m = pp::decode(h.type, payload);
            if (!m) throw net::ProtocolError(m.error().message);
            handle(*m);
        }
    } catch (const net::ProtocolError& e) {
        violation = e.what();
    } catch (const std::exception& e) {
        close(e.what());
        co_return;
    }
    if (violation.empty()) {
        close("closed");
        co_return;
    }
    log_.warn("dropping: {}", violation);
    if (closed_) co_return;
    // Tell it why, then close: the writer sends the Error frame next and
    // stops; a remote that does not read gets kErrorLinger, no more (the I/O
    // thread never blocks on it).
    serve_queue_.clear();
    send(pp::ErrorMsg{pp::ErrorCode::kProtocol, violation});
    closing_ = true;
    linger_.expires_after(kErrorLinger);
    asio::error_code ec;
    co_await linger_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    close(violation);
}

void PeerConnection::handle(pp::Message& m) {
    const auto& seed = swarm_->seed();
    if (auto* bf = std::get_if<pp::BitfieldMsg>(&m)) {
        if (got_bitfield_) throw net::ProtocolError("a second bitfield");
        if (bf->have.size() != seed.chunk_count())
            throw net::ProtocolError(fmt::format("bitfield for {}, the seed has {}",
                                                 count_of(bf->have.size(), "chunk"),
                                                 seed.chunk_count()));
        theirs_ = std::move(bf->have);
        got_bitfield_ = true;
        spared_ = swarm_->spares(*this);
        if (spared_) log_.debug("a backup peer: its upload is spared");
        swarm_->picker().add_peer(theirs_, spared_);
        swarm_->spread().add_holder(theirs_);
        swarm_->connection_ready(shared_from_this());
        fill_requests();
    } else if (auto* have = std::get_if<pp::Have>(&m)) {
        if (have->chunk.value >= seed.chunk_count())
            throw net::ProtocolError(fmt::format("have for chunk {}, past the last ({})",
                                                 have->chunk.value, seed.chunk_count()));
        if (!got_bitfield_) throw net::ProtocolError("have before bitfield");
        if (!theirs_.test(have->chunk)) {
            swarm_->picker().peer_gained(theirs_, have->chunk, spared_);
            swarm_->spread().holder_gained(have->chunk);
            if (promised_.erase(have->chunk.value) != 0) swarm_->spread().unpromise(have->chunk);
            theirs_.set(have->chunk);
            refused_.erase(have->chunk.value);
            // It completed the file, which we hold too: nothing to trade.
            if (theirs_.all() && swarm_->have().all()) return close("both complete");
            fill_requests();
        }
    } else if (auto* req = std::get_if<pp::Request>(&m)) {
        if (auto ok = pp::check_block(seed, req->block); !ok)
            throw net::ProtocolError(ok.error().message);
        // Rejects the writer has not handed to the socket yet wait too: a
        // peer asking for what we lack without reading must not grow control_.
        if (serve_queue_.size() + rejects_.size() >= limits::kMaxQueuedRequests)
            throw net::ProtocolError(
                fmt::format("more than {} requests queued without reading the answers",
                            limits::kMaxQueuedRequests));
        if (goodbye_sent_ || !swarm_->holds(req->block.chunk)) {
            reject(req->block);
            return;
        }
        if (!promised_.contains(req->block.chunk.value) && swarm_->rationing_uploads()) {
            // A seed among many peers: spend the upload on the least spread
            // chunks; this one can come from the peers that have it.
            if (!swarm_->spread().worth_sending(req->block.chunk)) {
                reject(req->block);
                return;
            }
            promised_.insert(req->block.chunk.value);
            swarm_->spread().promise(req->block.chunk);
        }
        serve_queue_.push_back(req->block);
        writer_wake_.cancel();
    } else if (auto* cancel = std::get_if<pp::Cancel>(&m)) {
        // Not served, or not rejected, after all: the remote forgot it.
        auto it = std::find(serve_queue_.begin(), serve_queue_.end(), cancel->block);
        if (it != serve_queue_.end()) {
            serve_queue_.erase(it);
        } else if (auto r = std::find(rejects_.begin(), rejects_.end(), cancel->block);
                   r != rejects_.end()) {
            rejects_.erase(r);
        }
    } else if (auto* reject = std::get_if<pp::Reject>(&m)) {
        if (std::find(outstanding_.begin(), outstanding_.end(), reject->block) ==
            outstanding_.end()) {
            cancelled_.erase(reject->block);  // a reject crossing our cancel
            return;
        }
        refused_[reject->block.chunk.value] = net::Clock::now() + std::chrono::seconds(2);
        drop_fetch(reject->block.chunk, true);
        fill_requests();
    } else if (auto* list = std::get_if<pp::PeerList>(&m)) {
        // Untrusted gossip: a bounded rate of messages, a bounded part of each.
        if (!pex_in_.allow(net::Clock::now())) {
            log_.debug("PeerList ignored: sent too often");
            return;
        }
        const auto take = [](const std::vector<pp::PeerAddress>& from) {
            std::vector<PeerAddress> out;
            for (const auto& p : from) {
                if (out.size() == limits::kPexMaxAdded) break;
                out.push_back(PeerAddress{net::normalize(p.address), p.port});
            }
            return out;
        };
        swarm_->peers_heard(shared_from_this(), take(list->peers), take(list->dropped));
    } else if (std::holds_alternative<pp::GetPeers>(m)) {
        if (pex_answers_.allow(net::Clock::now())) swarm_->peers_asked(shared_from_this());
    } else if (std::holds_alternative<pp::Goodbye>(m)) {
        remote_leaving_ = true;
        // It finishes what was requested; chunks not fully requested go elsewhere.
        std::vector<ChunkIndex> unfinished;
        for (const auto& [index, f] : fetches_)
            if (f.next_offset < f.buffer.size()) unfinished.push_back(f.chunk);
        for (auto c : unfinished)
            drop_fetch(c, true);
        swarm_->wake_fetchers();
        if (outstanding_.empty() && serve_queue_.empty()) close("the peer said goodbye");
    } else if (auto* err = std::get_if<pp::ErrorMsg>(&m)) {
        log_.warn("the peer reports an error: {}", err->message);
        close(fmt::format("error from peer: {}", err->message));
    } else if (std::holds_alternative<pp::Hello>(m)) {
        throw net::ProtocolError("a second Hello");
    } else if (std::holds_alternative<pp::KeepAlive>(m)) {
        // Nothing: the read itself reset the idle deadline.
    }
}

}  // namespace seedshare
