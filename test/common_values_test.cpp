// The pure pieces of common/ both programs share: the token bucket, endpoint
// text, PeerAddress (one type for discovery, the swarm and the peer protocol),
// the command-line helpers and the small random generator.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <type_traits>

#include "common/core/address.hpp"
#include "common/core/cli_values.hpp"
#include "common/core/small_rng.hpp"
#include "common/core/token_bucket.hpp"
#include "common/wire/peer_protocol.hpp"

namespace common_values_test {

using namespace seedshare;
using namespace std::chrono_literals;

TEST_CASE("small rng: the same seed gives the same sequence, and draws spread evenly") {
    SmallRng a(42), b(42), c(43);
    std::array<std::uint64_t, 8> from_a{}, from_b{}, from_c{};
    for (std::size_t i = 0; i < from_a.size(); ++i) {
        from_a[i] = a();
        from_b[i] = b();
        from_c[i] = c();
    }
    CHECK(from_a == from_b);
    CHECK(from_a != from_c);
    CHECK(std::adjacent_find(from_a.begin(), from_a.end()) == from_a.end());

    // 100,000 draws of 0..9 through the standard distribution: each value
    // within 5% of its share (a stuck or biased generator fails).
    std::array<int, 10> counts{};
    std::uniform_int_distribution<int> digit(0, 9);
    for (int i = 0; i < 100'000; ++i)
        ++counts[static_cast<std::size_t>(digit(a))];
    for (const int n : counts) {
        CHECK(n > 9'500);
        CHECK(n < 10'500);
    }
    // Both halves of the word vary (a shuffle of many items uses the high bits).
    std::uint64_t ored = 0, anded = ~std::uint64_t{0};
    for (int i = 0; i < 64; ++i) {
        const std::uint64_t x = c();
        ored |= x;
        anded &= x;
    }
    CHECK(ored == ~std::uint64_t{0});
    CHECK(anded == 0);
}

TEST_CASE("token bucket: a full bucket lets a burst through, then paces at the rate") {
    const auto t0 = TokenBucket::Clock::now();
    TokenBucket b(10, 3, 3, t0);  // 10 per second, 3 at once, starts full
    CHECK(b.take(1, t0) == TokenBucket::Clock::duration::zero());
    CHECK(b.take(1, t0) == TokenBucket::Clock::duration::zero());
    CHECK(b.take(1, t0) == TokenBucket::Clock::duration::zero());
    // The fourth is 1 token in debt: a tenth of a second at 10/s.
    CHECK(b.take(1, t0) == std::chrono::duration_cast<TokenBucket::Clock::duration>(100ms));
    // Half a second later 5 tokens came back, less the debt, capped at 3.
    CHECK(b.take(3, t0 + 500ms) == TokenBucket::Clock::duration::zero());
}

TEST_CASE("token bucket: an empty bucket holds the limit from the first take") {
    const auto t0 = TokenBucket::Clock::now();
    TokenBucket b(1000, 500, 0, t0);
    CHECK(b.take(500, t0) == std::chrono::duration_cast<TokenBucket::Clock::duration>(500ms));
    // The debt is paid after half a second, not before.
    CHECK(b.take(0, t0 + 250ms) > TokenBucket::Clock::duration::zero());
    CHECK(b.take(0, t0 + 500ms) == TokenBucket::Clock::duration::zero());
    CHECK(b.rate() == 1000);
    CHECK(b.burst() == 500);
}

TEST_CASE("token bucket: tokens taken and refunded are not waited for") {
    const auto t0 = TokenBucket::Clock::now();
    TokenBucket b(1000, 500, 0, t0);
    CHECK(b.take(2000, t0) == std::chrono::duration_cast<TokenBucket::Clock::duration>(2000ms));
    b.refund(2000);  // the taker left before its bytes passed
    CHECK(b.take(100, t0) == std::chrono::duration_cast<TokenBucket::Clock::duration>(100ms));
    b.refund(10'000);  // never above the burst
    CHECK(b.take(500, t0) == TokenBucket::Clock::duration::zero());
    CHECK(b.take(1, t0) > TokenBucket::Clock::duration::zero());
}

TEST_CASE("endpoint text: IPv4 bare, IPv6 in brackets") {
    CHECK(endpoint_text(asio::ip::make_address("10.0.0.1"), 7000) == "10.0.0.1:7000");
    CHECK(endpoint_text(asio::ip::make_address("::1"), 1) == "[::1]:1");
    CHECK(endpoint_text(asio::ip::make_address("::"), 0) == "[::]:0");
}

TEST_CASE("peer address: one type, ordered, printed as an endpoint") {
    static_assert(std::is_same_v<peer_proto::PeerAddress, PeerAddress>);
    const PeerAddress a{asio::ip::make_address("10.0.0.1"), 2};
    const PeerAddress b{asio::ip::make_address("10.0.0.1"), 3};
    const PeerAddress c{asio::ip::make_address("10.0.0.2"), 1};
    CHECK(a < b);
    CHECK(b < c);
    CHECK_FALSE(a < a);
    CHECK(a == PeerAddress{asio::ip::make_address("10.0.0.1"), 2});
    CHECK(PeerAddress{asio::ip::make_address("::1"), 5}.str() == "[::1]:5");
    std::map<PeerAddress, int> keyed{{c, 1}, {a, 2}};
    CHECK(keyed.begin()->first == a);
}

TEST_CASE("cli values: checked returns the value or throws the message as a UsageError") {
    CHECK(checked(port_option("--port", "7000")) == 7000);
    try {
        checked(port_option("--port", "x"));
        FAIL("no UsageError");
    } catch (const UsageError& e) {
        CHECK(e.message == port_option("--port", "x").error().message);
    }
}

TEST_CASE("cli values: log levels") {
    CHECK(*log_level_option("--log-level", "debug") == LogLevel::kDebug);
    CHECK(*log_level_option("--log-level", "off") == LogLevel::kOff);
    const auto bad = log_level_option("--log-level", "loud");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "--log-level 'loud': expected debug, info, warn, error or off");
}

}  // namespace common_values_test
