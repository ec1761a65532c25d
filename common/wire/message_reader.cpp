#include "common/wire/message_reader.hpp"

#include "common/core/limits.hpp"

#include <fmt/format.h>

namespace seedshare::wire {

void put_address(ByteWriter& w, const asio::ip::address& a) {
    if (a.is_v6()) {
        w.u8(kFamilyV6);
        const auto b = a.to_v6().to_bytes();
        w.raw(ByteSpan(b.data(), b.size()));
    } else {
        w.u8(kFamilyV4);
        const auto b = a.to_v4().to_bytes();
        w.raw(ByteSpan(b.data(), b.size()));
    }
}

bool MessageReader::flag(bool& out, std::string_view field) {
    std::uint8_t v = 0;
    if (!u8(v, field)) return false;
    if (v > 1) return fail(fmt::format("{} is {} (expected 0 or 1)", field, v));
    out = v == 1;
    return true;
}

bool MessageReader::address(asio::ip::address& out, std::string_view field) {
    std::uint8_t family = 0;
    if (!u8(family, field)) return false;
    if (family == kFamilyV4) {
        asio::ip::address_v4::bytes_type b{};
        if (!check(r_.into(b), field)) return false;
        out = asio::ip::address_v4(b);
        return true;
    }
    if (family == kFamilyV6) {
        asio::ip::address_v6::bytes_type b{};
        if (!check(r_.into(b), field)) return false;
        out = asio::ip::address_v6(b);
        return true;
    }
    return fail(fmt::format("{}: address family {} (expected 4 or 6)", field, family));
}

bool MessageReader::count(std::size_t n, std::size_t limit, std::size_t min_entry_bytes,
                          std::string_view field) {
    if (!ok()) return false;
    if (n > limit) return fail(fmt::format("{} {} is over the limit of {}", n, field, limit));
    if (n * min_entry_bytes > r_.remaining())
        return fail(fmt::format("{} {} do not fit in the {} bytes left", n, field, r_.remaining()));
    return true;
}

bool MessageReader::in_range(std::uint64_t value, std::uint64_t lo, std::uint64_t hi,
                             std::string_view field) {
    if (!ok()) return false;
    if (value < lo) return fail(fmt::format("{} {} is below {}", field, value, lo));
    if (value > hi) return fail(fmt::format("{} {} is out of range {}..{}", field, value, lo, hi));
    return true;
}

Status MessageReader::done() {
    if (!error_ && r_.remaining() != 0)
        fail(fmt::format("{} unexpected bytes after the message", r_.remaining()));
    if (error_) return Error{*error_};
    return Ok{};
}

bool MessageReader::fail(std::string message) {
    if (!error_) error_ = fmt::format("{}: {}", what_, message);
    r_.fail();
    return false;
}

bool MessageReader::text(std::string& out, std::size_t max_len, std::string_view field, int width) {
    if (!ok()) return false;
    std::uint32_t n = 0;
    if (width == 2) {
        std::uint16_t n16 = 0;
        if (!u16(n16, field)) return false;
        n = n16;
    } else if (!u32(n, field)) {
        return false;
    }
    if (n > max_len)
        return fail(fmt::format("{} of {} bytes is over the limit of {}", field, n, max_len));
    ByteSpan s;
    if (!check(r_.raw(n, s), field)) return false;
    out.assign(reinterpret_cast<const char*>(s.data()), s.size());
    return true;
}

void put_peer_list(ByteWriter& w, const std::vector<PeerAddress>& peers) {
    w.u16(static_cast<std::uint16_t>(peers.size()));
    for (const auto& p : peers) {
        put_address(w, p.address);
        w.u16(p.port);
    }
}

bool read_peer_list(MessageReader& r, std::vector<PeerAddress>& peers) {
    constexpr std::size_t kMinPeerAddressBytes = 1 + 4 + 2;  // family, IPv4, port
    std::uint16_t n = 0;
    if (!r.u16(n, "count") ||
        !r.count(n, limits::kMaxPeerListEntries, kMinPeerAddressBytes, "peers"))
        return false;
    peers.resize(n);
    for (auto& a : peers) {
        if (!r.address(a.address, "peer address") || !r.u16(a.port, "peer port")) return false;
    }
    return true;
}

}  // namespace seedshare::wire
