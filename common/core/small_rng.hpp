// SmallRng: a pseudo-random generator for choices that need spread, not
// secrecy (which chunk among the rarest, which peer first). SplitMix64
// (Steele, Lea and Flood, "Fast splittable pseudorandom number generators",
// OOPSLA 2014): 8 bytes of state, where std::mt19937_64 holds 2.5 KB; a
// process holds a Picker per swarm, and a channel of 10,000 files is 10,000
// swarms. A UniformRandomBitGenerator, for the <random> distributions and
// std::shuffle.
#pragma once

#include <atomic>
#include <cstdint>
#include <random>

namespace seedshare {

class SmallRng {
  public:
    using result_type = std::uint64_t;

    explicit SmallRng(std::uint64_t seed) : state_(seed) {}

    static constexpr result_type min() { return 0; }
    static constexpr result_type max() { return ~result_type{0}; }

    result_type operator()() {
        std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }

  private:
    std::uint64_t state_;
};

// A seed for a SmallRng: one draw from std::random_device per process, then
// a step of SplitMix64 per call (opening the random device for each of
// 10,000 swarms took 5% of a subscriber's CPU). Thread-safe.
inline std::uint64_t fresh_seed() {
    static const std::uint64_t base = [] {
        std::random_device rd;
        return (std::uint64_t{rd()} << 32) | rd();
    }();
    static std::atomic<std::uint64_t> calls{0};
    return SmallRng(base + calls.fetch_add(1, std::memory_order_relaxed))();
}

}  // namespace seedshare
