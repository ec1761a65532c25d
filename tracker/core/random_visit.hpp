// Visiting a list in a uniformly random order without copying or shuffling
// it, for GetPeers of both registries: a Fisher-Yates shuffle of its
// indexes, drawn lazily (only as far as visited, plus kAhead), so a request
// that takes 50 of 100,000 holders costs 58 draws. Every order is equally
// likely: a run of neighbours the caller skips (peers that left together)
// favours no one, as a window from a random point would. Lists of up to
// kOnStack: the indexes on the stack; longer: only the positions a draw
// moved, in a hash map (O(draws) memory).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <unordered_map>
#include <utility>

namespace seedshare::tracker {

// Calls visit(i) for i in [0, n) in a random order until it returns false;
// ahead(j) is called for the index visited kAhead visits later (for the
// first kAhead, before the first visit), so the caller may prefetch.
template <class Visit, class Ahead>
void visit_in_random_order(std::size_t n, std::mt19937_64& rng, Visit visit, Ahead ahead) {
    constexpr std::size_t kAhead = 8;
    constexpr std::size_t kOnStack = 1024;
    if (n == 0) return;
    std::size_t decided = 0;  // positions [0, decided) are drawn
    auto run = [&](auto swap_at, auto at) {
        auto draw = [&] {
            const std::size_t j = std::uniform_int_distribution<std::size_t>(decided, n - 1)(rng);
            swap_at(decided, j);
            ahead(at(decided));
            ++decided;
        };
        while (decided < std::min(n, kAhead))
            draw();
        for (std::size_t k = 0; k < n; ++k) {
            if (decided < n) draw();
            if (!visit(at(k))) return;
        }
    };
    if (n <= kOnStack) {
        std::array<std::uint16_t, kOnStack> order;
        std::iota(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), 0);
        run([&](std::size_t a, std::size_t b) { std::swap(order[a], order[b]); },
            [&](std::size_t p) -> std::size_t { return order[p]; });
        return;
    }
    std::unordered_map<std::size_t, std::size_t> moved;  // position -> index it holds
    moved.reserve(4 * kAhead);
    auto at = [&](std::size_t p) {
        const auto it = moved.find(p);
        return it == moved.end() ? p : it->second;
    };
    run(
        [&](std::size_t a, std::size_t b) {
            const std::size_t va = at(a), vb = at(b);
            moved[a] = vb;
            moved[b] = va;
        },
        at);
}

template <class Visit>
void visit_in_random_order(std::size_t n, std::mt19937_64& rng, Visit visit) {
    visit_in_random_order(n, rng, visit, [](std::size_t) {});
}

}  // namespace seedshare::tracker
