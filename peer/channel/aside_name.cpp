#include "peer/channel/aside_name.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/core/limits.hpp"
#include "peer/channel/local_view.hpp"

namespace seedshare {

namespace {

// The longest prefix of `name` of at most `bytes` bytes that does not end
// inside a UTF-8 sequence.
std::string_view cut_utf8(std::string_view name, std::size_t bytes) {
    if (name.size() <= bytes) return name;
    std::size_t n = bytes;
    while (n > 0 && (static_cast<unsigned char>(name[n]) & 0xC0) == 0x80)
        --n;
    return name.substr(0, n);
}

}  // namespace

std::string aside_path(std::string_view path, AsideReason reason,
                       const std::function<bool(std::string_view)>& taken) {
    const std::string_view dir = parent_path(path);
    const std::string_view name = dir.empty() ? path : path.substr(dir.size() + 1);
    const std::string_view word = reason == AsideReason::kEdited ? "edited" : "moved";
    // The scan and the plan are finite, so some N is free; each N is tried once.
    for (std::uint64_t n = 1;; ++n) {
        const std::string suffix = fmt::format(".seedshare-{}-{}", word, n);
        const std::size_t room =
            limits::kMaxNameBytes > suffix.size() ? limits::kMaxNameBytes - suffix.size() : 0;
        std::string candidate{dir};
        if (!candidate.empty()) candidate += '/';
        candidate += cut_utf8(name, room);
        candidate += suffix;
        if (!taken(candidate)) return candidate;
    }
}

bool is_aside_path(std::string_view path) {
    const std::string_view dir = parent_path(path);
    const std::string_view name = dir.empty() ? path : path.substr(dir.size() + 1);
    for (const std::string_view word : {".seedshare-edited-", ".seedshare-moved-"}) {
        const auto at = name.rfind(word);
        if (at == std::string_view::npos || at == 0) continue;
        const std::string_view n = name.substr(at + word.size());
        if (!n.empty() && n[0] != '0' &&
            std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return true;
    }
    return false;
}

}  // namespace seedshare
