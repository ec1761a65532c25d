// libFuzzer target: an etcd watch stream as the tracker reads it
// (tracker/etcd/watch_stream.hpp), and its events applied to the local peer
// table (tracker/etcd/peer_table.hpp). Nothing throws or crashes; lines stay
// within the bound; the table's answers stay within what was asked.
#include <cstdint>
#include <cstdlib>
#include <random>
#include <string_view>

#include "tracker/etcd/peer_table.hpp"
#include "tracker/etcd/watch_stream.hpp"

using namespace seedshare;
using namespace seedshare::tracker::etcd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    StreamLines lines(4096);
    PeerTable table("/seedshare/f/");
    std::mt19937_64 rng(1);
    // In two pieces, as a network would cut it.
    const std::size_t half = size / 2;
    for (const auto piece : {bytes.substr(0, half), bytes.substr(half)}) {
        if (!lines.append(piece)) return 0;
        while (auto line = lines.next()) {
            if (line->size() > 4096) std::abort();
            const auto m = parse_watch_message(*line);
            if (!m) continue;
            (void)next_step(*m);
            for (const auto& e : m->events)
                table.apply(e);
        }
    }
    SeedId seed;
    for (const auto& h : table.holders(seed, UserId{}, 5, 0, 1'000'000'000'000, rng))
        if (h.port == 0) std::abort();
    const auto page = table.files(std::nullopt, 10, 0, 1'000'000'000'000);
    if (page.files.size() > 10) std::abort();
    const auto c = table.counts(0, 1'000'000'000'000);
    if (c.live_users > c.users) std::abort();
    return 0;
}
