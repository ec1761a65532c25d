#include "common/core/ids.hpp"

#include <sys/random.h>

#include <cerrno>
#include <system_error>

namespace seedshare {

void random_bytes(std::span<std::uint8_t> out) {
    std::size_t got = 0;
    while (got < out.size()) {
        const ssize_t n = ::getrandom(out.data() + got, out.size() - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        got += static_cast<std::size_t>(n);
    }
}

namespace {
template <class Id>
Id random_id() {
    // OS randomness: tokens are secrets, and ids must not collide across hosts.
    Id id;
    random_bytes(id.bytes);
    return id;
}
}  // namespace

UserId random_user_id() {
    UserId id = random_id<UserId>();
    id.bytes[6] = static_cast<std::uint8_t>((id.bytes[6] & 0x0f) | 0x40);  // version 4
    id.bytes[8] = static_cast<std::uint8_t>((id.bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
    return id;
}

Token random_token() {
    return random_id<Token>();
}

std::string uuid_string(const UserId& id) {
    const std::string h = id.hex();
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
           "-" + h.substr(20);
}

}  // namespace seedshare
