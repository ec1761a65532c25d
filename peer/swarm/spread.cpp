#include "peer/swarm/spread.hpp"

#include <algorithm>

namespace seedshare {

SpreadTracker::SpreadTracker(std::uint32_t chunks, std::chrono::milliseconds patience)
    : patience_(patience), level_(chunks, 0), count_(1, chunks) {}

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
void SpreadTracker::promise(ChunkIndex c, TimePoint now) {
    move(c, +1);
    // Only a seed that rations keeps these (most swarms never do).
    if (copies_.empty()) copies_.resize(level_.size());
    auto& k = copies_[c.value];
    ++k.sending;
    k.latest = now;
}
void SpreadTracker::copy_began(ChunkIndex c, TimePoint now) {
    if (!copies_.empty() && copies_[c.value].sending > 0) copies_[c.value].latest = now;
}
void SpreadTracker::copy_written(ChunkIndex c, TimePoint began, TimePoint now) {
    if (copies_.empty() || copies_[c.value].sending == 0) return;
    auto& k = copies_[c.value];
    --k.sending;
    // Its receiver passes it on for as long as this copy took to write (at
    // most the patience: a slow receiver does not hold the chunk back).
    const auto took = std::min<Clock::duration>(now - began, patience_);
    k.next = std::max(k.next, now + took);
}
void SpreadTracker::copy_abandoned(ChunkIndex c) {
    if (!copies_.empty() && copies_[c.value].sending > 0) --copies_[c.value].sending;
}
void SpreadTracker::unpromise(ChunkIndex c) {
    move(c, -1);
}

bool SpreadTracker::worth_sending(ChunkIndex c, TimePoint now) const {
    if (level(c) > min_level()) return false;
    if (copies_.empty()) return true;
    const auto& k = copies_[c.value];
    if (k.sending > 0) return now - k.latest >= patience_;
    // Nobody holds it or is being sent it: at once. Else after the rest.
    return level(c) == 0 || now >= k.next;
}

std::uint32_t SpreadTracker::min_level() const {
    while (min_ + 1 < count_.size() && count_[min_] == 0)
        ++min_;
    return min_;
}

}  // namespace seedshare
