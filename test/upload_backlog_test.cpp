#include <doctest/doctest.h>

#include "peer/swarm/upload_backlog.hpp"

namespace upload_backlog_test {

using namespace seedshare;

namespace {
constexpr std::uint32_t kBlock = 256u << 10;
constexpr std::uint32_t kMin = 4;
}  // namespace

TEST_CASE("upload backlog: what is sent in the window, at least a few blocks") {
    // Nothing measured yet: the few blocks.
    CHECK(UploadBacklog::limit(0, kBlock, kMin) == kMin * kBlock);
    // A slow link: still the few blocks (a whole one can always be queued).
    CHECK(UploadBacklog::limit(100e3, kBlock, kMin) == kMin * kBlock);
    // 4 MiB/s: 1 s of it.
    CHECK(UploadBacklog::limit(4.0 * (1 << 20), kBlock, kMin) == 4u << 20);
    // Loopback speeds: large, and no overflow on absurd rates.
    CHECK(UploadBacklog::limit(1e9, kBlock, kMin) == 1'000'000'000u);
    CHECK(UploadBacklog::limit(1e30, kBlock, kMin) >= std::uint64_t{1} << 60);
    // The floor is the swarm's setting.
    CHECK(UploadBacklog::limit(0, kBlock, 1000) == 1000u * kBlock);
}

TEST_CASE("upload backlog: a new chunk is queued while the queue is under the limit") {
    const auto limit = UploadBacklog::limit(0, kBlock, kMin);
    CHECK(UploadBacklog::may_queue(0, limit));
    CHECK(UploadBacklog::may_queue(limit - 1, limit));
    CHECK_FALSE(UploadBacklog::may_queue(limit, limit));
}

}  // namespace upload_backlog_test
