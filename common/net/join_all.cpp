#include "common/net/join_all.hpp"

#include <memory>

namespace seedshare::net {

asio::awaitable<std::vector<std::exception_ptr>> join_all(
    std::vector<asio::awaitable<void>> tasks) {
    const auto ex = co_await asio::this_coro::executor;
    struct State {
        explicit State(asio::any_io_executor e, std::size_t n)
            : done(e, asio::steady_timer::time_point::max()), left(n), errors(n) {}
        asio::steady_timer done;  // cancelled when the last task ends
        std::size_t left;
        std::vector<std::exception_ptr> errors;
    };
    const auto st = std::make_shared<State>(ex, tasks.size());
    for (std::size_t i = 0; i < tasks.size(); ++i) {
        auto finished = [st, i](std::exception_ptr e) {
            st->errors[i] = e;
            if (--st->left == 0) st->done.cancel();
        };
        asio::co_spawn(ex, std::move(tasks[i]), std::move(finished));
    }
    while (st->left > 0) {
        st->done.expires_at(asio::steady_timer::time_point::max());
        asio::error_code ec;
        co_await st->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return std::move(st->errors);
}

}  // namespace seedshare::net
