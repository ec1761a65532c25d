// How many bytes a getter keeps requested from all its peers together. Pure:
// rates and counts in, a decision out.
//
// Why: each peer serves its requesters' blocks at its link's rate, so a block
// waits there (bytes queued ahead of it) / (that rate). A getter that keeps a
// pipeline full at every one of N peers puts its pipeline in every peer's
// queue, and so does every other getter: on the shaped network of
// scripts/bench/netswarm (38 getters on 2 MiB/s links, 512 KiB asked of each
// peer) that is up to 19 MiB queued at every peer, 10 s of its link before a
// new request is served. So a getter keeps
// requested, from all its peers together, what it receives in kWindow (at
// least kMinBlocks blocks): the peers' queues stay about that short, and the
// connections that deliver ask again first (each refills as its pieces come
// in), so the requests go where the bytes come from.
#pragma once

#include <chrono>
#include <cstdint>

namespace seedshare {

struct RequestBudget {
    static constexpr std::chrono::milliseconds kWindow{1000};
    static constexpr std::uint64_t kMinBlocks = 8;

    // Bytes to keep requested in all while receiving `rate` bytes/s in all:
    // rate x kWindow, at least kMinBlocks blocks, at most `most`.
    static std::uint64_t total_target(double rate, std::uint32_t block_bytes, std::uint64_t most);
    // May one more block be requested, with `outstanding` bytes requested in all?
    static bool may_request(std::uint64_t outstanding, std::uint64_t target) {
        return outstanding < target;
    }
};

}  // namespace seedshare
