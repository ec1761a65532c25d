// Which chunks of a file a peer holds: one bit per chunk, chunk 0 in the high
// bit of byte 0 (as sent on the wire). Bits past the chunk count are zero.
#pragma once

#include <cstdint>
#include <vector>

#include "common/core/bytes.hpp"
#include "common/core/result.hpp"
#include "common/model/seed.hpp"

namespace seedshare {

class Bitfield {
  public:
    Bitfield() = default;
    explicit Bitfield(std::uint32_t size, bool all = false);

    std::uint32_t size() const { return size_; }
    std::uint32_t count() const { return count_; }
    bool all() const { return count_ == size_; }
    bool none() const { return count_ == 0; }

    bool test(ChunkIndex c) const { return (bytes_[c.value >> 3] >> (7 - (c.value & 7))) & 1; }
    void set(ChunkIndex c);
    void reset(ChunkIndex c);
    void fill();
    // Holds some chunk `other` lacks (false when the sizes differ).
    bool has_any_not_in(const Bitfield& other) const;

    // Wire form: ceil(size/8) bytes.
    const Bytes& bytes() const { return bytes_; }
    // Rejects the wrong byte count and set bits past `size`.
    static Result<Bitfield> from_bytes(std::uint32_t size, ByteSpan bytes);

    bool operator==(const Bitfield&) const = default;

  private:
    std::uint32_t size_ = 0;
    std::uint32_t count_ = 0;
    Bytes bytes_;
};

}  // namespace seedshare
