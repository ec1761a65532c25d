#include "common/core/ids.hpp"

#include <sys/random.h>

#include <cerrno>
#include <system_error>

namespace seedshare {

namespace {
template <class Id>
Id random_id() {
    // OS randomness: tokens are secrets, and ids must not collide across hosts.
    Id id;
    std::size_t got = 0;
    while (got < id.bytes.size()) {
        const ssize_t n = ::getrandom(id.bytes.data() + got, id.bytes.size() - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw std::system_error(errno, std::generic_category(), "getrandom");
        }
        got += static_cast<std::size_t>(n);
    }
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
