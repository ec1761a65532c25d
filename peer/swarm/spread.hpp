// How widely each chunk has spread among the partial peers a complete peer
// (a seed) is connected to: holders, plus copies the seed has promised
// (accepted to send, not yet announced back). A seed whose upload is the
// scarce resource spends it on the chunks that are least spread, one copy
// of a chunk at a time, and gives each copy time to be passed on:
//  - a request for a chunk that others already hold (or are being sent) is
//    refused while less spread chunks exist;
//  - while a copy of the chunk is being sent, a request for another is
//    refused, unless the latest copy was accepted, or began to be written,
//    `patience` ago (a slow or stalled receiver, or a busy seed, does not
//    hold the chunk back for long);
//  - once a copy is written, the next waits as long as writing it took (at
//    most `patience`), so its receiver can pass it on first; a chunk nobody
//    holds or is being sent (its receiver left) goes at once.
// With few new chunks and many peers asking at once (a channel's edit),
// every first copy gets the whole upload and the peers trade the rest; each
// chunk leaves the seed about once (BitTorrent's super-seeding, BEP 16, by
// time rather than by waiting to see the chunk announced elsewhere). Pure:
// no I/O; time comes in as an argument.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

#include "common/model/bitfield.hpp"
#include "common/model/seed.hpp"

namespace seedshare {

class SpreadTracker {
  public:
    using Clock = std::chrono::steady_clock;
    using TimePoint = Clock::time_point;
    static constexpr std::chrono::milliseconds kDefaultPatience{1000};

    explicit SpreadTracker(std::uint32_t chunks,
                           std::chrono::milliseconds patience = kDefaultPatience);

    // A partial peer's chunks: whole bitfield, one more, or all gone.
    void add_holder(const Bitfield& theirs);
    void remove_holder(const Bitfield& theirs);
    void holder_gained(ChunkIndex c);
    // The seed started sending c to a peer (a promise, and a copy being
    // written), wrote that copy's last byte (copy_written) or gave it up
    // before (copy_abandoned: cancelled, peer gone), and learnt the peer
    // holds c or will not get it from us (unpromise).
    void promise(ChunkIndex c, TimePoint now);
    // The writer began writing a promised copy (it may have waited its turn).
    void copy_began(ChunkIndex c, TimePoint now);
    // `began`: when its writing began.
    void copy_written(ChunkIndex c, TimePoint began, TimePoint now);
    void copy_abandoned(ChunkIndex c);
    void unpromise(ChunkIndex c);

    std::uint32_t level(ChunkIndex c) const { return level_[c.value]; }
    std::uint32_t sending(ChunkIndex c) const {
        return copies_.empty() ? 0 : copies_[c.value].sending;
    }
    std::uint32_t min_level() const;
    // c is among the least spread chunks, no copy of it is being sent (or
    // the latest was accepted or began to be written `patience` ago), and
    // the last written copy has had its time to be passed on (or nobody
    // has c).
    bool worth_sending(ChunkIndex c, TimePoint now) const;

  private:
    void move(ChunkIndex c, int delta);

    std::chrono::milliseconds patience_;
    std::vector<std::uint32_t> level_;  // per chunk: holders + promised
    std::vector<std::uint32_t> count_;  // per level: chunks at that level
    // Per chunk, once the seed promised a first copy of any: copies being
    // written, when the latest began, no copy before `next` while it is held.
    struct Copies {
        std::uint32_t sending = 0;
        TimePoint latest{};
        TimePoint next{};
    };
    std::vector<Copies> copies_;
    mutable std::uint32_t min_ = 0;  // a lower bound of the minimum level
};

}  // namespace seedshare
