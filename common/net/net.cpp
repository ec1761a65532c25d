#include "common/net/net.hpp"

#include <fmt/format.h>
#include <asio/experimental/deferred.hpp>
#include <asio/experimental/parallel_group.hpp>

#include <algorithm>
#include <cassert>
#include <cstring>
#include <vector>

namespace seedshare::net {

namespace {
// Holds frame headers and small frames; thousands of connections each have
// one while bytes come (none while idle), so it is small. Reads of more than
// half of it bypass it.
constexpr std::size_t kReadBufferBytes = 8 * 1024;
constexpr std::size_t kDirectReadBytes = kReadBufferBytes / 2;
// A payload buffer grows in steps of this much as bytes arrive.
constexpr std::size_t kPayloadStep = 256 * 1024;

// Read buffers let go by idle streams, kept for the next stream to read on
// this thread (a stream is used by one thread at a time), so a busy tracker
// does not hand memory back to the system and fault it in again for every
// request. Bounded: at most kSpareReadBuffers x kReadBufferBytes per thread.
constexpr std::size_t kSpareReadBuffers = 256;
thread_local std::vector<Bytes> spare_read_buffers;

void take_read_buffer(Bytes& buffer) {
    if (!spare_read_buffers.empty()) {
        buffer.swap(spare_read_buffers.back());
        spare_read_buffers.pop_back();
    } else {
        buffer.resize(kReadBufferBytes);
    }
}

void give_back_read_buffer(Bytes& buffer) {
    if (buffer.size() == kReadBufferBytes && spare_read_buffers.size() < kSpareReadBuffers)
        spare_read_buffers.push_back(std::move(buffer));
    Bytes().swap(buffer);
}
}  // namespace

std::string remote_text(const tcp::socket& s) {
    asio::error_code ec;
    const auto ep = s.remote_endpoint(ec);
    if (ec) return "?";
    return endpoint_text(normalize(ep.address()), ep.port());
}

FrameStream::FrameStream(tcp::socket socket, std::size_t max_frame_bytes, Timeouts timeouts)
    : socket_(std::move(socket)),
      remote_(remote_text(socket_)),
      max_frame_bytes_(max_frame_bytes),
      timeouts_(timeouts) {
    asio::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
}

bool FrameStream::limit_unsent(std::size_t bytes) {
#ifdef TCP_NOTSENT_LOWAT
    using Option = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_NOTSENT_LOWAT>;
    asio::error_code ec;
    socket_.set_option(Option(static_cast<int>(std::min<std::size_t>(bytes, 1u << 30))), ec);
    return !ec;
#else
    (void)bytes;
    return false;
#endif
}

std::optional<std::size_t> FrameStream::unsent_limit() {
#ifdef TCP_NOTSENT_LOWAT
    using Option = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_NOTSENT_LOWAT>;
    Option option;
    asio::error_code ec;
    socket_.get_option(option, ec);
    if (ec || option.value() < 0) return std::nullopt;
    return static_cast<std::size_t>(option.value());
#else
    return std::nullopt;
#endif
}

void FrameStream::arm(Clock::time_point& deadline, Clock::duration d) {
    deadline = Clock::now() + d;
    // Wake the watchdog if it sleeps past the new deadline.
    if (timer_ && timer_->expiry() > deadline) timer_->cancel();
}

void FrameStream::disarm(Clock::time_point& deadline) {
    deadline = Clock::time_point::max();
}

awaitable<void> FrameStream::watchdog() {
    // `this` may die while we wait (its timer's destructor then completes the
    // wait): touch it only through a freshly locked pointer.
    const std::weak_ptr<FrameStream> weak = weak_from_this();
    for (;;) {
        auto self = weak.lock();
        if (!self || self->closed_) co_return;
        if (!self->timer_)
            self->timer_ = std::make_unique<asio::steady_timer>(self->socket_.get_executor());
        self->timer_->expires_at(std::min(self->read_deadline_, self->write_deadline_));
        asio::error_code ec;
        auto wait = self->timer_->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        self.reset();
        co_await std::move(wait);
        self = weak.lock();
        if (!self || self->expire_overdue(Clock::now()) || self->closed_) co_return;
    }
}

bool FrameStream::expire_overdue(Clock::time_point now) {
    if (closed_) return false;
    if (read_deadline_ > now && write_deadline_ > now) return false;
    expired_ = read_deadline_ <= now ? "read" : "write";
    asio::error_code ignored;
    socket_.close(ignored);
    closed_ = true;
    return true;
}

void FrameStream::close() {
    closed_ = true;
    asio::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
    if (timer_) timer_->cancel();
}

awaitable<void> FrameStream::fill() {
    asio::error_code ec;
    if (begin_ == end_) {
        begin_ = end_ = 0;
        // Nothing buffered and nothing waiting in the socket: an idle
        // connection holds no read buffer (a tracker keeps tens of thousands
        // of them open), so it is let go while waiting and taken again when
        // bytes come.
        // (No wakeup is lost between the check and the wait: the stream's
        // executor runs one handler at a time, so the reactor sees the wait
        // registered before it next looks for readiness.)
        if (socket_.available(ec) == 0 && !ec) {
            give_back_read_buffer(buffer_);
            co_await socket_.async_wait(tcp::socket::wait_read,
                                        asio::redirect_error(asio::use_awaitable, ec));
            if (ec) {
                if (expired_ != nullptr)
                    throw TimeoutError(fmt::format("timed out waiting to {}", expired_));
                throw asio::system_error(ec);
            }
        }
        ec.clear();
    }
    if (buffer_.empty()) {
        take_read_buffer(buffer_);
    } else if (end_ == buffer_.size()) {
        std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
        end_ -= begin_;
        begin_ = 0;
    }
    // Bytes are often there already (the socket said so, or the wait saw
    // them): read them at once, without another trip through the scheduler.
    if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
    const auto room = asio::buffer(buffer_.data() + end_, buffer_.size() - end_);
    std::size_t n = ec ? 0 : socket_.read_some(room, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
        ec.clear();
        n = co_await socket_.async_read_some(room, asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
        if (expired_ != nullptr)
            throw TimeoutError(fmt::format("timed out waiting to {}", expired_));
        throw asio::system_error(ec);
    }
    end_ += n;
    bytes_read_ += n;
}

awaitable<std::size_t> FrameStream::wait_for_bytes() {
    assert(!buffered());  // (what is buffered would be lost)
    arm(read_deadline_, timeouts_.idle);
    begin_ = end_ = 0;
    give_back_read_buffer(buffer_);
    wait_error_.clear();
    return socket_.async_read_some(asio::buffer(first_bytes_),
                                   asio::redirect_error(asio::use_awaitable, wait_error_));
}

void FrameStream::end_wait(std::size_t n) {
    if (wait_error_) {
        if (expired_ != nullptr)
            throw TimeoutError(fmt::format("timed out waiting to {}", expired_));
        throw asio::system_error(wait_error_);
    }
    n = std::min(n, first_bytes_.size());
    take_read_buffer(buffer_);
    std::memcpy(buffer_.data(), first_bytes_.data(), n);
    begin_ = 0;
    end_ = n;
    bytes_read_ += n;
}

void FrameStream::frame_begun() {
    if (read_deadline_ > Clock::now() + timeouts_.frame) arm(read_deadline_, timeouts_.frame);
}

awaitable<FrameHeader> FrameStream::read_header() {
    // Once a frame has begun (some of its header is here), the rest of it
    // is due within the frame timeout, not another idle one.
    if (buffered())
        frame_begun();
    else
        arm(read_deadline_, timeouts_.idle);
    while (end_ - begin_ < limits::kFrameHeaderBytes) {
        co_await fill();
        frame_begun();
    }
    disarm(read_deadline_);
    const ByteSpan header(buffer_.data() + begin_, limits::kFrameHeaderBytes);
    auto h = decode_frame_header(header, max_frame_bytes_);
    if (!h) {
        if (frames_read_ == 0)
            throw NotSeedshare(guess_foreign_protocol(header), h.error().message);
        throw ProtocolError(h.error().message);
    }
    begin_ += limits::kFrameHeaderBytes;
    ++frames_read_;
    co_return *h;
}

awaitable<void> FrameStream::read_exact(std::span<std::uint8_t> out) {
    const std::size_t buffered = std::min(out.size(), end_ - begin_);
    if (buffered > 0) std::memcpy(out.data(), buffer_.data() + begin_, buffered);
    begin_ += buffered;
    out = out.subspan(buffered);
    if (out.empty()) co_return;
    arm(read_deadline_, timeouts_.frame);
    if (out.size() >= kDirectReadBytes) {
        asio::error_code ec;
        const std::size_t n =
            co_await asio::async_read(socket_, asio::buffer(out.data(), out.size()),
                                      asio::redirect_error(asio::use_awaitable, ec));
        bytes_read_ += n;
        if (ec) {
            if (expired_ != nullptr)
                throw TimeoutError(fmt::format("timed out waiting to {}", expired_));
            throw asio::system_error(ec);
        }
    } else {
        while (end_ - begin_ < out.size())
            co_await fill();
        std::memcpy(out.data(), buffer_.data() + begin_, out.size());
        begin_ += out.size();
    }
    disarm(read_deadline_);
}

awaitable<Bytes> FrameStream::read_payload(const FrameHeader& h) {
    Bytes out;
    const std::size_t total = h.payload_size();
    while (out.size() < total) {
        const std::size_t old = out.size();
        out.resize(std::min(total, old + kPayloadStep));
        co_await read_exact(std::span(out.data() + old, out.size() - old));
    }
    co_return out;
}

awaitable<void> FrameStream::skip(std::size_t n) {
    std::array<std::uint8_t, 4096> sink{};
    while (n > 0) {
        const std::size_t k = std::min(n, sink.size());
        co_await read_exact(std::span(sink.data(), k));
        n -= k;
    }
}

awaitable<void> FrameStream::write(std::span<const asio::const_buffer> buffers) {
    arm(write_deadline_, timeouts_.write);
    asio::error_code ec;
    const std::size_t n =
        co_await asio::async_write(socket_, buffers, asio::redirect_error(asio::use_awaitable, ec));
    bytes_written_ += n;
    disarm(write_deadline_);
    if (ec) {
        if (expired_ != nullptr)
            throw TimeoutError(fmt::format("timed out waiting to {}", expired_));
        throw asio::system_error(ec);
    }
}

awaitable<std::size_t> FrameStream::write_within(std::span<const asio::const_buffer> buffers,
                                                 Clock::duration patience) {
    namespace ex = asio::experimental;
    asio::error_code ec;
    if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
    if (ec) throw asio::system_error(ec);
    // What is left to write: at most a header and a payload, so a small array.
    std::vector<asio::const_buffer> rest(buffers.begin(), buffers.end());
    std::erase_if(rest, [](const asio::const_buffer& b) { return b.size() == 0; });
    std::size_t written = 0;
    asio::steady_timer timer(socket_.get_executor());
    while (!rest.empty()) {
        std::size_t n = socket_.write_some(rest, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
            timer.expires_after(patience);
            auto room =
                ex::make_parallel_group(socket_.async_wait(tcp::socket::wait_write, ex::deferred),
                                        timer.async_wait(ex::deferred));
            auto [order, wait_error, timer_error] =
                co_await std::move(room).async_wait(ex::wait_for_one(), asio::use_awaitable);
            if (order[0] == 1) break;  // no room for `patience`
            if (wait_error) throw asio::system_error(wait_error);
            continue;
        }
        if (ec) throw asio::system_error(ec);
        written += n;
        bytes_written_ += n;
        for (auto& b : rest) {
            const std::size_t take = std::min(n, b.size());
            b += take;
            n -= take;
        }
        std::erase_if(rest, [](const asio::const_buffer& b) { return b.size() == 0; });
    }
    co_return written;
}

awaitable<void> FrameStream::wait_writable() {
    arm(write_deadline_, timeouts_.write);
    asio::error_code ec;
    co_await socket_.async_wait(tcp::socket::wait_write,
                                asio::redirect_error(asio::use_awaitable, ec));
    disarm(write_deadline_);
    if (ec) {
        if (expired_ != nullptr)
            throw TimeoutError(fmt::format("timed out waiting to {}", expired_));
        throw asio::system_error(ec);
    }
}

awaitable<void> FrameStream::write(const Bytes& frame) {
    const asio::const_buffer b = asio::buffer(frame);
    co_await write(std::span(&b, 1));
}

awaitable<bool> write_then_close(FrameStream& stream, const Bytes& frame,
                                 Clock::duration patience) {
    auto t = stream.timeouts();
    t.write = std::min<Clock::duration>(t.write, patience);
    stream.set_timeouts(t);
    bool written = false;
    try {
        co_await stream.write(frame);
        written = true;
    } catch (const std::exception&) {
        // Best effort: the remote may already be gone.
    }
    stream.close();
    co_return written;
}

awaitable<void> write_then_close(tcp::socket socket, Bytes frame) {
    asio::error_code ec;
    co_await asio::async_write(socket, asio::buffer(frame),
                               asio::redirect_error(asio::use_awaitable, ec));
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
}

awaitable<tcp::socket> connect(const HostPort& where, Clock::duration timeout) {
    namespace ex = asio::experimental;
    // Each step races a timer. wait_for_one (not the `||` operator, which
    // waits for the first success) so a refusal is reported at once.
    auto executor = co_await asio::this_coro::executor;
    tcp::resolver resolver(executor);
    asio::steady_timer timer(executor);
    timer.expires_after(timeout);
    auto resolve = ex::make_parallel_group(
        resolver.async_resolve(where.host, std::to_string(where.port), ex::deferred),
        timer.async_wait(ex::deferred));
    auto [resolve_order, resolve_error, endpoints, resolve_timer] =
        co_await std::move(resolve).async_wait(ex::wait_for_one(), asio::use_awaitable);
    if (resolve_order[0] == 1) throw TimeoutError(where, "timed out resolving the host");
    if (resolve_error) throw asio::system_error(resolve_error);

    tcp::socket socket(executor);
    auto attempt = ex::make_parallel_group(asio::async_connect(socket, endpoints, ex::deferred),
                                           timer.async_wait(ex::deferred));
    auto [connect_order, connect_error, endpoint, connect_timer] =
        co_await std::move(attempt).async_wait(ex::wait_for_one(), asio::use_awaitable);
    if (connect_order[0] == 1) throw TimeoutError(where, "timed out connecting");
    if (connect_error) throw asio::system_error(connect_error);
    co_return socket;
}

void spawn(asio::any_io_executor ex, awaitable<void> task, Logger log, std::string what) {
    asio::co_spawn(ex, std::move(task),
                   [log = std::move(log), what = std::move(what)](std::exception_ptr e) {
                       if (!e) return;
                       try {
                           std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                           log.warn("{}: {}", what, ex.what());
                       }
                   });
}

awaitable<bool> sleep_for(asio::steady_timer& timer, Clock::duration d) {
    timer.expires_after(d);
    asio::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
}

}  // namespace seedshare::net
