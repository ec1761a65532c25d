// Chooses which chunk to fetch next from a given peer. Pure: no I/O, no clock;
// randomness from a seeded generator so tests can replay it.
//
// Policy:
//  - rarest first: among chunks we lack and nobody is fetching, those held by
//    the fewest connected peers. Complete peers (seeds) are counted apart:
//    they hold everything, so they never change which chunk is rarer.
//  - random among equals, within a window of the lowest-index candidates:
//    peers fetching the same file diverge (different chunks spread early),
//    while the verified prefix still grows nearly in order, which lets the
//    whole-file hash run during the download instead of after it. The caller
//    widens the window as more peers share the file (more divergence needed).
//  - end-game: once every chunk we lack is being fetched, a peer may fetch a
//    chunk another peer is already fetching (at most kMaxDownloaders at once);
//    the caller cancels the other fetches as soon as one copy has arrived.
//
// Spared peers (backup peers, issue 15) are counted twice: with everyone, so
// rarity is unchanged, and apart, so a caller can tell whether a chunk is
// held by a connected peer that is not spared (held_by_others) and keep a
// backup's upload for the chunks nobody else has (BackupSparing).
//
// A chunk we lack is in one of three states: wanted (nobody fetches it),
// being fetched (by 1..kMaxDownloaders peers), or received (one whole copy
// is being verified; not fetched again unless that copy turns out bad).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <vector>

#include "common/core/small_rng.hpp"
#include "common/model/bitfield.hpp"
#include "common/model/seed.hpp"

namespace seedshare {

class Picker {
  public:
    // Candidates considered (by default) for the random choice among equally
    // rare chunks, and the most a caller may ask for.
    static constexpr std::size_t kWindow = 8;
    static constexpr std::size_t kMaxWindow = 1024;
    // Peers that may fetch one chunk at the same time in end-game.
    static constexpr std::uint32_t kMaxDownloaders = 2;

    Picker(Bitfield have, std::uint64_t random_seed);

    const Bitfield& have() const { return have_; }
    std::uint32_t missing() const { return have_.size() - have_.count(); }
    bool complete() const { return have_.all(); }

    // Availability bookkeeping for connected peers; `spared`: a backup
    // peer (a peer's role changes by removing it and adding it again).
    void add_peer(const Bitfield& theirs, bool spared = false);
    void remove_peer(const Bitfield& theirs, bool spared = false);
    // A connected peer announced one more chunk; `theirs` is its bitfield
    // before the change.
    void peer_gained(const Bitfield& theirs, ChunkIndex c, bool spared = false);
    // How many connected peers hold c (seeds included).
    std::uint32_t availability(ChunkIndex c) const { return seeds_ + partial_[c.value]; }
    // Some connected peer that is not spared holds c.
    bool held_by_others(ChunkIndex c) const {
        return seeds_ > spared_seeds_ || partial_[c.value] > spared_partial_[c.value];
    }
    // A connected complete peer that is not spared: it holds every chunk.
    bool others_hold_all() const { return seeds_ > spared_seeds_; }

    // Picks a chunk for a peer holding `theirs` and counts it as being
    // fetched. `fetching_here` says which chunks must not be picked for that
    // peer: those it is already fetching, or that it refused lately.
    std::optional<ChunkIndex> pick(const Bitfield& theirs,
                                   const std::function<bool(ChunkIndex)>& fetching_here,
                                   std::size_t window = kWindow);
    // One fetch of c ended without a whole copy (peer gone, rejected,
    // cancelled): c is wanted again once nobody else fetches it.
    void release(ChunkIndex c);
    // One fetch of c delivered a whole copy, now being verified. Returns false
    // if a copy was already received (this one is a duplicate to discard).
    bool received(ChunkIndex c);
    // The received copy of c did not match its hash: c is wanted again
    // (unless another fetch of it is still running).
    void verify_failed(ChunkIndex c);
    // c was verified and written.
    void mark_have(ChunkIndex c);
    bool verifying(ChunkIndex c) const { return verifying_[c.value]; }

    std::uint32_t downloaders(ChunkIndex c) const { return downloaders_[c.value]; }
    bool in_end_game() const { return wanted_ == 0 && missing() > 0; }

  private:
    // Lacked, not fetched by anyone, not being verified: in levels_.
    bool is_wanted_now(ChunkIndex c) const;
    void insert_wanted(ChunkIndex c);
    void erase_wanted(ChunkIndex c);
    std::optional<ChunkIndex> pick_wanted(const Bitfield& theirs,
                                          const std::function<bool(ChunkIndex)>& excluded,
                                          std::size_t window);
    std::optional<ChunkIndex> pick_end_game(const Bitfield& theirs,
                                            const std::function<bool(ChunkIndex)>& fetching_here);

    Bitfield have_;
    std::uint32_t seeds_ = 0;
    std::vector<std::uint32_t> partial_;         // per chunk: non-seed peers holding it
    std::uint32_t spared_seeds_ = 0;             // of seeds_, the spared ones
    std::vector<std::uint32_t> spared_partial_;  // of partial_, the spared ones
    std::vector<std::uint32_t> downloaders_;     // per chunk: fetches in progress
    std::vector<bool> verifying_;                // per chunk: a whole copy is being verified
    // Chunks we lack that nobody fetches, bucketed by partial_ count.
    std::vector<std::set<std::uint32_t>> levels_;
    std::uint32_t wanted_ = 0;
    std::set<std::uint32_t> in_progress_;    // chunks we lack that someone fetches, not received
    SmallRng rng_;                           // 8 bytes (std::mt19937_64 was 2.5 KB per swarm)
    std::vector<std::uint32_t> candidates_;  // pick_wanted's scratch, kept to reuse
};

}  // namespace seedshare
