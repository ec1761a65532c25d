// Message tables: each protocol registers every message type once, in one
// table (tracker_protocol.cpp, peer_protocol.cpp), with its name, the
// largest payload it may have (computed from common/core/limits.hpp) and its
// decoder. The rows are in the order of the protocol's std::variant, so a
// message's type byte is its row's. The codecs encode, decode, name and
// bound messages from their table, and check_header() is the one check of a
// frame header against the type's limit, done before a byte of payload is
// read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/core/bytes.hpp"
#include "common/core/result.hpp"
#include "common/wire/frame.hpp"

namespace seedshare::wire {

// One row: a message type that decodes into the variant `Decoded`.
template <class Decoded>
struct MessageSpec {
    std::uint8_t type = 0;
    std::string_view name;        // "Join", "Piece", ...
    std::size_t max_payload = 0;  // bytes after the type byte
    Result<Decoded> (*decode)(ByteSpan payload) = nullptr;
};

// The row for `type`, or null.
template <class Decoded>
const MessageSpec<Decoded>* find_spec(std::span<const MessageSpec<Decoded>> table,
                                      std::uint8_t type) {
    for (const auto& s : table)
        if (s.type == type) return &s;
    return nullptr;
}

// Ok when the type has a row (`name`, `max_payload`; found: false when it
// has none) and the payload is within its limit. `type_name` names the type
// for the error ("0x42", or a message of the other direction); `kind` is
// "request", "message": "unknown request type 0x42", "Heartbeat of 100000
// bytes is over its limit of 16".
Status check_header(const FrameHeader& h, bool found, std::string_view type_name,
                    std::size_t max_payload, std::string_view kind);

template <class Decoded>
Status check_header(std::span<const MessageSpec<Decoded>> table, const FrameHeader& h,
                    std::string_view type_name, std::string_view kind) {
    const auto* s = find_spec(table, h.type);
    return check_header(h, s != nullptr, s != nullptr ? s->name : type_name,
                        s != nullptr ? s->max_payload : 0, kind);
}

}  // namespace seedshare::wire
