#include "peer/swarm/connection.hpp"

#include <fmt/format.h>

namespace seedshare {

namespace pp = peer_proto;

PeerConnection::PeerConnection(std::shared_ptr<SwarmLink> swarm,
                               std::shared_ptr<net::FrameStream> stream, const pp::Hello& theirs,
                               std::optional<PeerAddress> dialed)
    : swarm_(std::move(swarm)),
      stream_(std::move(stream)),
      user_(theirs.user),
      their_port_(theirs.listen_port),
      asks_to_be_spared_((theirs.flags & (pp::kHelloBackup | pp::kHelloSpare)) != 0),
      dialed_(dialed),
      name_(stream_->remote()),
      log_(swarm_->log().sub(stream_->remote())),
      writer_wake_(stream_->get_executor()),
      session_(*swarm_, net::Clock::now(), [this] { writer_wake_.cancel(); }),
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
    stream_->limit_unsent(kUnsentBytes);
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
    if (send_hello) session_.send(env.hello(swarm_->id()));
    session_.send(pp::BitfieldMsg{swarm_->have()});
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
    session_.close();
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
                   session_.fetches());
    session_.teardown();
    swarm_->count_traffic(name_, 0, 0);
    swarm_->connection_closed(this, session_.remote_leaving());
}

// --- the reader ----------------------------------------------------------------

net::awaitable<void> PeerConnection::receive_piece(const FrameHeader& h) {
    if (h.payload_size() <= pp::kPieceHeaderBytes) throw net::ProtocolError("piece without data");
    std::array<std::uint8_t, pp::kPieceHeaderBytes> head{};
    co_await stream_->read_exact(head);
    ByteReader r(head);
    pp::Block b;
    r.u32(b.chunk.value);
    r.u32(b.offset);
    b.length = static_cast<std::uint32_t>(h.payload_size() - pp::kPieceHeaderBytes);

    const auto target = session_.begin_piece(b);
    if (!target) throw net::ProtocolError(target.error().message);
    if (target->skip) {
        co_await stream_->skip(b.length);
        co_return;
    }
    // Paces the sender through TCP. (The header may have come from the
    // stream's buffer after close(): its cancel came before this wait.)
    if (closed_) co_return;
    co_await swarm_->env().download_limit->acquire(b.length, download_pace_);
    co_await stream_->read_exact(target->into);
    auto done = session_.end_piece(b, net::Clock::now());
    swarm_->count_traffic(name_, b.length, 0);
    if (done) swarm_->chunk_received(shared_from_this(), done->chunk, std::move(done->data));
    fill_requests();
}

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
            auto ev = session_.handle(*m, net::Clock::now());
            if (ev.violation) throw net::ProtocolError(*ev.violation);
            act(ev);
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
    session_.fail(violation);
    closing_ = true;
    linger_.expires_after(kErrorLinger);
    asio::error_code ec;
    co_await linger_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    close(violation);
}

void PeerConnection::act(PeerSession::Events& ev) {
    if (ev.bitfield) {
        const bool spared = swarm_->spares(*this);
        if (spared) log_.debug("a backup peer: its upload is spared");
        session_.join(spared);
        swarm_->connection_ready(shared_from_this());
        fill_requests();
    }
    if (ev.pex_ignored) log_.debug("PeerList ignored: sent too often");
    if (ev.heard) swarm_->peers_heard(shared_from_this(), ev.heard->first, ev.heard->second);
    if (ev.peers_asked) swarm_->peers_asked(shared_from_this());
    if (ev.wake_fetchers) swarm_->wake_fetchers();
    if (ev.remote_error) log_.warn("the peer reports an error: {}", *ev.remote_error);
    if (ev.close) close(*ev.close);
}

}  // namespace seedshare
