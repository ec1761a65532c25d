// The thin coroutine shell around sockets shared by the tracker and peers:
// a framed, buffered TCP stream whose every wait on the network has a
// deadline, enforced by a watchdog that closes the socket when one passes
// (or, for an owner of many streams, by its calls to expire_overdue).
//
// Error style: I/O failures and protocol violations throw (asio::system_error,
// ProtocolError); each session catches at its top, logs with the remote
// address, and ends only itself.
#pragma once

#include <asio.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "common/core/address.hpp"
#include "common/core/bytes.hpp"
#include "common/core/limits.hpp"
#include "common/core/log.hpp"
#include "common/wire/frame.hpp"

namespace seedshare::net {

using tcp = asio::ip::tcp;
template <class T = void>
using awaitable = asio::awaitable<T>;
using Clock = std::chrono::steady_clock;

// The remote broke the protocol. Its message is logged and the session ends.
struct ProtocolError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The first frame of a connection was not a seedshare frame at all:
// something else answers at that address. `looks_like` says what, if known.
struct NotSeedshare : ProtocolError {
    NotSeedshare(ForeignProtocol p, const std::string& what) : ProtocolError(what), looks_like(p) {}
    ForeignProtocol looks_like;
};

// Thrown by a stream whose deadline closed it (its watchdog, or its owner's
// expire_overdue), and by connect() out of time.
// connect() names the address in what() ("HOST:PORT: timed out connecting");
// `reason` is the same without it, for callers that name the address themselves.
struct TimeoutError : std::runtime_error {
    explicit TimeoutError(const std::string& why) : std::runtime_error(why), reason(why) {}
    TimeoutError(const HostPort& where, const std::string& why)
        : std::runtime_error(where.str() + ": " + why), reason(why) {}
    std::string reason;
};

// "1.2.3.4:5" / "[::1]:5"; "?" if the socket is closed.
std::string remote_text(const tcp::socket& s);
// Maps v4-mapped IPv6 addresses back to IPv4, so one host has one address.
inline asio::ip::address normalize(const asio::ip::address& a) {
    return unmapped(a);
}

class FrameStream : public std::enable_shared_from_this<FrameStream> {
  public:
    struct Timeouts {
        Clock::duration idle = std::chrono::seconds(120);  // waiting for a frame to start
        Clock::duration frame = std::chrono::seconds(30);  // rest of a frame once started
        Clock::duration write = std::chrono::seconds(30);  // one write to complete
    };

    FrameStream(tcp::socket socket, std::size_t max_frame_bytes, Timeouts timeouts);
    FrameStream(const FrameStream&) = delete;
    FrameStream& operator=(const FrameStream&) = delete;

    tcp::socket& socket() { return socket_; }
    asio::any_io_executor get_executor() { return socket_.get_executor(); }
    const std::string& remote() const { return remote_; }
    void set_timeouts(Timeouts t) { timeouts_ = t; }
    // Keeps at most `bytes` written but not yet sent in the kernel's send
    // buffer (TCP_NOTSENT_LOWAT): a write then completes about when its
    // bytes leave, not when a send buffer of megabytes took them, so a
    // writer that sends one thing at a time really does. False where the
    // system has no such option (the writes then complete early).
    bool limit_unsent(std::size_t bytes);
    // The limit the socket has, if the system says.
    std::optional<std::size_t> unsent_limit();
    const Timeouts& timeouts() const { return timeouts_; }

    // Runs until close() or the stream's destruction: closes the socket when
    // an armed deadline passes. Spawn it next to the coroutines that use the
    // stream. The stream must be owned by a shared_ptr; the watchdog holds
    // only a weak one, so it never keeps the stream alive.
    awaitable<void> watchdog();
    // Instead of a watchdog each, an owner of many streams (the tracker) may
    // call this on all of them every so often: it closes the socket, as the
    // watchdog would, when an armed deadline is at or before `now`, and says
    // whether it did. A stream without a watchdog holds no timer and no
    // coroutine for its deadlines (an idle tracker connection is smaller).
    bool expire_overdue(Clock::time_point now);
    // Closes the socket and stops the watchdog. Idempotent.
    void close();
    bool is_open() const { return socket_.is_open(); }

