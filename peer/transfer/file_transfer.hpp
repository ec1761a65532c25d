// One file's part in its swarm, whoever asked for it (`get`, `serve`, tests;
// next channels and the backup peer): the seed, where the bytes live (a
// complete file served read-only, or a PartFile being filled), the chunks
// held, the Swarm registered in the Node, what the trackers are told
// (partial after the first verified chunk, complete once the file is in
// place), and the finishing step (PartFile::finish, on the pool).
//
// Made by a named constructor, then start()ed. What to check before (is the
// target there, is NAME.part ours), what to say and when to give up stay with
// the caller (Download, Sharer). The FileTransfer does not connect trackers
// by itself at start: the caller connects those it wants told (and decides
// what an unreachable one means); announce_complete() connects in the
// background for a file that turned out complete without them.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/log.hpp"
#include "common/model/bitfield.hpp"
#include "common/model/seed.hpp"
#include "common/net/net.hpp"
#include "peer/discovery/trackers.hpp"
#include "peer/node/node.hpp"
#include "peer/storage/part_file.hpp"
#include "peer/storage/storage.hpp"
#include "peer/swarm/swarm.hpp"

namespace seedshare {

class FileTransfer {
  public:
    // A complete file, served read-only from `storage` (every chunk held).
    static std::unique_ptr<FileTransfer> share(Node& node, Trackers& trackers,
                                               std::vector<HostPort> where, const Seed& seed,
                                               std::shared_ptr<Storage> storage, Logger log);
    // A download into `part` (opened for `seed`, its lock held as long as this
    // lives): `storage` holds its bytes (part.storage(), possibly wrapped),
    // `have` the chunks already verified in it. `options`: the swarm's, if
    // not the Node's (a caller running several fetches at once divides the
    // fetch budget among them).
    static std::unique_ptr<FileTransfer> fetch(Node& node, Trackers& trackers,
                                               std::vector<HostPort> where, const Seed& seed,
                                               PartFile part, std::shared_ptr<Storage> storage,
                                               Bitfield have, Logger log,
                                               std::optional<SwarmOptions> options = std::nullopt);

    FileTransfer(const FileTransfer&) = delete;
    FileTransfer& operator=(const FileTransfer&) = delete;
    ~FileTransfer();

    // Takes part: the Swarm is registered in the Node and started. With
    // `announce`, the trackers of `where` (connected by the caller) are told
    // what is held now, and a fetch asks them for peers and tells them
    // "partial" after its first verified chunk. Without it they are not used
    // (a fetch that holds every chunk only checks the whole file).
    void start(bool announce = true);
    bool started() const { return started_; }

    const Seed& seed() const { return swarm_->seed(); }
    const SeedId& id() const { return swarm_->id(); }
    const std::vector<HostPort>& trackers() const { return where_; }
    // The swarm (its progress, peers, failure); registered in the Node once started.
    const std::shared_ptr<Swarm>& swarm() const { return swarm_; }
    // The chunks held (verified).
    const Bitfield& have() const { return swarm_->have(); }
    bool complete() const { return swarm_->complete(); }
    // A fetch: the NAME.part being filled; nullptr for a shared file.
    const PartFile* part() const { return part_ ? &*part_ : nullptr; }

    // A fetch: until the swarm is done (complete, failed, or stopped).
    net::awaitable<void> wait_done();
    // A complete fetch: NAME.part put in place as `target` (PartFile::finish,
    // on the pool; `replace` is the existing file it may replace), then the
    // trackers told "complete" if it was started announcing.
    net::awaitable<std::optional<PartFile::Failure>> finish(std::filesystem::path target,
                                                            std::optional<FileIdentity> replace);
    // A fetch that did not complete: removes NAME.part when this run made it
    // and nothing in it was verified (a .part found at the start is never
    // removed: its chunks may only have been unreadable for now). Whether it
    // removed it.
    net::awaitable<bool> discard_if_empty();

    // In the background: connects the trackers of `where` not yet connected
    // (unreachable ones are said and keep being retried), then tells them the
    // whole file is held. For a transfer started without announcing.
    void announce_complete();
    // Stops the swarm (goodbye to peers, uploads in flight get `grace`), in
    // the background; it stays in the Node.
    void stop(std::chrono::milliseconds grace);
    // Leaves the swarm for good: the trackers told to forget the file, the
    // swarm removed from the Node (goodbye, `grace` for uploads in flight).
    net::awaitable<void> leave(std::chrono::milliseconds grace);

  private:
    FileTransfer(Node& node, Trackers& trackers, std::vector<HostPort> where,
                 std::shared_ptr<Swarm> swarm, std::optional<PartFile> part, Logger log);

    Node& node_;
    Trackers& trackers_;
    std::vector<HostPort> where_;
    std::shared_ptr<Swarm> swarm_;
    std::optional<PartFile> part_;
    Logger log_;
    bool started_ = false;
    bool announcing_ = false;
};

}  // namespace seedshare
