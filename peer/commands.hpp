// The peer program's subcommands. main.cpp parses the command line into these
// option structs (checking every value) and calls the matching run_*().
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/address.hpp"

namespace seedshare {

// Exit codes of the peer program, documented in README.md.
enum ExitCode : int {
    kExitOk = 0,
    kExitFailure = 1,             // I/O error, download could not finish
    kExitUsage = 2,               // bad command line
    kExitTrackerUnreachable = 3,  // no tracker answered at start
    kExitIntegrity = 4,           // the assembled file does not match the seed
    kExitInterrupted = 130,       // SIGINT/SIGTERM before the work was done
};

struct MakeSeedCommand {
    std::filesystem::path file;
    std::optional<std::filesystem::path> out;
    std::vector<HostPort> trackers;
    std::uint64_t chunk_size = 0;  // 0: default policy
};

int run_make_seed(const MakeSeedCommand& cmd);

}  // namespace seedshare
