// Whether a getter asks a backup peer for chunks another connected peer
// holds (issue 15: "a getter turns to it when no other holder is left or the
// others are slow"). Pure: a view of the swarm in, a decision out.
//
// Why: a backup holds everything shared, so without this every getter would
// take about half its bytes from it while a sharer is live (52.9% median,
// docs/BENCHMARKS.md), and the backup's upload would carry the network. A
// getter knows a backup from its trackers (the backup bit of a Peers entry,
// docs/PROTOCOL.md); it counts it apart in the Picker and asks it only for
// the chunks no other connected peer holds, unless turn_to_backup says the
// others are slow (a channel's publisher, whose Hello asks to be spared, is
// treated the same: each chunk best leaves it once, and the subscribers pass
// it on):
//  - no other peer can serve (none connected, all leaving or stalled);
//  - after kPatience with others connected (their rate takes that long to
//    show), they deliver below kMinRate together, or below kSlowFraction of
//    the rate a backup gave us (measured while it served the chunks only it
//    had, or before the others connected; 0 when never measured).
#pragma once

#include <chrono>
#include <cstddef>

namespace seedshare {

struct BackupSparing {
    static constexpr std::chrono::milliseconds kPatience{2000};
    static constexpr double kMinRate = 256.0 * 1024;  // bytes/s, the others together
    static constexpr double kSlowFraction = 0.5;

    struct View {
        // Connected peers that are not backups and may serve: through their
        // handshake, not leaving, not stalled.
        std::size_t others = 0;
        // Bytes/s received from them lately, together.
        double others_rate = 0;
        // The best rate a connected backup gave lately (0: never measured).
        double backup_rate = 0;
        // How long there have been others (0 when none).
        std::chrono::steady_clock::duration others_for{};
    };

    // May a backup be asked for chunks another connected peer holds?
    static bool turn_to_backup(const View& v) {
        if (v.others == 0) return true;
        if (v.others_for < kPatience) return false;
        if (v.others_rate < kMinRate) return true;
        return v.backup_rate > 0 && v.others_rate < kSlowFraction * v.backup_rate;
    }
};

}  // namespace seedshare
