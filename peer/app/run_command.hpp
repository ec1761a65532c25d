// Runs a command's main coroutine: one io_context on this thread (all
// network code), one thread pool (hashing, disk), until the coroutine
// returns its exit code. A CommandFailure or other exception that escapes
// becomes one line on stderr ("peer: ...") and its exit code.
#pragma once

#include <fmt/format.h>
#include <asio.hpp>

#include <algorithm>
#include <exception>
#include <thread>

#include "peer/app/commands.hpp"

namespace seedshare {

template <class Main>  // Main: (asio::io_context&, asio::thread_pool&) -> awaitable<int>
int run_command(Main main) {
    asio::io_context io;
    asio::thread_pool pool(std::max(2u, std::thread::hardware_concurrency()));
    int code = kExitFailure;
    asio::co_spawn(io, main(io, pool), [&](std::exception_ptr e, int result) {
        code = result;
        if (e) {
            try {
                std::rethrow_exception(e);
            } catch (const CommandFailure& f) {
                fmt::print(stderr, "peer: {}\n", f.message);
                code = f.code;
            } catch (const std::exception& ex) {
                fmt::print(stderr, "peer: {}\n", ex.what());
                code = kExitFailure;
            }
        }
        io.stop();
    });
    io.run();
    // Work still on the pool refers to objects the coroutines own: let it end
    // before they are destroyed with the io_context.
    pool.join();
    return code;
}

}  // namespace seedshare
