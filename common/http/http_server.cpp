#include "common/http/http_server.hpp"

#include <fmt/format.h>
#include <httplib.h>

#include <condition_variable>
#include <csignal>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/cli_values.hpp"

namespace seedshare::http {

namespace {

// httplib's task queue, bounded: enqueue() (called by the accepting thread)
// waits while `max_queued` connections already wait for a worker, so the
// accept loop stops and the kernel's backlog takes the pressure.
class BoundedQueue final : public httplib::TaskQueue {
  public:
    BoundedQueue(std::size_t threads, std::size_t max_queued) : max_queued_(max_queued) {
        for (std::size_t i = 0; i < threads; ++i)
            threads_.emplace_back([this] { work(); });
    }
    ~BoundedQueue() override = default;

    void enqueue(std::function<void()> fn) override {
        std::unique_lock lock(mutex_);
        space_.wait(lock, [&] { return jobs_.size() < max_queued_ || shutdown_; });
        // (After shutdown the job still runs: it owns the connection's socket.)
        jobs_.push_back(std::move(fn));
        work_.notify_one();
    }

    void shutdown() override {
        {
            std::lock_guard lock(mutex_);
            shutdown_ = true;
        }
        work_.notify_all();
        space_.notify_all();
        for (auto& t : threads_)
            t.join();
        threads_.clear();
    }

  private:
    void work() {
        while (true) {
            std::function<void()> fn;
            {
                std::unique_lock lock(mutex_);
                work_.wait(lock, [&] { return !jobs_.empty() || shutdown_; });
                if (jobs_.empty()) return;  // shut down and drained
                fn = std::move(jobs_.front());
                jobs_.pop_front();
                space_.notify_one();
            }
            fn();
        }
    }

    const std::size_t max_queued_;
    std::mutex mutex_;
    std::condition_variable work_;
    std::condition_variable space_;
    std::deque<std::function<void()>> jobs_;
    std::vector<std::thread> threads_;
    bool shutdown_ = false;
};

}  // namespace

std::optional<std::string> Request::param(const std::string& name) const {
    const auto it = params.find(name);
    if (it == params.end()) return std::nullopt;
    return it->second;
}

Result<Address> parse_address(std::string_view option, std::string_view text) {
    const auto bad = [&](std::string_view why) {
        return Error{
            fmt::format("{} '{}': {} (expected HOST:PORT, e.g. 127.0.0.1:9100 or [::1]:9100)",
                        option, text, why)};
    };
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    std::string_view host = text.substr(0, colon);
    const std::string_view port = text.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
        host = host.substr(1, host.size() - 2);
    else if (host.find(':') != std::string_view::npos)
        return bad("an IPv6 address goes in brackets");
    asio::error_code ec;
    const auto ip = asio::ip::make_address(std::string(host), ec);
    if (ec) return bad("not an IP address");
    auto p = port_option(option, port);
    if (!p) return p.error();
    return Address{ip.to_string(), *p};
}

struct Server::Impl {
    Limits limits;
    httplib::Server server;
    std::thread thread;
    std::uint16_t port = 0;
    std::string listen_text;
    bool started = false;
};

Server::Server(Limits limits) : impl_(std::make_unique<Impl>()) {
    impl_->limits = limits;
    auto& s = impl_->server;
    const auto threads = std::max<std::size_t>(1, limits.threads);
    const auto queued = std::max<std::size_t>(1, limits.queued);
    s.new_task_queue = [threads, queued] { return new BoundedQueue(threads, queued); };
    s.set_read_timeout(limits.read_timeout);
    s.set_write_timeout(limits.write_timeout);
    s.set_keep_alive_timeout(limits.keep_alive.count());
    s.set_keep_alive_max_count(limits.keep_alive_requests);
    s.set_payload_max_length(limits.max_body);
    s.set_exception_handler(
        [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
            res.status = 500;
            res.set_content("internal error\n", "text/plain; charset=utf-8");
        });
}

Server::~Server() {
    stop();
}

void Server::get(const std::string& path, Handler handler) {
    // A literal path, not a pattern: httplib takes the pattern as a regex.
    std::string pattern;
    for (const char c : path) {
        if (std::string_view(".^$|()[]{}*+?\\").find(c) != std::string_view::npos) pattern += '\\';
        pattern += c;
    }
    impl_->server.Get(pattern, [handler = std::move(handler)](const httplib::Request& req,
                                                              httplib::Response& res) {
        Request r;
        r.path = req.path;
        for (const auto& [k, v] : req.params)
            r.params.emplace(k, v);
        Response out = handler(r);
        res.status = out.status;
        res.set_header("Cache-Control", "no-store");
        res.set_header("X-Content-Type-Options", "nosniff");
        res.set_content(std::move(out.body), out.content_type.c_str());
    });
}

void Server::start(const Address& where) {
    auto& im = *impl_;
    if (im.started) throw std::logic_error("http::Server::start called twice");
    // Debian's cpp-httplib 0.11 sends without MSG_NOSIGNAL: a client that
    // closes while its answer is written would end the process with SIGPIPE.
    // Its Server ignores the signal itself; said here too, since the
    // process's life depends on it (process-wide; Asio needs no SIGPIPE).
    std::signal(SIGPIPE, SIG_IGN);
    int port = where.port;
    if (where.port == 0)
        port = im.server.bind_to_any_port(where.host);
    else if (!im.server.bind_to_port(where.host, where.port))
        port = -1;
    if (port <= 0)
        throw std::runtime_error(
            fmt::format("cannot listen for HTTP on {}: {}",
                        endpoint_text(asio::ip::make_address(where.host), where.port),
                        "address in use or not available"));
    im.port = static_cast<std::uint16_t>(port);
    im.listen_text = endpoint_text(asio::ip::make_address(where.host), im.port);
    im.started = true;
    im.thread = std::thread([&s = im.server] { s.listen_after_bind(); });
    // stop() before the accept loop runs would not end it: wait until it does
    // (bounded: it starts at once unless the machine is starved).
    for (int i = 0; i < 5000 && !im.server.is_running(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void Server::stop() {
    auto& im = *impl_;
    if (!im.started) return;
    im.server.stop();
    if (im.thread.joinable()) im.thread.join();
    im.started = false;
}

std::uint16_t Server::port() const {
    return impl_->port;
}

std::string Server::listen_text() const {
    return impl_->listen_text;
}

}  // namespace seedshare::http
