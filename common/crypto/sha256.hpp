// SHA-256 through Crypto++, which uses the CPU's SHA instructions where present.
#pragma once

#include <crypto++/sha.h>

#include <span>
#include <string_view>

#include "common/core/ids.hpp"

namespace seedshare {

class Sha256 {
  public:
    void update(std::span<const std::uint8_t> data) { h_.Update(data.data(), data.size()); }
    void update(std::string_view data) {
        h_.Update(reinterpret_cast<const CryptoPP::byte*>(data.data()), data.size());
    }
    // Returns the digest and resets the hasher for reuse.
    Digest finish() {
        Digest d;
        h_.Final(d.bytes.data());
        return d;
    }

  private:
    CryptoPP::SHA256 h_;
};

inline Digest sha256(std::span<const std::uint8_t> data) {
    Sha256 h;
    h.update(data);
    return h.finish();
}

inline Digest sha256(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.finish();
}

}  // namespace seedshare
