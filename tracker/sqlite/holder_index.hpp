// Who holds each seed, in memory: the SQLite store's answer to GetPeers
// without a query. Per seed, two lists (complete holders, partial ones) of
// member handles (the store's in-memory user records), so GetPeers reads a
// window of one list from a random point: no SQL step and no hash lookup per
// holder, only the members' records themselves, side by side in memory.
// (It walked the holdings index in SQLite and looked each holder up by
// userid: on a loaded tracker 18% of its time, and 36% before the lookups
// were batched.)
//
// Pure: no I/O. The store keeps it in step with its holdings table: every
// change is applied once the table's change committed, with what the table
// held before (`was`), so the index never has to search a list to learn
// whether a member is in it. Removing a member searches its seed's list
// (8 bytes a member, contiguous); adding one does not.
//
// 8 bytes a holding plus a small record per seed: 10 files for each of
// 100,000 peers is about 8 MiB.
#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <random>
#include <span>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "common/core/ids.hpp"

namespace seedshare::tracker {

template <class Member>
class HolderIndex {
  public:
    static constexpr std::size_t kPrefetchAhead = 8;

    // `m` holds `seed`, complete or not; `was`: whether it held it before
    // and how (nullopt: it did not).
    void put(const SeedId& seed, Member m, bool complete, std::optional<bool> was) {
        if (was == complete) return;
        Lists& l = seeds_[seed];
        if (was) erase(*was ? l.complete : l.partial, m);
        (complete ? l.complete : l.partial).push_back(m);
        if (!was) ++holdings_;
    }
    // `m` no longer holds `seed`, which it held (complete or not).
    void remove(const SeedId& seed, Member m, bool complete) {
        const auto it = seeds_.find(seed);
        if (it == seeds_.end()) return;
        if (erase(complete ? it->second.complete : it->second.partial, m)) --holdings_;
        if (it->second.complete.empty() && it->second.partial.empty()) seeds_.erase(it);
    }

    // The complete (or partial) holders of `seed`, in no particular order.
    std::span<const Member> holders(const SeedId& seed, bool complete) const {
        const auto it = seeds_.find(seed);
        if (it == seeds_.end()) return {};
        return complete ? it->second.complete : it->second.partial;
    }
    // Visits the members of `list` from a random point on, wrapping around,
    // until `visit` returns false or each was visited once: every member is
    // as likely as any other to be among the first k visited.
    template <class Visit>
    static void visit_from_random(std::span<const Member> list, std::mt19937_64& rng, Visit visit) {
        if (list.empty()) return;
        std::uniform_int_distribution<std::size_t> pick(0, list.size() - 1);
        const std::size_t start = pick(rng);
        const std::size_t n = list.size();
        for (std::size_t k = 0; k < n; ++k) {
            // Members are pointers to records spread over the heap: ask for
            // the records a few steps ahead, so their cache misses overlap.
            if constexpr (std::is_pointer_v<Member>)
                if (k + kPrefetchAhead < n)
                    __builtin_prefetch(list[(start + k + kPrefetchAhead) % n]);
            if (!visit(list[(start + k) % n])) return;
        }
    }

    std::size_t holdings() const { return holdings_; }
    std::size_t seeds() const { return seeds_.size(); }
    void clear() {
        seeds_.clear();
        holdings_ = 0;
    }

  private:
    struct Lists {
        std::vector<Member> complete, partial;
    };
    static bool erase(std::vector<Member>& list, Member m) {
        const auto it = std::find(list.begin(), list.end(), m);
        if (it == list.end()) return false;
        *it = list.back();
        list.pop_back();
        return true;
    }

    std::unordered_map<SeedId, Lists, FixedIdHash> seeds_;
    std::size_t holdings_ = 0;
};

}  // namespace seedshare::tracker
