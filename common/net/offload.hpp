// Runs blocking work (hashing, disk I/O) on a thread pool and resumes the
// calling coroutine on its own executor with the result. Exceptions thrown by
// the work are rethrown in the coroutine.
//
// Name the lambda before awaiting: `auto job = [..]{..}; co_await offload(pool,
// std::move(job));`. GCC 12 destroys a lambda or braced aggregate temporary
// written inside a co_await expression twice (see docs/ARCHITECTURE.md).
#pragma once

#include <asio.hpp>

#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

namespace seedshare {

namespace detail {

// The initiation of an offload: posts `work` to the pool, then posts the
// completion back to the handler's own executor.
template <class F, class Value>
struct OffloadInitiation {
    asio::thread_pool* pool;
    F work;

    template <class Handler>
    void operator()(Handler handler) {
        auto home = asio::get_associated_executor(handler);
        asio::post(*pool, [work = std::move(work), handler = std::move(handler), home]() mutable {
            std::exception_ptr error;
            std::optional<Value> value;
            try {
                if constexpr (std::is_void_v<std::invoke_result_t<F&>>) {
                    work();
                    value = true;
                } else {
                    value.emplace(work());
                }
            } catch (...) {
                error = std::current_exception();
            }
            asio::post(home,
                       [handler = std::move(handler), error, value = std::move(value)]() mutable {
                           std::move(handler)(error, std::move(value));
                       });
        });
    }
};

}  // namespace detail

template <class F, class R = std::invoke_result_t<F&>>
asio::awaitable<R> offload(asio::thread_pool& pool, F work) {
    using Value = std::conditional_t<std::is_void_v<R>, bool, R>;
    // Named, not a temporary inside the co_await expression: GCC 12 mishandles
    // the lifetime of such temporaries in coroutines.
    detail::OffloadInitiation<F, Value> initiation{&pool, std::move(work)};
    auto op = asio::async_initiate<decltype(asio::use_awaitable),
                                   void(std::exception_ptr, std::optional<Value>)>(
        std::move(initiation), asio::use_awaitable);
    std::optional<Value> result = co_await std::move(op);
    if constexpr (!std::is_void_v<R>) co_return std::move(*result);
}

}  // namespace seedshare
