// When a getter turns to a backup peer for chunks others hold (issue 15).
#include <doctest/doctest.h>

#include "peer/swarm/backup_sparing.hpp"

namespace backup_sparing_test {

using namespace seedshare;
using namespace std::chrono_literals;

namespace {
constexpr double kMiB = 1 << 20;

BackupSparing::View view(std::size_t others, double others_rate, double backup_rate,
                         std::chrono::steady_clock::duration others_for) {
    BackupSparing::View v;
    v.others = others;
    v.others_rate = others_rate;
    v.backup_rate = backup_rate;
    v.others_for = others_for;
    return v;
}
}  // namespace

TEST_CASE("backup sparing: no other holder left, the backup serves everything") {
    CHECK(BackupSparing::turn_to_backup(view(0, 0, 0, 0s)));
    CHECK(BackupSparing::turn_to_backup(view(0, 0, 100 * kMiB, 0s)));
}

TEST_CASE("backup sparing: others as fast as the backup keep it spared") {
    // The benchmark's case: a sharer on loopback, as fast as the backup.
    CHECK_FALSE(BackupSparing::turn_to_backup(view(1, 200 * kMiB, 200 * kMiB, 10s)));
    // A backup never measured is not turned to while the others deliver.
    CHECK_FALSE(BackupSparing::turn_to_backup(view(1, 4 * kMiB, 0, 10s)));
    // Half the backup's rate is still enough.
    CHECK_FALSE(BackupSparing::turn_to_backup(view(3, 50 * kMiB, 100 * kMiB, 10s)));
}

TEST_CASE("backup sparing: the others are given time to show their rate") {
    // Just connected: their rate is not measured yet.
    CHECK_FALSE(BackupSparing::turn_to_backup(view(1, 0, 100 * kMiB, 100ms)));
    CHECK_FALSE(
        BackupSparing::turn_to_backup(view(1, 0, 100 * kMiB, BackupSparing::kPatience - 1ms)));
    CHECK(BackupSparing::turn_to_backup(view(1, 0, 100 * kMiB, BackupSparing::kPatience)));
}

TEST_CASE("backup sparing: slow others turn the getter to the backup") {
    // Far below what the backup gave.
    CHECK(BackupSparing::turn_to_backup(view(2, 10 * kMiB, 100 * kMiB, 5s)));
    // Next to nothing, whatever the backup gave (never measured).
    CHECK(BackupSparing::turn_to_backup(view(2, 10e3, 0, 5s)));
}

}  // namespace backup_sparing_test
