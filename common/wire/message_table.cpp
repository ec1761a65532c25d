#include "common/wire/message_table.hpp"

#include <fmt/format.h>

namespace seedshare::wire {

Status check_header(const FrameHeader& h, bool found, std::string_view type_name,
                    std::size_t max_payload, std::string_view kind) {
    if (!found) return Error{fmt::format("unknown {} type {}", kind, type_name)};
    if (h.payload_size() > max_payload)
        return Error{fmt::format("{} of {} bytes is over its limit of {}", type_name,
                                 h.payload_size(), max_payload)};
    return Ok{};
}

}  // namespace seedshare::wire
