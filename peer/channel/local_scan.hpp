// The scan of a channel directory DIR for the sync planner and `peer status`:
// every entry under DIR as a LocalEntry (sync_state.hpp), through the Env.
//
// Never follows a symlink: one is listed as kOther, never what lies behind
// it. DIR/.seedshare (the channel store) is left out. Bounded: more than
// limits::kMaxScanEntries entries is refused. An entry that vanishes while
// the scan runs is left out (the planner plans again after every change it
// notices). Blocking: call it on the thread pool.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/env/env.hpp"
#include "peer/channel/sync_state.hpp"

namespace seedshare {

struct ScanError {
    enum class Kind : std::uint8_t {
        kTooManyEntries,  // more than limits::kMaxScanEntries
        kNotADirectory,   // DIR itself is not a directory
        kIo,              // the disk said no (the path is in the message)
    };
    Kind kind = Kind::kIo;
    std::string message;
};

// Sorted by path, each directory before what it holds.
Result<std::vector<LocalEntry>, ScanError> scan_local(const std::filesystem::path& dir, Env& env);

// The stamp an lstat gave.
FileStamp stamp_of(const FileInfo& info);

}  // namespace seedshare
