// Tools for hostile-input tests: a log that can be searched, the process's
// resident memory, and a raw peer-protocol client that sends exactly the
// bytes a test wants (well-formed or not) and watches how the other side
// ends the connection.
#pragma once

#include <sys/resource.h>

#include <asio.hpp>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/bytes.hpp"
#include "common/core/limits.hpp"
#include "common/core/log.hpp"
#include "common/net/net.hpp"
#include "common/wire/peer_protocol.hpp"
#include "test/support/temp_dir.hpp"

namespace seedshare::test {

// True in builds with AddressSanitizer, whose quarantine keeps freed memory
// resident: memory bounds are then checked more loosely.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

// A component's log, written to a file a test can search. Searching reads
// only what was written since the last search and uses memchr/memcmp-based
// finds, so polling it from the I/O thread stays cheap in unoptimised builds.
class LogCapture {
  public:
    explicit LogCapture(std::filesystem::path path)
        : path_(std::move(path)), file_(std::fopen(path_.c_str(), "w")) {
        if (file_ == nullptr) throw std::runtime_error("cannot open " + path_.string());
    }
    ~LogCapture() { std::fclose(file_); }
    LogCapture(const LogCapture&) = delete;
    LogCapture& operator=(const LogCapture&) = delete;

    Logger logger(std::string name, LogLevel level = LogLevel::kDebug) const {
        return Logger(std::move(name), level, file_);
    }
    // Everything logged so far.
    const std::string& text() const {
        std::fflush(file_);
        std::unique_ptr<std::FILE, int (*)(std::FILE*)> in(std::fopen(path_.c_str(), "rb"),
                                                           &std::fclose);
        if (in && std::fseek(in.get(), static_cast<long>(text_.size()), SEEK_SET) == 0) {
            char buf[64 * 1024];
            for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, in.get())) > 0;)
                text_.append(buf, n);
        }
        return text_;
    }
    // A line that contains every one of `needles` (at least one).
    bool has_line(std::initializer_list<std::string_view> needles) const {
        const std::string& t = text();
        const std::string_view first = *needles.begin();
        for (auto at = t.find(first); at != std::string::npos; at = t.find(first, at + 1)) {
            const auto begin = t.rfind('\n', at);
            const auto from = begin == std::string::npos ? 0 : begin + 1;
            const auto to = std::min(t.find('\n', at), t.size());
            const std::string_view line(t.data() + from, to - from);
            bool all = true;
            for (auto n : needles)
                all = all && line.find(n) != std::string_view::npos;
            if (all) return true;
        }
        return false;
    }
    // How many lines contain `needle`.
    std::size_t count(std::string_view needle) const {
        const std::string& t = text();
        std::size_t n = 0;
        auto at = t.find(needle);
        while (at != std::string::npos) {
            ++n;
            const auto eol = t.find('\n', at);
            if (eol == std::string::npos) break;
            at = t.find(needle, eol);
        }
        return n;
    }
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
    std::FILE* file_;
    mutable std::string text_;
};

// Resident memory of this process now (VmRSS) and at its peak (VmHWM), in
// KiB; 0 if unknown.
inline std::size_t status_kib(std::string_view field) {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(field)) return std::stoul(line.substr(field.size()));
    return 0;
}
inline std::size_t rss_kib() {
    return status_kib("VmRSS:");
}
inline std::size_t peak_rss_kib() {
    return status_kib("VmHWM:");
}
// Starts the peak over from the current RSS (Linux: "5" > clear_refs), so a
// test can see how high memory went during an attack, not just after it.
inline void reset_peak_rss() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
}

// Waits (on the io_context's timers) until pred() holds, checking every
// 10 ms, for at most `limit`. Takes the predicate by reference, so no
// temporary is made inside the caller's co_await.
template <class Pred>
net::awaitable<bool> wait_for(const Pred& pred, std::chrono::milliseconds limit) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) co_return false;
        t.expires_after(std::chrono::milliseconds(10));
        co_await t.async_wait(asio::use_awaitable);
    }
    co_return true;
}

// Whether two files hold the same bytes, read in 1 MiB blocks (fast even in
// unoptimised builds, so an I/O thread is not held up for long).
inline bool same_file(const std::filesystem::path& a, const std::filesystem::path& b) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> fa(std::fopen(a.c_str(), "rb"), &std::fclose);
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> fb(std::fopen(b.c_str(), "rb"), &std::fclose);
    if (!fa || !fb) return false;
    std::vector<char> ba(1 << 20);
    std::vector<char> bb(1 << 20);
    for (;;) {
        const std::size_t na = std::fread(ba.data(), 1, ba.size(), fa.get());
        const std::size_t nb = std::fread(bb.data(), 1, bb.size(), fb.get());
        if (na != nb || std::memcmp(ba.data(), bb.data(), na) != 0) return false;
        if (na < ba.size()) return std::feof(fa.get()) && std::feof(fb.get());
    }
}

