// What an etcd watch stream says (pure: no I/O). The v3 JSON gateway answers
// POST /v3/watch with one JSON object per line, for as long as the stream
// lasts:
//
//   {"result":{"header":{"revision":"7",...},"created":true}}
//   {"result":{"header":{...},"events":[{"kv":{"key":..,"mod_revision":"8",..}},
//                                       {"type":"DELETE","kv":{...}}]}}
//   {"result":{"header":{...},"canceled":true,"compact_revision":"9"}}
//
// (a PUT's type is left out: it is the enum's default). StreamLines cuts the
// body into lines under a size bound; parse_watch_message reads one; and
// next_step decides what the watch does with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.hpp"
#include "tracker/etcd/peer_table.hpp"

namespace seedshare::tracker::etcd {

// The longest line accepted (one watch response; etcd's own limit on a
// request is far below).
inline constexpr std::size_t kMaxWatchLine = 64u << 20;

class StreamLines {
  public:
    explicit StreamLines(std::size_t max_line = kMaxWatchLine) : max_(max_line) {}
    // Adds bytes; false when a line grew past the bound (the stream is bad).
    bool append(std::string_view bytes);
    // The next complete line (without its '\n'), if any.
    std::optional<std::string> next();

  private:
    std::string buffer_;
    std::size_t start_ = 0;
    std::size_t max_;
};

struct WatchMessage {
    bool created = false;
    bool canceled = false;
    std::int64_t compact_revision = 0;  // > 0: what was asked for is compacted
    std::int64_t header_revision = 0;
    std::vector<WatchEvent> events;  // in revision order
    std::string error;               // the gateway's error, or a cancel reason
};

// One line of the stream; an error when it is not a watch response.
Result<WatchMessage> parse_watch_message(std::string_view line);

enum class WatchStep : std::uint8_t {
    kApply,    // events (or nothing) to apply; the stream goes on
    kRelist,   // history compacted past where the table is: list everything again
    kRestart,  // the stream ended or failed: watch again from revision() + 1
};
WatchStep next_step(const WatchMessage& m);

}  // namespace seedshare::tracker::etcd
