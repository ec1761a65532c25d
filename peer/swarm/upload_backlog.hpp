// How much a peer keeps queued to send to the requesters of one file. Pure:
// rates and counts in, a decision out.
//
// Why: a peer that queued every request it got served them all in turn
// (UploadSlots), however long the queue. A new chunk's first holders
// collect a request from every getter lacking it, each waiting there for
// seconds (a request once queued is not moved), while the peers that got
// the chunk meanwhile are asked for nothing. So a peer keeps queued about
// what it sends in kWindow (at least a few blocks,
// SwarmOptions::upload_queue_min_blocks), counting at most one block per
// requester (a remote that reads slowly must not hold the queue; a
// requester with a deep pipeline may have more waiting), and rejects the
// first block of any further chunk: its requester asks another holder, or
// for another chunk. (BitTorrent's choking bounds the same queue by the number of
// peers unchoked.) A chunk whose first block was queued is served whole.
// Measured on scripts/bench/netswarm: docs/BENCHMARKS.md, "The upload
// queue bounded".
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace seedshare {

struct UploadBacklog {
    static constexpr std::chrono::milliseconds kWindow{1000};

    // Bytes to keep queued while sending `rate` bytes/s: rate x kWindow, at
    // least `min_blocks` blocks (and at least one).
    static std::uint64_t limit(double rate, std::uint32_t block_bytes, std::uint32_t min_blocks) {
        const double want = rate > 0 ? rate * std::chrono::duration<double>(kWindow).count() : 0;
        return std::max(std::uint64_t{std::max(min_blocks, 1u)} * block_bytes,
                        want >= 1e18 ? std::uint64_t{1} << 60 : static_cast<std::uint64_t>(want));
    }
    // May a request that begins a chunk be queued, `queued` bytes waiting?
    static bool may_queue(std::uint64_t queued, std::uint64_t limit) { return queued < limit; }
};

}  // namespace seedshare
