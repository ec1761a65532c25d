// Runs N coroutines side by side and waits for all of them: a node stopping
// its swarms at once, workers hashing chunks in parallel.
#pragma once

#include <asio.hpp>

#include <exception>
#include <vector>

namespace seedshare::net {

// Spawns every task on the caller's executor at once and returns when the
// last has ended, with what each threw (null: it returned), in the order
// given. A task's exception does not stop the others. Safe if the caller is
// destroyed while it waits: the tasks' completions touch only shared state.
asio::awaitable<std::vector<std::exception_ptr>> join_all(std::vector<asio::awaitable<void>> tasks);

}  // namespace seedshare::net
