// One `get`: from a seed (or a seed id the trackers know) to a verified file
// DIR/NAME, through DIR/NAME.part. Resumes from an existing NAME.part, never
// replaces a different NAME unless told to, registers with the trackers as a
// partial holder after the first verified chunk and as a complete one at the
// end, and serves what it has verified meanwhile (through the Node).
//
// The command (cmd_get.cpp) adds the terminal: progress, summary, exit codes.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/address.hpp"
#include "common/log.hpp"
#include "common/net.hpp"
#include "common/seed.hpp"
#include "peer/node.hpp"
#include "peer/storage.hpp"
#include "peer/swarm.hpp"
#include "peer/trackers.hpp"

namespace seedshare {

struct DownloadOptions {
    std::optional<Seed> seed;       // the seed, or:
    std::optional<SeedId> seed_id;  // an id to fetch from the trackers
    std::filesystem::path out_dir = ".";
    std::vector<HostPort> trackers;  // empty: the seed's own
    bool force = false;              // replace an existing different file
    // Opens DIR/NAME.part (tests put a fault-injecting storage here).
    std::function<Result<std::shared_ptr<Storage>>(const std::filesystem::path&, std::uint64_t,
                                                   bool* created)>
        open_storage;
};

class Download {
  public:
    enum class Outcome {
        kComplete,            // NAME is there, verified
        kAlreadyComplete,     // NAME was there already, verified
        kInterrupted,         // stop() before the end; NAME.part kept
        kFailed,              // see message(); NAME.part kept
        kIntegrity,           // every chunk verified but the whole file does not match the seed
        kTrackerUnreachable,  // no tracker answered at start
        kUsage,               // bad input (not a directory, ...)
    };

    Download(Node& node, Trackers& trackers, DownloadOptions options, Logger log);

    // Runs to the end. Throws only for programming errors.
    net::awaitable<Outcome> run();
    // Interrupts run(): goodbye to peers, NAME.part kept.
    void stop();

    const std::string& message() const { return message_; }
    // Valid once run() has the seed.
    const Seed* seed() const { return swarm_ ? &swarm_->seed() : seed_ ? &*seed_ : nullptr; }
    std::shared_ptr<Swarm> swarm() const { return swarm_; }
    std::filesystem::path target() const;
    // Chunks that were already verified in NAME.part at the start.
    std::uint32_t resumed_chunks() const { return resumed_chunks_; }
    std::uint64_t resumed_bytes() const { return resumed_bytes_; }

  private:
    net::awaitable<Outcome> prepare();
    Outcome fail(Outcome o, std::string message);

    Node& node_;
    Trackers& trackers_;
    DownloadOptions options_;
    Logger log_;
    std::optional<Seed> seed_;
    std::vector<HostPort> tracker_list_;
    std::shared_ptr<Swarm> swarm_;
    std::string message_;
    std::uint32_t resumed_chunks_ = 0;
    std::uint64_t resumed_bytes_ = 0;
    bool stopped_ = false;
};

}  // namespace seedshare
