// Visiting a list in a random order without copying or shuffling it, for
// GetPeers of both registries: every index comes once, each as likely as
// any other to be among the first k, and a run of neighbours the caller
// skips (peers that left together) does not favour the one after it, as a
// window from a random point would. Lists of up to kExact: a Fisher-Yates
// shuffle of their indexes on the stack, done only as far as visited (plus
// kAhead). Longer lists: from a random index by a random stride coprime
// with the size (O(1) memory; a skipped run then favours the index after it
// only for the few strides that do not jump it, about 2 in n/ln n).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <utility>

namespace seedshare::tracker {

// Calls visit(i) for i in [0, n) in such an order until it returns false;
// ahead(j) is called with the index kAhead visits further on, when there
// is one, so the caller may prefetch what it will read there.
template <class Visit, class Ahead>
void visit_in_random_order(std::size_t n, std::mt19937_64& rng, Visit visit, Ahead ahead) {
    constexpr std::size_t kAhead = 8;
    constexpr std::size_t kExact = 1024;
    if (n == 0) return;
    if (n <= kExact) {
        std::array<std::uint16_t, kExact> order;
        std::iota(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), 0);
        std::size_t decided = 0;  // positions [0, decided) are drawn
        auto draw = [&] {
            const std::size_t j = std::uniform_int_distribution<std::size_t>(decided, n - 1)(rng);
            std::swap(order[decided], order[j]);
            ++decided;
        };
        while (decided < std::min(n, kAhead))
            draw();
        for (std::size_t k = 0; k < n; ++k) {
            if (decided < n) {
                draw();
                ahead(order[decided - 1]);
            }
            if (!visit(order[k])) return;
        }
        return;
    }
    const std::size_t start = std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
    std::size_t stride = std::uniform_int_distribution<std::size_t>(1, n - 1)(rng);
    while (std::gcd(stride, n) != 1)
        stride = stride % (n - 1) + 1;
    std::size_t i = start;
    std::size_t next_ahead = (start + kAhead * stride) % n;
    for (std::size_t k = 0; k < n; ++k) {
        if (k + kAhead < n) {
            ahead(next_ahead);
            next_ahead = (next_ahead + stride) % n;
        }
        if (!visit(i)) return;
        i = (i + stride) % n;
    }
}

template <class Visit>
void visit_in_random_order(std::size_t n, std::mt19937_64& rng, Visit visit) {
    visit_in_random_order(n, rng, visit, [](std::size_t) {});
}

}  // namespace seedshare::tracker