    // Waits up to `timeouts.idle` for the next frame (once part of its
    // header is here, the rest within `timeouts.frame`, or sooner if an
    // earlier deadline is armed) and checks its header against the frame
    // limit (ProtocolError if over; NotSeedshare if it is the connection's
    // first frame).
    awaitable<FrameHeader> read_header();
    // read_header()'s wait for the first bytes of a frame, on its own, for
    // a server holding many idle streams: `end_wait(co_await
    // wait_for_bytes());` then read_header(). It arms the idle deadline and
    // lets go of the read buffer as read_header() does, and is the socket's
    // own read of up to 64 bytes (not a coroutine: while an idle connection
    // waits, no coroutine frame of the stream's is held). Being a read, not
    // a wait for readability, it costs no epoll_ctl and no FIONREAD, and a
    // small request arrives whole in it. Call it only with nothing
    // buffered(); end_wait() takes what it read into the buffer, or throws
    // what it ended with (TimeoutError when a deadline closed the stream,
    // asio's eof when the remote closed).
    bool buffered() const { return end_ > begin_; }
    awaitable<std::size_t> wait_for_bytes();
    void end_wait(std::size_t n);
    // Reads the payload of the frame whose header was just read. Memory grows
    // with the bytes that actually arrive, not with the declared length.
    awaitable<Bytes> read_payload(const FrameHeader& h);
    // Reads exactly out.size() more bytes of the current frame.
    awaitable<void> read_exact(std::span<std::uint8_t> out);
    // Discards n bytes of the current frame.
    awaitable<void> skip(std::size_t n);

    // Writes whole buffers (a frame, or a header and its payload).
    awaitable<void> write(std::span<const asio::const_buffer> buffers);
    awaitable<void> write(const Bytes& frame);
    // Writes as much of `buffers` as the socket takes, waiting for room
    // while it frees up; returns early, with the bytes written so far, when
    // the socket took nothing for `patience` (the remote stopped reading).
    // A caller can then let go of the memory behind the rest and come back.
    awaitable<std::size_t> write_within(std::span<const asio::const_buffer> buffers,
                                        Clock::duration patience);
    // Waits until the socket takes bytes again, at most `timeouts.write`
    // (then TimeoutError). Holds nothing while it waits.
    awaitable<void> wait_writable();

    std::uint64_t bytes_read() const { return bytes_read_; }
    // The read buffer held now: none while the stream waits for a frame
    // with nothing buffered (an idle connection costs no buffer).
    std::size_t read_buffer_bytes() const { return buffer_.capacity(); }
    std::uint64_t bytes_written() const { return bytes_written_; }

  private:
    awaitable<void> fill();  // reads more into the buffer
    // Part of a frame is here: the read deadline becomes the frame timeout
    // from now, unless the one armed is sooner (an unjoined tracker peer's).
    void frame_begun();
    void arm(Clock::time_point& deadline, Clock::duration d);
    void disarm(Clock::time_point& deadline);

    tcp::socket socket_;
    std::string remote_;
    std::size_t max_frame_bytes_;
    Timeouts timeouts_;
    Bytes buffer_;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
    // The watchdog's timer, made when it starts.
    std::unique_ptr<asio::steady_timer> timer_;
    // wait_for_bytes(): what it read (a tracker's request often whole), and
    // how it ended.
    std::array<std::uint8_t, 64> first_bytes_{};
    asio::error_code wait_error_;
    Clock::time_point read_deadline_ = Clock::time_point::max();
    Clock::time_point write_deadline_ = Clock::time_point::max();
    const char* expired_ = nullptr;  // which deadline closed the socket
    bool closed_ = false;
    std::uint64_t bytes_read_ = 0;
    std::uint64_t bytes_written_ = 0;
    std::uint64_t frames_read_ = 0;
};

// Tells the remote why it is being let go, then closes: writes `frame` (an
// encoded Error of either protocol) waiting at most `patience` (or the
// stream's write timeout, if shorter), and closes the stream however the
// write ended. Best effort: returns whether the frame was written; never
// throws for the write.
awaitable<bool> write_then_close(FrameStream& stream, const Bytes& frame, Clock::duration patience);
// The same on a bare socket, before any stream (a connection refused at
// accept). The frame is tiny and the socket new, so the write does not wait
// on the remote; errors are ignored.
awaitable<void> write_then_close(tcp::socket socket, Bytes frame);

// Resolves host:port and connects to the first address that answers, all
// within `timeout`. Throws asio::system_error (or TimeoutError) on failure.
awaitable<tcp::socket> connect(const HostPort& where, Clock::duration timeout);

// co_spawn with a top-level catch: the exception is logged, never rethrown.
void spawn(asio::any_io_executor ex, awaitable<void> task, Logger log, std::string what);

// Sleeps; returns false if the timer was cancelled (e.g. shutdown).
awaitable<bool> sleep_for(asio::steady_timer& timer, Clock::duration d);

}  // namespace seedshare::net
