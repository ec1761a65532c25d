// A small HTTP server for operators (status page, /metrics, /healthz), on
// cpp-httplib (Debian's libcpp-httplib): no HTTP parsing here. It runs on
// threads of its own, never on the program's I/O thread, so a slow or
// hostile HTTP client cannot stall peers. Bounded: a fixed number of worker
// threads, a bounded queue of accepted connections (when it is full the
// accepting thread waits and the kernel's backlog fills, so more clients
// wait or are refused), read and write timeouts, a cap on keep-alive
// requests and on request bodies (only GET is served).
//
// Handlers run on the HTTP threads. Whatever they read from the I/O thread's
// objects they get through ask(): a function posted to the I/O executor and
// waited for with a timeout.
#pragma once

#include <asio.hpp>

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>

#include "common/core/result.hpp"

namespace seedshare::http {

struct Limits {
    std::size_t threads = 4;  // requests served at once
    std::size_t queued = 64;  // accepted connections waiting for a thread
    std::chrono::seconds read_timeout{5};
    std::chrono::seconds write_timeout{5};
    std::chrono::seconds keep_alive{2};  // an idle keep-alive connection is closed after this
    std::size_t keep_alive_requests = 100;
    std::size_t max_body = 4096;  // bytes of a request body
};

struct Request {
    std::string path;
    std::multimap<std::string, std::string> params;  // the query string, decoded
    // The first value of `name`, or nullopt.
    std::optional<std::string> param(const std::string& name) const;
};

struct Response {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
};

using Handler = std::function<Response(const Request&)>;

// "HOST:PORT" for --http and --metrics: HOST an IP address (IPv6 in
// brackets), PORT 0..65535 (0: any free port). The error names `option`.
struct Address {
    std::string host;
    std::uint16_t port = 0;
};
Result<Address> parse_address(std::string_view option, std::string_view text);

class Server {
  public:
    explicit Server(Limits limits = {});
    ~Server();  // stop()
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Routes an exact path (GET and HEAD). Before start().
    void get(const std::string& path, Handler handler);
    // Binds now (throws std::runtime_error naming the address, e.g. in use)
    // and serves on the server's threads.
    void start(const Address& where);
    // Stops accepting, lets the requests being served end, joins the threads.
    void stop();
    std::uint16_t port() const;
    // "127.0.0.1:8080", "[::1]:8080"
    std::string listen_text() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Runs fn() on `ex` and waits up to `timeout` for its value: nullopt when the
// executor did not run it in time (busy or stopped). An exception fn throws
// is rethrown here. fn must not refer to anything that may be gone by the
// time the executor runs it (it may run after the wait gave up).
template <class F>
auto ask(const asio::any_io_executor& ex, F fn, std::chrono::milliseconds timeout)
    -> std::optional<std::invoke_result_t<F&>> {
    using T = std::invoke_result_t<F&>;
    auto promise = std::make_shared<std::promise<T>>();
    auto future = promise->get_future();
    asio::post(ex, [promise, fn = std::move(fn)]() mutable {
        try {
            promise->set_value(fn());
        } catch (...) {
            promise->set_exception(std::current_exception());
        }
    });
    if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
    return future.get();
}

}  // namespace seedshare::http
