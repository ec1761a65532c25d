// Bounds-checked big-endian reading and writing of byte strings. The reader
// never reads past its end and never trusts a length it has not checked
// against both the bytes remaining and a caller-given limit: every getter
// returns false instead, and the reader stays failed from then on, so a
// decoder can read a whole message and check ok() once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace seedshare {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

class ByteReader {
  public:
    explicit ByteReader(ByteSpan data) : data_(data) {}

    bool ok() const { return ok_; }
    std::size_t remaining() const { return ok_ ? data_.size() - pos_ : 0; }
    // True when everything was read and nothing failed.
    bool done() const { return ok_ && pos_ == data_.size(); }

    bool u8(std::uint8_t& out) { return fixed(out); }
    bool u16(std::uint16_t& out) { return fixed(out); }
    bool u32(std::uint32_t& out) { return fixed(out); }
    bool u64(std::uint64_t& out) { return fixed(out); }

    // Exactly n raw bytes, as a view into the input.
    bool raw(std::size_t n, ByteSpan& out) {
        if (!take(n)) return false;
        out = data_.subspan(pos_ - n, n);
        return true;
    }
    // Fills out entirely (fixed-size fields such as ids).
    bool into(std::span<std::uint8_t> out) {
        if (!take(out.size())) return false;
        std::memcpy(out.data(), data_.data() + pos_ - out.size(), out.size());
        return true;
    }
    // A u16 length then that many bytes; the length must be <= max_len.
    bool str16(std::size_t max_len, std::string& out) {
        std::uint16_t n = 0;
        if (!u16(n)) return false;
        return text(n, max_len, out);
    }
    // A u32 length then that many bytes; the length must be <= max_len.
    bool str32(std::size_t max_len, std::string& out) {
        std::uint32_t n = 0;
        if (!u32(n)) return false;
        return text(n, max_len, out);
    }
    // Marks the reader failed (for semantic checks done by the caller).
    bool fail() { return ok_ = false; }

  private:
    template <class U>
    bool fixed(U& out) {
        if (!take(sizeof(U))) return false;
        U v = 0;
        for (std::size_t i = 0; i < sizeof(U); ++i)
            v = static_cast<U>((v << 8) | data_[pos_ - sizeof(U) + i]);
        out = v;
        return true;
    }
    bool text(std::size_t n, std::size_t max_len, std::string& out) {
        if (n > max_len) return fail();
        ByteSpan s;
        if (!raw(n, s)) return false;
        out.assign(reinterpret_cast<const char*>(s.data()), s.size());
        return true;
    }
    bool take(std::size_t n) {
        if (!ok_ || n > data_.size() - pos_) return fail();
        pos_ += n;
        return true;
    }

    ByteSpan data_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

class ByteWriter {
  public:
    explicit ByteWriter(Bytes& out) : out_(out) {}

    void u8(std::uint8_t v) { out_.push_back(v); }
    void u16(std::uint16_t v) { fixed(v); }
    void u32(std::uint32_t v) { fixed(v); }
    void u64(std::uint64_t v) { fixed(v); }
    void raw(ByteSpan s) { out_.insert(out_.end(), s.begin(), s.end()); }
    void raw(std::string_view s) { out_.insert(out_.end(), s.begin(), s.end()); }
    // Callers keep strings within their limits; encoding never truncates.
    void str16(std::string_view s) {
        u16(static_cast<std::uint16_t>(s.size()));
        raw(s);
    }
    void str32(std::string_view s) {
        u32(static_cast<std::uint32_t>(s.size()));
        raw(s);
    }
    std::size_t size() const { return out_.size(); }
    // Overwrites a u32 written earlier at offset `at` (frame lengths).
    void patch_u32(std::size_t at, std::uint32_t v) {
        for (int i = 3; i >= 0; --i, v >>= 8)
            out_[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v);
    }

  private:
    template <class U>
    void fixed(U v) {
        for (int i = static_cast<int>(sizeof(U)) - 1; i >= 0; --i)
            out_.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    }
    Bytes& out_;
};

}  // namespace seedshare
