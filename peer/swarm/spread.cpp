#include "peer/swarm/spread.hpp"

namespace seedshare {

SpreadTracker::SpreadTracker(std::uint32_t chunks) : level_(chunks, 0), count_(1, chunks) {}

void SpreadTracker::move(ChunkIndex c, int delta) {
    auto& l = level_[c.value];
    if (delta < 0 && l == 0) return;
    --count_[l];
    l = static_cast<std::uint32_t>(static_cast<int>(l) + delta);
    if (l >= count_.size()) count_.resize(l + 1, 0);
    ++count_[l];
    if (l < min_) min_ = l;
}

void SpreadTracker::add_holder(const Bitfield& theirs) {
    for (std::uint32_t i = 0; i < theirs.size() && i < level_.size(); ++i)
        if (theirs.test(ChunkIndex{i})) move(ChunkIndex{i}, +1);
}

void SpreadTracker::remove_holder(const Bitfield& theirs) {
    for (std::uint32_t i = 0; i < theirs.size() && i < level_.size(); ++i)
        if (theirs.test(ChunkIndex{i})) move(ChunkIndex{i}, -1);
}

void SpreadTracker::holder_gained(ChunkIndex c) {
    move(c, +1);
}
void SpreadTracker::promise(ChunkIndex c) {
    move(c, +1);
}
void SpreadTracker::unpromise(ChunkIndex c) {
    move(c, -1);
}

std::uint32_t SpreadTracker::min_level() const {
    while (min_ + 1 < count_.size() && count_[min_] == 0)
        ++min_;
    return min_;
}

}  // namespace seedshare
