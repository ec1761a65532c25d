// One `get`: from a seed (or a seed id the trackers know) to a verified file
// DIR/NAME, through DIR/NAME.part (see part_file.hpp: locked, so one process
// at a time; resumed only when it is ours for this seed). Never replaces a
// different NAME unless told to, and checks what can be checked (the target,
// the .part) before asking anyone for a byte; finishes locally when nothing
// needs fetching. Registers with the trackers as a partial holder after the
// first verified chunk and as a complete one at the end, and serves what it
// has verified meanwhile (through the Node). A .part that holds nothing
// verified is not left behind.
//
// The command (cmd_get.cpp) adds the terminal: progress, summary, exit codes.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/log.hpp"
#include "common/env/env.hpp"
#include "common/model/seed.hpp"
#include "common/net/net.hpp"
#include "peer/discovery/trackers.hpp"
#include "peer/node/node.hpp"
#include "peer/storage/part_file.hpp"
#include "peer/storage/storage.hpp"
#include "peer/swarm/swarm.hpp"
#include "peer/transfer/file_transfer.hpp"

namespace seedshare {

struct DownloadOptions {
    std::optional<Seed> seed;       // the seed, or:
    std::optional<SeedId> seed_id;  // an id to fetch from the trackers
    std::filesystem::path out_dir = ".";
    std::vector<HostPort> trackers;  // empty: the seed's own
    bool force = false;              // replace an existing different file (and take over a
                                     // NAME.part that is not ours)
    // Peers to start from (--peer), whatever the trackers say: with them (or
    // holders in the address book) a get goes on with every tracker down.
    std::vector<PeerAddress> peers;
    // Register as a holder when the file was complete already (to serve it).
    bool announce_complete = true;
    // Wraps the storage of DIR/NAME.part (tests put a fault-injecting one here).
    std::function<std::shared_ptr<Storage>(std::shared_ptr<Storage>)> wrap_storage;
    // The file system for everything but the file's bytes: the checks of
    // DIR and NAME, and NAME.part's open, rename and removal (tests put a
    // FaultyEnv here). Must outlive the Download.
    Env* env = &Env::posix();
    // Called once the seed is known, before anything is checked or written:
    // a message refuses the download (kFailed). `peer get` of several seeds
    // refuses a second one naming the same file.
    std::function<std::optional<std::string>(const Seed&)> claim;
};

class Download {
  public:
    enum class Outcome {
        kComplete,            // NAME is there, verified
        kAlreadyComplete,     // NAME was there already, verified
        kInterrupted,         // stop() before the end; NAME.part kept
        kFailed,              // see message(); NAME.part kept
        kIntegrity,           // every chunk verified but the whole file does not match the seed
        kTrackerUnreachable,  // no tracker answered at start, and no peer is known
        kUsage,               // bad input (not a directory, ...)
        kTimedOut,            // time_out() before the end; NAME.part kept if it holds anything
    };

    Download(Node& node, Trackers& trackers, DownloadOptions options, Logger log);

    // Runs to the end (at once, when stop() or time_out() came first).
    // Throws only for programming errors.
    net::awaitable<Outcome> run();
    // Interrupts run(): goodbye to peers, NAME.part kept.
    void stop();
    // The same, for a time limit: run() returns kTimedOut.
    void time_out();

    const std::string& message() const { return message_; }
    // Valid once run() has the seed.
    const Seed* seed() const { return transfer_ ? &transfer_->seed() : seed_ ? &*seed_ : nullptr; }
    // The swarm, once the transfer has started.
    std::shared_ptr<Swarm> swarm() const {
        return transfer_ && transfer_->started() ? transfer_->swarm() : nullptr;
    }
    std::filesystem::path target() const;
    // Chunks that were already verified in NAME.part at the start.
    std::uint32_t resumed_chunks() const { return resumed_chunks_; }
    std::uint64_t resumed_bytes() const { return resumed_bytes_; }
    // Every chunk was verified, but the file could not be put in place (see
    // message()): nothing is left to fetch.
    bool finish_failed() const { return finish_failed_; }

  private:
    net::awaitable<Outcome> obtain_seed();
    net::awaitable<Outcome> connect_trackers();
    net::awaitable<Outcome> fetch();
    net::awaitable<void> say_while_waiting(std::weak_ptr<Swarm> swarm);
    void serve_complete(const std::filesystem::path& target);
    Outcome fail(Outcome o, std::string message);
    Outcome stopped_outcome();

    Node& node_;
    Trackers& trackers_;
    DownloadOptions options_;
    Logger log_;
    std::optional<Seed> seed_;
    std::vector<HostPort> tracker_list_;
    std::unique_ptr<FileTransfer> transfer_;  // the file's part in its swarm, once there is one
    std::string message_;
    std::uint32_t resumed_chunks_ = 0;
    std::uint64_t resumed_bytes_ = 0;
    bool trackers_connected_ = false;
    bool stopped_ = false;
    // Set by stop(): long local checks (hashing NAME, verifying NAME.part) end early.
    std::shared_ptr<std::atomic<bool>> cancel_ = std::make_shared<std::atomic<bool>>(false);
    bool timed_out_ = false;
    bool finish_failed_ = false;
};

}  // namespace seedshare
