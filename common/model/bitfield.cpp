#include "common/model/bitfield.hpp"

#include <fmt/format.h>

#include <bit>

namespace seedshare {

namespace {
std::size_t byte_count(std::uint32_t bits) {
    return (std::size_t{bits} + 7) / 8;
}
std::uint8_t mask(std::uint32_t i) {
    return static_cast<std::uint8_t>(0x80u >> (i & 7));
}
}  // namespace

Bitfield::Bitfield(std::uint32_t size, bool all) : size_(size), bytes_(byte_count(size), 0) {
    if (all) fill();
}

void Bitfield::set(ChunkIndex c) {
    auto& b = bytes_[c.value >> 3];
    if (!(b & mask(c.value))) {
        b |= mask(c.value);
        ++count_;
    }
}

void Bitfield::reset(ChunkIndex c) {
    auto& b = bytes_[c.value >> 3];
    if (b & mask(c.value)) {
        b = static_cast<std::uint8_t>(b & ~mask(c.value));
        --count_;
    }
}

void Bitfield::fill() {
    std::fill(bytes_.begin(), bytes_.end(), 0xff);
    if (size_ % 8 != 0) bytes_.back() = static_cast<std::uint8_t>(0xff00u >> (size_ % 8));
    count_ = size_;
}

bool Bitfield::has_any_not_in(const Bitfield& other) const {
    if (other.size_ != size_) return false;
    for (std::size_t i = 0; i < bytes_.size(); ++i)
        if ((bytes_[i] & static_cast<std::uint8_t>(~other.bytes_[i])) != 0) return true;
    return false;
}

Result<Bitfield> Bitfield::from_bytes(std::uint32_t size, ByteSpan bytes) {
    if (bytes.size() != byte_count(size))
        return Error{fmt::format("bitfield of {} bytes for {} chunks (expected {})", bytes.size(),
                                 size, byte_count(size))};
    Bitfield b(size);
    std::copy(bytes.begin(), bytes.end(), b.bytes_.begin());
    if (size % 8 != 0 && (b.bytes_.back() & static_cast<std::uint8_t>(0xffu >> (size % 8))) != 0)
        return Error{"bitfield has bits set past the last chunk"};
    std::uint32_t count = 0;
    for (auto byte : b.bytes_)
        count += static_cast<std::uint32_t>(std::popcount(byte));
    b.count_ = count;
    return b;
}

}  // namespace seedshare
