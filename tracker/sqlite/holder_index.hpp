// Who holds each seed, in memory: the SQLite store's answer to GetPeers
// without a query. Per seed, two lists (complete holders, partial ones) of
// member handles (the store's in-memory user records), so GetPeers visits
// one list in a random order (random_visit.hpp): no SQL step and no hash
// lookup per holder, only the members' records themselves, prefetched a few
// steps ahead. (It walked the holdings index in SQLite and looked each
// holder up by userid: on a loaded tracker 48% of its time.)
//
// Pure: no I/O. Every member also knows where it sits in each list (and
// each list entry where its member keeps that), so a change costs O(1) plus,
// for a put, a search of the member's holdings or of the seed's holders,
// whichever is shorter, and remove_all(m) takes every holding of m out, so the
// store can free a member's record right after: what the index holds comes
// from the index, not from the table (which a failed batch may roll back).
//
// 32 bytes a holding plus a record per seed and per member: 10 files for
// each of 100,000 peers is about 40 MiB.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <random>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "common/core/ids.hpp"
#include "tracker/core/random_visit.hpp"

namespace seedshare::tracker {

template <class Member>
class HolderIndex {
  public:
    // `m` holds `seed` (now complete or not).
    void put(const SeedId& seed, Member m, bool complete) {
        auto [lit, fresh] = seeds_.try_emplace(seed);
        Lists& l = lit->second;
        if (fresh) l.seed = seed;
        auto& refs = members_[m];
        // Does m hold it already? Searched from whichever side is shorter:
        // the member's holdings or the seed's holders (a new seed: neither).
        Ref* held = nullptr;
        if (!fresh && refs.size() <= l.of[0].size() + l.of[1].size()) {
            const auto it =
                std::find_if(refs.begin(), refs.end(), [&](const Ref& r) { return r.lists == &l; });
            if (it != refs.end()) held = &*it;
        } else if (!fresh) {
            for (const bool c : {false, true}) {
                const auto& list = l.of[c];
                const auto it = std::find_if(list.begin(), list.end(),
                                             [&](const Slot& slot) { return slot.member == m; });
                if (it != list.end()) held = &refs[it->ref];
            }
        }
        if (held != nullptr) {
            if (held->complete == complete) return;
            const auto self = static_cast<std::uint32_t>(held - refs.data());
            unlink(l, held->complete, held->pos);
            held->complete = complete;
            held->pos = append(l, complete, m, self);
            return;
        }
        const auto self = static_cast<std::uint32_t>(refs.size());
        refs.push_back(Ref{&l, complete, append(l, complete, m, self)});
        ++holdings_;
    }
    // `m` no longer holds `seed` (nothing happens if it did not).
    void remove(const SeedId& seed, Member m) {
        const auto lit = seeds_.find(seed);
        const auto mit = members_.find(m);
        if (lit == seeds_.end() || mit == members_.end()) return;
        auto& refs = mit->second;
        for (std::size_t i = 0; i < refs.size(); ++i) {
            if (refs[i].lists != &lit->second) continue;
            unlink(lit->second, refs[i].complete, refs[i].pos);
            if (i + 1 != refs.size()) {  // the last ref moves to i: its entry is told
                refs[i] = refs.back();
                refs[i].lists->of[refs[i].complete][refs[i].pos].ref =
                    static_cast<std::uint32_t>(i);
            }
            refs.pop_back();
            --holdings_;
            if (refs.empty()) members_.erase(mit);
            if (lit->second.empty()) seeds_.erase(lit);
            return;
        }
    }
    // `m` holds nothing any more.
    void remove_all(Member m) {
        const auto mit = members_.find(m);
        if (mit == members_.end()) return;
        for (const Ref& r : mit->second) {
            unlink(*r.lists, r.complete, r.pos);
            --holdings_;
            if (r.lists->empty()) {
                const SeedId seed = r.lists->seed;  // the key outlives the node it is in
                seeds_.erase(seed);
            }
        }
        members_.erase(mit);
    }

    // Calls fn(member) for the complete (or partial) holders of `seed` in a
    // random order (random_visit.hpp) until it returns false; members that
    // are pointers have their targets asked for a few steps ahead.
    template <class Visit>
    void visit(const SeedId& seed, bool complete, std::mt19937_64& rng, Visit fn) const {
        const auto it = seeds_.find(seed);
        if (it == seeds_.end()) return;
        const std::vector<Slot>& list = it->second.of[complete];
        visit_in_random_order(
            list.size(), rng, [&](std::size_t i) { return fn(list[i].member); },
            [&](std::size_t j) {
                // The record's first two cache lines (a node need not start a line).
                if constexpr (std::is_pointer_v<Member>) {
                    __builtin_prefetch(list[j].member);
                    __builtin_prefetch(reinterpret_cast<const char*>(list[j].member) + 64);
                }
            });
    }
    // The holders of `seed`, complete (or partial) ones, in no order.
    std::vector<Member> holders(const SeedId& seed, bool complete) const {
        std::vector<Member> out;
        if (const auto it = seeds_.find(seed); it != seeds_.end())
            for (const Slot& s : it->second.of[complete])
                out.push_back(s.member);
        return out;
    }

    std::size_t holdings() const { return holdings_; }
    std::size_t seeds() const { return seeds_.size(); }
    std::size_t members() const { return members_.size(); }
    void clear() {
        seeds_.clear();
        members_.clear();
        holdings_ = 0;
    }

  private:
    struct Slot {
        Member member;
        std::uint32_t ref;  // index of this holding in the member's refs
    };
    struct Lists {
        SeedId seed;
        std::array<std::vector<Slot>, 2> of;  // [0] partial, [1] complete holders
        bool empty() const { return of[0].empty() && of[1].empty(); }
    };
    struct Ref {
        Lists* lists;  // seeds_'s nodes never move
        bool complete;
        std::uint32_t pos;  // index in lists->of[complete]
    };

    std::uint32_t append(Lists& l, bool complete, Member m, std::uint32_t ref) {
        auto& v = l.of[complete];
        v.push_back(Slot{m, ref});
        return static_cast<std::uint32_t>(v.size() - 1);
    }
    // Takes the entry at `pos` out of l.of[complete]; the last entry moves
    // there and its member's ref is told.
    void unlink(Lists& l, bool complete, std::uint32_t pos) {
        auto& v = l.of[complete];
        if (pos + 1 != v.size()) {
            v[pos] = v.back();
            members_.find(v[pos].member)->second[v[pos].ref].pos = pos;
        }
        v.pop_back();
    }

    std::unordered_map<SeedId, Lists, FixedIdHash> seeds_;
    std::unordered_map<Member, std::vector<Ref>> members_;
    std::size_t holdings_ = 0;
};

}  // namespace seedshare::tracker
