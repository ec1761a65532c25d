#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <thread>

#include "common/crypto/sha256.hpp"
#include "peer/library/seed_maker.hpp"
#include "peer/swarm/file_hasher.hpp"
#include "test/support/temp_dir.hpp"

namespace file_hasher_test {

using namespace seedshare;
using namespace seedshare::test;

namespace {

// Storage in memory.
class MemoryStorage final : public Storage {
  public:
    explicit MemoryStorage(std::string data) : data_(std::move(data)) {}
    std::uint64_t size() const override { return data_.size(); }
    Status read(std::uint64_t offset, std::span<std::uint8_t> out) override {
        if (offset + out.size() > data_.size()) return Error{"past the end"};
        std::copy_n(data_.data() + offset, out.size(), reinterpret_cast<char*>(out.data()));
        ++reads;
        return Ok{};
    }
    Status write(std::uint64_t, std::span<const std::uint8_t>) override { return Ok{}; }
    Status sync() override { return Ok{}; }
    std::string data_;
    std::atomic<int> reads{0};
};

Seed seed_for(const std::string& data, std::uint64_t chunk) {
    Seed s;
    s.name.assign(1, 'f');  // (not = "f": a GCC 12 -Wrestrict false positive)
    s.length = data.size();
    s.chunk_size = chunk;
    s.file_hash = sha256(std::string_view(data));
    for (std::uint64_t off = 0; off < data.size(); off += chunk)
        s.chunk_hashes.push_back(sha256(std::string_view(data).substr(off, chunk)));
    return s;
}

std::span<const std::uint8_t> chunk_bytes(const std::string& data, const Seed& s, std::uint32_t i) {
    const auto off = s.chunk_offset(ChunkIndex{i});
    return {reinterpret_cast<const std::uint8_t*>(data.data()) + off,
            s.chunk_length(ChunkIndex{i})};
}

}  // namespace

TEST_CASE("file hasher: in order, nothing is read back") {
    const std::string data = pattern_bytes(10'000);
    const Seed s = seed_for(data, 1000);
    MemoryStorage storage(data);
    FileHasher h(s, storage);
    for (std::uint32_t i = 0; i < s.chunk_count(); ++i)
        h.chunk_written(ChunkIndex{i}, chunk_bytes(data, s, i));
    CHECK(h.hashed() == s.chunk_count());
    auto d = h.finish();
    REQUIRE(d);
    CHECK(*d == s.file_hash);
    CHECK(storage.reads == 0);
}

TEST_CASE("file hasher: any order, from several threads, gives the whole-file hash") {
    const std::string data = pattern_bytes(200'003, 5);
    const Seed s = seed_for(data, 997);
    for (int round = 0; round < 20; ++round) {
        MemoryStorage storage(data);
        FileHasher h(s, storage);
        std::vector<std::uint32_t> order(s.chunk_count());
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), std::mt19937(round));
        std::vector<std::thread> threads;
        std::atomic<std::size_t> next{0};
        for (int t = 0; t < 3; ++t)
            threads.emplace_back([&] {
                for (std::size_t k; (k = next++) < order.size();)
                    if (h.chunk_written(ChunkIndex{order[k]}, chunk_bytes(data, s, order[k])))
                        h.drain();
            });
        for (auto& t : threads)
            t.join();
        auto d = h.finish();
        REQUIRE(d);
        CHECK(*d == s.file_hash);
    }
}

TEST_CASE("file hasher: chunks already on disk (resume) are read back") {
    const std::string data = pattern_bytes(5000, 9);
    const Seed s = seed_for(data, 1000);
    MemoryStorage storage(data);
    FileHasher h(s, storage);
    h.mark_written(ChunkIndex{0});
    h.mark_written(ChunkIndex{2});
    // Chunk 1 is not next (0 is, on disk): it asks for a drain.
    CHECK(h.chunk_written(ChunkIndex{1}, chunk_bytes(data, s, 1)));
    CHECK(h.hashed() == 0);
    h.drain();
    CHECK(h.hashed() == 3);  // 0, 1 and 2 read back
    CHECK_FALSE(
        h.chunk_written(ChunkIndex{4}, chunk_bytes(data, s, 4)));  // 3 is missing: nothing to drain
    CHECK(h.chunk_written(ChunkIndex{3},
                          chunk_bytes(data, s, 3)));  // next: hashed from memory, then 4 waits
    CHECK(h.hashed() == 4);
    auto d = h.finish();
    REQUIRE(d);
    CHECK(*d == s.file_hash);
    CHECK(storage.reads >= 2);
}

TEST_CASE(
    "file hasher: finish with chunks missing is an error, empty files hash to the empty digest") {
    const std::string data = pattern_bytes(3000);
    const Seed s = seed_for(data, 1000);
    MemoryStorage storage(data);
    FileHasher h(s, storage);
    h.chunk_written(ChunkIndex{0}, chunk_bytes(data, s, 0));
    CHECK_FALSE(h.finish());

    const Seed empty = seed_for("", 1000);
    MemoryStorage none("");
    FileHasher e(empty, none);
    auto d = e.finish();
    REQUIRE(d);
    CHECK(*d == sha256(std::string_view("")));
}

}  // namespace file_hasher_test
