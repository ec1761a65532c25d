#include "peer/swarm/picker.hpp"

#include <algorithm>
#include <array>

namespace seedshare {

Picker::Picker(Bitfield have, std::uint64_t random_seed)
    : have_(std::move(have)),
      partial_(have_.size(), 0),
      spared_partial_(have_.size(), 0),
      downloaders_(have_.size(), 0),
      verifying_(have_.size(), false),
      levels_(1),
      rng_(random_seed) {
    for (std::uint32_t i = 0; i < have_.size(); ++i)
        if (!have_.test(ChunkIndex{i})) insert_wanted(ChunkIndex{i});
}

bool Picker::is_wanted_now(ChunkIndex c) const {
    return !have_.test(c) && downloaders_[c.value] == 0 && !verifying_[c.value];
}

void Picker::insert_wanted(ChunkIndex c) {
    const auto level = partial_[c.value];
    if (level >= levels_.size()) levels_.resize(level + 1);
    levels_[level].insert(c.value);
    ++wanted_;
}

void Picker::erase_wanted(ChunkIndex c) {
    const auto level = partial_[c.value];
    if (level < levels_.size() && levels_[level].erase(c.value) != 0) --wanted_;
}

void Picker::add_peer(const Bitfield& theirs, bool spared) {
    if (theirs.all()) {
        ++seeds_;
        if (spared) ++spared_seeds_;
        return;
    }
    for (std::uint32_t i = 0; i < theirs.size(); ++i) {
        if (!theirs.test(ChunkIndex{i})) continue;
        const ChunkIndex c{i};
        const bool is_wanted = is_wanted_now(c);
        if (is_wanted) erase_wanted(c);
        ++partial_[i];
        if (spared) ++spared_partial_[i];
        if (is_wanted) insert_wanted(c);
    }
}

void Picker::remove_peer(const Bitfield& theirs, bool spared) {
    if (theirs.all()) {
        if (seeds_ > 0) --seeds_;
        if (spared && spared_seeds_ > 0) --spared_seeds_;
        return;
    }
    for (std::uint32_t i = 0; i < theirs.size(); ++i) {
        if (!theirs.test(ChunkIndex{i}) || partial_[i] == 0) continue;
        const ChunkIndex c{i};
        const bool is_wanted = is_wanted_now(c);
        if (is_wanted) erase_wanted(c);
        --partial_[i];
        if (spared && spared_partial_[i] > 0) --spared_partial_[i];
        if (is_wanted) insert_wanted(c);
    }
}

void Picker::peer_gained(const Bitfield& theirs, ChunkIndex c, bool spared) {
    if (theirs.test(c)) return;
    if (theirs.count() + 1 == theirs.size()) {
        // The peer became a seed: move its chunks from partial_ to seeds_.
        remove_peer(theirs, spared);
        ++seeds_;
        if (spared) ++spared_seeds_;
        return;
    }
    const bool is_wanted = is_wanted_now(c);
    if (is_wanted) erase_wanted(c);
    ++partial_[c.value];
    if (spared) ++spared_partial_[c.value];
    if (is_wanted) insert_wanted(c);
}

std::optional<ChunkIndex> Picker::pick_wanted(const Bitfield& theirs,
                                              const std::function<bool(ChunkIndex)>& excluded,
                                              std::size_t window) {
    window = std::clamp<std::size_t>(window, 1, kMaxWindow);
    for (const auto& level : levels_) {
        // The first `window` candidates of this level, then one at random.
        candidates_.clear();
        for (auto it = level.begin(); it != level.end() && candidates_.size() < window; ++it)
            if (theirs.test(ChunkIndex{*it}) && !excluded(ChunkIndex{*it}))
                candidates_.push_back(*it);
        if (candidates_.empty()) continue;
        return ChunkIndex{candidates_[std::uniform_int_distribution<std::size_t>(
            0, candidates_.size() - 1)(rng_)]};
    }
    return std::nullopt;
}

std::optional<ChunkIndex> Picker::pick_end_game(
    const Bitfield& theirs, const std::function<bool(ChunkIndex)>& fetching_here) {
    std::optional<ChunkIndex> best;
    for (auto i : in_progress_) {
        const ChunkIndex c{i};
        if (!theirs.test(c) || downloaders_[i] >= kMaxDownloaders || fetching_here(c)) continue;
        if (!best || downloaders_[i] < downloaders_[best->value]) best = c;
    }
    return best;
}

std::optional<ChunkIndex> Picker::pick(const Bitfield& theirs,
                                       const std::function<bool(ChunkIndex)>& fetching_here,
                                       std::size_t window) {
    if (theirs.size() != have_.size() || theirs.none()) return std::nullopt;
    auto c = pick_wanted(theirs, fetching_here, window);
    if (c) {
        erase_wanted(*c);
        in_progress_.insert(c->value);
    } else if (wanted_ == 0) {
        c = pick_end_game(theirs, fetching_here);
    }
    if (c) ++downloaders_[c->value];
    return c;
}

void Picker::release(ChunkIndex c) {
    auto& d = downloaders_[c.value];
    if (d == 0) return;
    if (--d == 0 && !have_.test(c) && !verifying_[c.value]) {
        in_progress_.erase(c.value);
        insert_wanted(c);
    }
}

bool Picker::received(ChunkIndex c) {
    auto& d = downloaders_[c.value];
    if (d > 0) --d;
    if (have_.test(c) || verifying_[c.value]) return false;
    verifying_[c.value] = true;
    in_progress_.erase(c.value);
    return true;
}

void Picker::verify_failed(ChunkIndex c) {
    if (!verifying_[c.value]) return;
    verifying_[c.value] = false;
    if (have_.test(c)) return;
    if (downloaders_[c.value] == 0) {
        insert_wanted(c);
    } else {
        in_progress_.insert(c.value);
    }
}

void Picker::mark_have(ChunkIndex c) {
    if (have_.test(c)) return;
    if (is_wanted_now(c)) erase_wanted(c);
    in_progress_.erase(c.value);
    verifying_[c.value] = false;
    have_.set(c);
}

}  // namespace seedshare
