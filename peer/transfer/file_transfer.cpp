#include "peer/transfer/file_transfer.hpp"

#include "common/net/offload.hpp"

namespace seedshare {

namespace fs = std::filesystem;

namespace {

// Detached from the FileTransfer: only what it was given by value (and the
// Trackers, which outlive every transfer of the process).
net::awaitable<void> connect_and_hold(Trackers& trackers, Seed seed, std::vector<HostPort> where,
                                      Logger log) {
    // Unreachable trackers keep being retried in the background.
    const auto unreachable = co_await trackers.connect(where);
    for (const auto& u : unreachable)
        log.warn("cannot reach {} (retrying in the background)", u);
    trackers.hold(seed, where, true);
}

}  // namespace

FileTransfer::FileTransfer(Node& node, Trackers& trackers, std::vector<HostPort> where,
                           std::shared_ptr<Swarm> swarm, std::optional<PartFile> part, Logger log)
    : node_(node),
      trackers_(trackers),
      where_(std::move(where)),
      swarm_(std::move(swarm)),
      part_(std::move(part)),
      log_(std::move(log)) {}

FileTransfer::~FileTransfer() = default;

std::unique_ptr<FileTransfer> FileTransfer::share(Node& node, Trackers& trackers,
                                                  std::vector<HostPort> where, const Seed& seed,
                                                  std::shared_ptr<Storage> storage, Logger log) {
    auto swarm = std::make_shared<Swarm>(node.shared_swarm_env(), seed, std::move(storage),
                                         Bitfield(seed.chunk_count(), true), node.swarm_options());
    return std::unique_ptr<FileTransfer>(new FileTransfer(
        node, trackers, std::move(where), std::move(swarm), std::nullopt, std::move(log)));
}

std::unique_ptr<FileTransfer> FileTransfer::fetch(Node& node, Trackers& trackers,
                                                  std::vector<HostPort> where, const Seed& seed,
                                                  PartFile part, std::shared_ptr<Storage> storage,
                                                  Bitfield have, Logger log,
                                                  std::optional<SwarmOptions> options) {
    auto swarm = std::make_shared<Swarm>(node.shared_swarm_env(), seed, std::move(storage),
                                         std::move(have), options.value_or(node.swarm_options()));
    return std::unique_ptr<FileTransfer>(new FileTransfer(
        node, trackers, std::move(where), std::move(swarm), std::move(part), std::move(log)));
}

void FileTransfer::start(bool announce) {
    announcing_ = announce;
    started_ = true;
    if (announce) {
        Trackers& trackers = trackers_;
        const auto where = where_;
        const Seed& kept = swarm_->seed();
        if (part_) {
            const SeedId id = swarm_->id();
            swarm_->find_peers = [&trackers, id, where](std::uint16_t numwant) {
                return trackers.find_peers(id, where, numwant);
            };
            swarm_->is_backup = [&trackers](const PeerAddress& a) { return trackers.is_backup(a); };
            // "complete" is said by finish(), once the file is in place.
            swarm_->on_holding = [&trackers, &kept, where](bool complete) {
                if (!complete) trackers.hold(kept, where, false);
            };
            if (swarm_->have().count() > 0) trackers.hold(kept, where, swarm_->have().all());
        } else {
            trackers.hold(kept, where, true);
        }
    }
    node_.add(swarm_);
    swarm_->start();
}

net::awaitable<void> FileTransfer::wait_done() {
    const auto swarm = swarm_;
    co_await swarm->wait_done();
}

net::awaitable<std::optional<PartFile::Failure>> FileTransfer::finish(
    fs::path target, std::optional<FileIdentity> replace) {
    PartFile* part = &*part_;
    auto put_in_place = [part, target, replace] { return part->finish(target, replace); };
    auto failure = co_await offload(node_.pool(), std::move(put_in_place));
    if (failure) co_return failure;
    if (announcing_) trackers_.hold(swarm_->seed(), where_, true);
    co_return std::nullopt;
}

net::awaitable<bool> FileTransfer::discard_if_empty() {
    if (!part_ || part_->found() != PartFile::Found::kCreated || swarm_->verified_bytes() != 0)
        co_return false;
    PartFile* part = &*part_;
    auto discard = [part] { part->discard(); };
    co_await offload(node_.pool(), std::move(discard));
    co_return true;
}

void FileTransfer::announce_complete() {
    net::spawn(node_.swarm_env().ex, connect_and_hold(trackers_, swarm_->seed(), where_, log_),
               log_, "announcing");
}

void FileTransfer::stop(std::chrono::milliseconds grace) {
    net::spawn(node_.swarm_env().ex, swarm_->stop(grace), log_, "stopping");
}

net::awaitable<void> FileTransfer::leave(std::chrono::milliseconds grace) {
    const SeedId id = swarm_->id();
    trackers_.drop(id, where_);
    co_await node_.remove(id, grace);
}

}  // namespace seedshare
