// How widely each chunk has spread among the partial peers a complete peer
// (a seed) is connected to: holders, plus copies the seed is sending now
// ("promised"). A seed whose upload is the scarce resource spends it only on
// the chunks that are least spread: a request for a chunk that others
// already hold (or are being sent) is refused while less spread chunks
// exist, so each chunk leaves the seed about once and the peers trade the
// rest. Pure: no I/O, no clock.
#pragma once

#include <cstdint>
#include <vector>

#include "common/model/bitfield.hpp"
#include "common/model/seed.hpp"

namespace seedshare {

class SpreadTracker {
  public:
    explicit SpreadTracker(std::uint32_t chunks);

    // A partial peer's chunks: whole bitfield, one more, or all gone.
    void add_holder(const Bitfield& theirs);
    void remove_holder(const Bitfield& theirs);
    void holder_gained(ChunkIndex c);
    // The seed started (or stopped) sending c to a peer.
    void promise(ChunkIndex c);
    void unpromise(ChunkIndex c);

    std::uint32_t level(ChunkIndex c) const { return level_[c.value]; }
    std::uint32_t min_level() const;
    // c is among the least spread chunks.
    bool worth_sending(ChunkIndex c) const { return level(c) <= min_level(); }

  private:
    void move(ChunkIndex c, int delta);

    std::vector<std::uint32_t> level_;  // per chunk: holders + promised
    std::vector<std::uint32_t> count_;  // per level: chunks at that level
    mutable std::uint32_t min_ = 0;     // a lower bound of the minimum level
};

}  // namespace seedshare