// Lets this process open as many descriptors as its hard limit allows (the
// tests open hundreds of connections at once).
inline void raise_descriptor_limit() {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

inline Bytes frame_header(std::uint32_t length, std::uint8_t type) {
    Bytes b;
    ByteWriter w(b);
    w.u32(length);
    w.u8(type);
    return b;
}

// One peer-protocol connection under a test's full control. Every wait has a
// deadline (the stream's watchdog).
class RawPeer {
  public:
    struct Frame {
        std::uint8_t type = 0;
        Bytes payload;
    };

    static net::awaitable<RawPeer> connect(std::uint16_t port) {
        const HostPort where{"127.0.0.1", port};
        auto socket = co_await net::connect(where, std::chrono::seconds(5));
        co_return RawPeer(std::move(socket));
    }
    explicit RawPeer(net::tcp::socket socket) {
        asio::error_code ec;
        const auto local = socket.local_endpoint(ec);
        if (!ec) local_ = "127.0.0.1:" + std::to_string(local.port());
        const auto ex = socket.get_executor();
        stream_ = std::make_shared<net::FrameStream>(
            std::move(socket), limits::kMaxPeerFrameBytes,
            net::FrameStream::Timeouts{std::chrono::seconds(10), std::chrono::seconds(10),
                                       std::chrono::seconds(10)});
        net::spawn(ex, stream_->watchdog(), Logger("raw", LogLevel::kOff), "watchdog");
    }
    RawPeer(RawPeer&&) = default;
    RawPeer& operator=(RawPeer&&) = default;
    ~RawPeer() {
        if (stream_) stream_->close();
    }

    // How the other side names this connection in its log.
    const std::string& local() const { return local_; }
    net::FrameStream& stream() { return *stream_; }

    net::awaitable<void> send(const Bytes& bytes) { co_await stream_->write(bytes); }
    net::awaitable<void> send_message(const peer_proto::Message& m) {
        const Bytes frame = peer_proto::encode(m);
        co_await stream_->write(frame);
    }

    // The next whole frame, within `within`. Throws on EOF or timeout.
    net::awaitable<Frame> recv(std::chrono::milliseconds within) {
        set_read_timeouts(within);
        const auto h = co_await stream_->read_header();
        Frame f;
        f.type = h.type;
        f.payload = co_await stream_->read_payload(h);
        if (f.type == static_cast<std::uint8_t>(peer_proto::Type::kError)) {
            auto m = peer_proto::decode(f.type, f.payload);
            if (m) error = std::get<peer_proto::ErrorMsg>(*m);
        }
        co_return f;
    }
    // The next frame that is not a KeepAlive, decoded (not for Piece).
    net::awaitable<peer_proto::Message> recv_message(std::chrono::milliseconds within) {
        for (int i = 0; i < 1000; ++i) {
            auto f = co_await recv(within);
            if (f.type == static_cast<std::uint8_t>(peer_proto::Type::kKeepAlive)) continue;
            auto m = peer_proto::decode(f.type, f.payload);
            if (!m) throw std::runtime_error("undecodable frame: " + m.error().message);
            co_return std::move(*m);
        }
        throw std::runtime_error("only keepalives");
    }

    // Reads (and drops) whatever arrives until the other side closes the
    // connection: true if it did so within `within`. An Error frame on the
    // way is kept in `error`.
    net::awaitable<bool> closed(std::chrono::milliseconds within) {
        const auto deadline = std::chrono::steady_clock::now() + within;
        try {
            for (int frames = 0; frames < 1'000'000; ++frames) {
                const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now());
                if (left <= std::chrono::milliseconds(0)) co_return false;
                co_await recv(left);
            }
        } catch (const net::TimeoutError&) {
            co_return false;
        } catch (const net::ProtocolError&) {
            co_return false;
        } catch (const asio::system_error& e) {
            co_return e.code() == asio::error::eof || e.code() == asio::error::connection_reset;
        }
        co_return false;
    }

    std::optional<peer_proto::ErrorMsg> error;  // the last Error frame received

  private:
    void set_read_timeouts(std::chrono::milliseconds within) {
        auto t = stream_->timeouts();
        t.idle = within;
        t.frame = within;
        stream_->set_timeouts(t);
    }

    std::shared_ptr<net::FrameStream> stream_;
    std::string local_;
};

}  // namespace seedshare::test
