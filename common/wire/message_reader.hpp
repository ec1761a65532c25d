// The one reader style of both message codecs (tracker and peer): reads a
// message field by field with a ByteReader (which fails instead of reading
// past the end), remembers the first problem with the message and field it
// concerns ("Piece: data length 0 is below 1", "FileList: truncated in entry
// 3 name"), checks counts against their limit and the bytes left before
// anything is reserved, and refuses trailing bytes in finish().
#pragma once

#include <vector>

#include "common/core/address.hpp"

#include <asio/ip/address.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/core/bytes.hpp"
#include "common/core/ids.hpp"
#include "common/core/result.hpp"

namespace seedshare::wire {

// Address families on the wire: u8 family, then 4 or 16 bytes.
inline constexpr std::uint8_t kFamilyV4 = 4;
inline constexpr std::uint8_t kFamilyV6 = 6;
void put_address(ByteWriter& w, const asio::ip::address& a);

// A list of peer addresses, as both peer protocols carry it (PeerList): u16
// count (at most limits::kMaxPeerListEntries), then each address and u16 port.
void put_peer_list(ByteWriter& w, const std::vector<PeerAddress>& peers);
class MessageReader;
bool read_peer_list(MessageReader& r, std::vector<PeerAddress>& peers);

class MessageReader {
  public:
    // `message`: the message's name, which starts every error.
    MessageReader(ByteSpan payload, std::string_view message) : r_(payload), what_(message) {}

    template <std::size_t N, class Tag>
    bool id(FixedId<N, Tag>& out, std::string_view field) {
        return check(r_.into(out.bytes), field);
    }
    bool u8(std::uint8_t& out, std::string_view field) { return check(r_.u8(out), field); }
    bool u16(std::uint16_t& out, std::string_view field) { return check(r_.u16(out), field); }
    bool u32(std::uint32_t& out, std::string_view field) { return check(r_.u32(out), field); }
    bool u64(std::uint64_t& out, std::string_view field) { return check(r_.u64(out), field); }
    // A u8 that must be 0 or 1.
    bool flag(bool& out, std::string_view field);
    // A u16/u32 length then text of at most max_len bytes.
    bool str16(std::string& out, std::size_t max_len, std::string_view field) {
        return text(out, max_len, field, 2);
    }
    bool str32(std::string& out, std::size_t max_len, std::string_view field) {
        return text(out, max_len, field, 4);
    }
    // n bytes (all the rest with rest()), as a view into the payload.
    bool bytes(std::size_t n, ByteSpan& out, std::string_view field) {
        return check(r_.raw(n, out), field);
    }
    bool rest(ByteSpan& out) { return r_.raw(r_.remaining(), out); }
    // u8 family (4 or 6), then the address.
    bool address(asio::ip::address& out, std::string_view field);
    // A count that must be <= limit and leave room for `n` entries of at
    // least min_entry_bytes each: checked before anything is reserved.
    bool count(std::size_t n, std::size_t limit, std::size_t min_entry_bytes,
               std::string_view field);
    // A value that must lie in lo..hi ("Error: code 9 is out of range 1..7").
    bool in_range(std::uint64_t value, std::uint64_t lo, std::uint64_t hi, std::string_view field);

    // Records the problem (the first one wins) and stops the reading.
    bool fail(std::string message);
    bool ok() const { return !error_; }
    std::size_t remaining() const { return r_.remaining(); }
    // Ok when everything was read without a problem and nothing is left.
    Status done();
    // The value when done().
    template <class T>
    Result<T> finish(T value) {
        if (auto d = done(); !d) return d.error();
        return value;
    }

  private:
    bool check(bool read, std::string_view field) {
        if (read || error_) return read;
        return fail(std::string("truncated in ").append(field));
    }
    bool text(std::string& out, std::size_t max_len, std::string_view field, int width);

    ByteReader r_;
    std::string_view what_;
    std::optional<std::string> error_;
};

}  // namespace seedshare::wire
