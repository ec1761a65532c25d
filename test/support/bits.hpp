// Bitfields from pictures: "1011" has chunks 0, 2 and 3 (as in libtorrent's
// picker tests, state reads at a glance).
#pragma once

#include <string>

#include "common/model/bitfield.hpp"

namespace seedshare::test {

inline Bitfield bits(const std::string& picture) {
    Bitfield b(static_cast<std::uint32_t>(picture.size()));
    for (std::uint32_t i = 0; i < picture.size(); ++i)
        if (picture[i] == '1') b.set(ChunkIndex{i});
    return b;
}

}  // namespace seedshare::test
