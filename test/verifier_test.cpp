#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "common/crypto/sha256.hpp"
#include "peer/swarm/verifier.hpp"
#include "test/support/temp_dir.hpp"

namespace verifier_test {

using namespace seedshare;
using namespace seedshare::test;
using Outcome = Verifier::Outcome;

namespace {

// Storage in memory; writes can be made to fail.
class MemoryStorage final : public Storage {
  public:
    explicit MemoryStorage(std::size_t size) : data_(size, '\0'), written_(size, false) {}
    std::uint64_t size() const override { return data_.size(); }
    Status read(std::uint64_t offset, std::span<std::uint8_t> out) override {
        if (offset + out.size() > data_.size()) return Error{"past the end"};
        std::copy_n(data_.data() + offset, out.size(), reinterpret_cast<char*>(out.data()));
        return Ok{};
    }
    Status write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
        if (fail_writes) return Error{"disk full"};
        if (offset + data.size() > data_.size()) return Error{"past the end"};
        std::copy(data.begin(), data.end(), reinterpret_cast<std::uint8_t*>(data_.data()) + offset);
        std::fill_n(written_.begin() + static_cast<std::ptrdiff_t>(offset), data.size(), true);
        ++writes;
        return Ok{};
    }
    Status sync() override { return Ok{}; }
    bool written(std::uint64_t offset, std::size_t n) const {
        return std::all_of(written_.begin() + static_cast<std::ptrdiff_t>(offset),
                           written_.begin() + static_cast<std::ptrdiff_t>(offset + n),
                           [](bool b) { return b; });
    }
    std::string data_;
    std::vector<bool> written_;
    bool fail_writes = false;
    int writes = 0;
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

TEST_CASE("verifier: a good chunk is written, counted and hashed into the file") {
    const std::string data = pattern_bytes(3500);
    const Seed s = seed_for(data, 1000);
    auto storage = std::make_shared<MemoryStorage>(data.size());
    Verifier v(s, storage, Bitfield(s.chunk_count()));
    const auto verdict = v.check_and_write(ChunkIndex{0}, chunk_bytes(data, s, 0));
    CHECK(verdict.outcome == Outcome::kOk);
    CHECK_FALSE(verdict.error);
    CHECK_FALSE(verdict.drain);  // in order: hashed from memory
    CHECK(storage->written(0, 1000));
    CHECK(storage->data_.substr(0, 1000) == data.substr(0, 1000));
    CHECK(v.verified_chunks() == 1);
    CHECK(v.verified_bytes() == 1000);
    CHECK(v.hashed() == 1);
    // The short last chunk, out of order: written, and waits to be read back.
    const auto last = v.check_and_write(ChunkIndex{3}, chunk_bytes(data, s, 3));
    CHECK(last.outcome == Outcome::kOk);
    CHECK(last.drain == false);  // chunk 1 is not there yet: nothing to read back
    CHECK(v.verified_bytes() == 1500);
    for (std::uint32_t i : {1u, 2u})
        CHECK(v.check_and_write(ChunkIndex{i}, chunk_bytes(data, s, i)).outcome == Outcome::kOk);
    v.drain();
    const auto digest = v.finish();
    REQUIRE(digest);
    CHECK(*digest == s.file_hash);
    CHECK(storage->data_ == data);
}

TEST_CASE("verifier: a bad chunk is reported and not written") {
    const std::string data = pattern_bytes(3000);
    const Seed s = seed_for(data, 1000);
    auto storage = std::make_shared<MemoryStorage>(data.size());
    Verifier v(s, storage, Bitfield(s.chunk_count()));
    std::string bad = data.substr(1000, 1000);
    bad[500] ^= 1;
    const auto verdict = v.check_and_write(
        ChunkIndex{1}, {reinterpret_cast<const std::uint8_t*>(bad.data()), bad.size()});
    CHECK(verdict.outcome == Outcome::kBadHash);
    CHECK_FALSE(verdict.drain);
    CHECK(storage->writes == 0);
    CHECK(v.verified_chunks() == 0);
    CHECK(v.verified_bytes() == 0);
    // Another chunk's bytes, and a truncated chunk, are not this chunk either.
    CHECK(v.check_and_write(ChunkIndex{1}, chunk_bytes(data, s, 2)).outcome == Outcome::kBadHash);
    CHECK(v.check_and_write(ChunkIndex{1}, chunk_bytes(data, s, 1).first(999)).outcome ==
          Outcome::kBadHash);
    CHECK(storage->writes == 0);
    // The good copy afterwards is taken.
    CHECK(v.check_and_write(ChunkIndex{1}, chunk_bytes(data, s, 1)).outcome == Outcome::kOk);
    CHECK(storage->writes == 1);
}

TEST_CASE("verifier: a write failure is reported with the storage's error") {
    const std::string data = pattern_bytes(2000);
    const Seed s = seed_for(data, 1000);
    auto storage = std::make_shared<MemoryStorage>(data.size());
    storage->fail_writes = true;
    Verifier v(s, storage, Bitfield(s.chunk_count()));
    const auto verdict = v.check_and_write(ChunkIndex{0}, chunk_bytes(data, s, 0));
    CHECK(verdict.outcome == Outcome::kWriteFailed);
    REQUIRE(verdict.error);
    CHECK(verdict.error->message == "disk full");
    CHECK(v.verified_chunks() == 0);
    CHECK(v.hashed() == 0);  // not fed to the whole-file hash
}

TEST_CASE("verifier: chunks already held count toward the whole-file hash") {
    const std::string data = pattern_bytes(3000);
    const Seed s = seed_for(data, 1000);
    auto storage = std::make_shared<MemoryStorage>(data.size());
    // Chunk 0 is on disk already (a resumed download).
    std::copy_n(data.data(), 1000, storage->data_.data());
    Bitfield have(s.chunk_count());
    have.set(ChunkIndex{0});
    Verifier v(s, storage, have);
    auto verdict = v.check_and_write(ChunkIndex{1}, chunk_bytes(data, s, 1));
    CHECK(verdict.outcome == Outcome::kOk);
    CHECK(verdict.drain);  // chunk 0 must be read back first
    v.drain();
    CHECK(v.check_and_write(ChunkIndex{2}, chunk_bytes(data, s, 2)).outcome == Outcome::kOk);
    const auto digest = v.finish();
    REQUIRE(digest);
    CHECK(*digest == s.file_hash);
    CHECK(v.verified_chunks() == 2);
}

}  // namespace verifier_test
