// The mesh's small files (channel_mesh.hpp): serving FileRequests from the
// Node's swarms, and fetch_files asking the peers that hold a version, whom
// to ask decided by SeedRequests (pure), as for seeds. A file of a few KiB
// costs one round trip on a connection already open, where a swarm of its
// own would dial, greet and announce (10,000 files: a swarm each took about
// 2 ms of CPU per file at both ends).
#include <fmt/format.h>

#include "common/crypto/sha256.hpp"
#include "common/net/offload.hpp"
#include "peer/channel/channel_mesh.hpp"
#include "peer/channel/channel_mesh_link.hpp"
#include "peer/swarm/swarm.hpp"

namespace seedshare {

namespace cp = channel_proto;

namespace {

// Files a peer may have asked for and not yet been answered (the asker
// keeps ChannelMeshOptions::seed_requests_per_link outstanding).
constexpr std::size_t kMaxQueuedFileRequests = 64;
// A file at most this large is checked on the I/O thread (cheaper than the
// hand-over to the pool); a larger one on the pool.
constexpr std::size_t kHashInline = 32u << 10;
// How often a fetch with a cancel flag looks at it.
constexpr std::chrono::milliseconds kCancelPoll{100};

// The file of `swarm`, read whole and checked against its seed (nullopt: not
// held here, too large, or not what the seed says: changed on disk).
std::optional<Bytes> read_checked(Storage& storage, std::uint64_t length, const Digest& hash) {
    Bytes content(length);
    if (!storage.read(0, content)) return std::nullopt;
    if (sha256(content) != hash) return std::nullopt;
    return content;
}

}  // namespace

// --- serving -----------------------------------------------------------------

void ChannelMesh::on_file_request(Link& link, const SeedId& id) {
    if (link.file_asks.size() >= kMaxQueuedFileRequests)
        throw net::ProtocolError(
            fmt::format("more than {} file requests outstanding", kMaxQueuedFileRequests));
    link.file_asks.push_back(id);
    link.wake.cancel();
}

// Runs in the link's write loop: requests are answered in order.
net::awaitable<void> ChannelMesh::serve_file(std::shared_ptr<Link> link) {
    const SeedId id = link->file_asks.front();
    link->file_asks.pop_front();
    std::optional<Bytes> content;
    const auto swarm = node_.find(id);
    if (swarm && swarm->seed().chunk_count() == 1 && swarm->have().test(ChunkIndex{0}) &&
        swarm->seed().length <= limits::kMaxMeshFileBytes) {
        auto storage = swarm->storage_ptr();
        const std::uint64_t length = swarm->seed().length;
        const Digest hash = swarm->seed().file_hash;
        auto job = [storage, length, hash] { return read_checked(*storage, length, hash); };
        content = co_await offload(node_.pool(), std::move(job));
    }
    if (link->gone) co_return;
    if (!content) {
        const Bytes frame = cp::encode(cp::FileUnknown{id});
        co_await link->stream->write(frame);
        co_return;
    }
    // The process's upload limit holds for these bytes as for a swarm's.
    if (const auto& limit = node_.shared_swarm_env()->upload_limit)
        co_await limit->acquire(content->size(), link->pace);
    if (link->gone) co_return;
    const auto total = static_cast<std::uint32_t>(content->size());
    const Bytes frame = cp::encode(cp::FilePart{id, total, 0, *content});
    co_await link->stream->write(frame);
    // Counted as the swarm's upload (the process's totals and --metrics),
    // under the peer's listening address when it has one, as a swarm does.
    swarm->count_upload(link->listen ? link->listen->str() : link->stream->remote(), total);
    ++stats_.files_served;
    stats_.file_bytes_served += total;
}

// --- fetching ----------------------------------------------------------------

void ChannelMesh::on_file_unknown(Link& link, const SeedId& id) {
    answered_file(link);
    if (!file_fetch_) return;
    if (file_fetch_->outstanding(link.key, id))
        file_fetch_->answered(link.key, id, SeedRequests::Answer::kUnknown);
    file_progress_.cancel();
    pump_files();
}

void ChannelMesh::answered_file(Link& link) {
    if (link.files_asked > 0) --link.files_asked;
}

net::awaitable<void> ChannelMesh::on_file_part(Link& link, const cp::FilePart& part) {
    if (!link.file_in) {
        // A new file: only one asked of this peer and still wanted is kept;
        // the last part of another (a fetch given up) counts as answered.
        const auto check = file_checks_.find(part.id);
        if (!file_fetch_ || !file_fetch_->outstanding(link.key, part.id) ||
            check == file_checks_.end()) {
            if (std::uint64_t{part.offset} + part.data.size() == part.total) {
                answered_file(link);
                pump_files();
            }
            co_return;  // late
        }
        if (part.total != check->second.length) {
            ++stats_.forged;
            log_.warn("channel peer {} sent {} bytes for a file of {} (seed {}); banned",
                      link.stream->remote(), part.total, check->second.length, part.id.hex());
            file_fetch_->answered(link.key, part.id, SeedRequests::Answer::kForged);
            ban(link, "sent a bad file");
            file_progress_.cancel();
            pump_files();
            co_return;
        }
        link.file_in = part.id;
        link.file_buffer.clear();
        link.file_buffer.reserve(part.total);  // at most kMaxMeshFileBytes (decoded so)
        link.file_total = part.total;
    } else if (part.id != *link.file_in) {
        throw net::ProtocolError("FilePart of another file before the last one was complete");
    } else if (part.total != link.file_total) {
        throw net::ProtocolError("FilePart: total changed mid-file");
    }
    if (part.offset != link.file_buffer.size())
        throw net::ProtocolError(fmt::format("FilePart at {} where {} was expected", part.offset,
                                             link.file_buffer.size()));
    link.file_buffer.insert(link.file_buffer.end(), part.data.begin(), part.data.end());
    if (link.file_buffer.size() < link.file_total) co_return;

    const SeedId id = *link.file_in;
    auto content = std::make_shared<Bytes>(std::move(link.file_buffer));
    link.file_buffer = Bytes();
    link.file_in.reset();
    answered_file(link);
    if (!file_fetch_ || !file_fetch_->outstanding(link.key, id)) {
        pump_files();  // it has room for more now
        co_return;
    }
    const Digest want = file_checks_.at(id).hash;
    Digest got;
    if (content->size() <= kHashInline) {
        got = sha256(*content);
    } else {
        auto job = [content] { return sha256(*content); };
        got = co_await offload(node_.pool(), std::move(job));
        if (link.gone || !file_fetch_ || !file_fetch_->outstanding(link.key, id)) co_return;
    }
    if (got != want) {
        ++stats_.forged;
        log_.warn("channel peer {} sent a file that is not seed {}'s; dropped and banned",
                  link.stream->remote(), id.hex());
        file_fetch_->answered(link.key, id, SeedRequests::Answer::kForged);
        ban(link, "sent a bad file");
    } else {
        ++stats_.files_fetched;
        stats_.file_bytes_fetched += content->size();
        file_fetch_->answered(link.key, id, SeedRequests::Answer::kReceived);
        files_got_.emplace(id, std::move(*content));
    }
    file_progress_.cancel();
    pump_files();
}

// Asks every peer that holds a version for what it may be asked now.
void ChannelMesh::pump_files() {
    if (!file_fetch_ || stopping_) return;
    for (const auto& [key, link] : std::map(links_)) {
        if (link->gone || link->closing) continue;
        const auto held = gossip_.version_of(key);
        if (!held || held->none()) continue;
        // Still answering an earlier fetch's requests: not asked (nor counted
        // as a peer that could be, so the fetch does not wait for it).
        if (link->files_asked >= options_.seed_requests_per_link) continue;
        file_fetch_->link_up(key);
        for (const auto& id : file_fetch_->assign(key)) {
            send(*link, cp::encode(cp::FileRequest{id}));
            if (link->gone || !file_fetch_) break;  // dropped: link_down gave its files back
            ++link->files_asked;
        }
    }
}

net::awaitable<std::map<SeedId, Bytes>> ChannelMesh::fetch_files(std::map<SeedId, FileCheck> wanted,
                                                                 std::chrono::milliseconds patience,
                                                                 const std::atomic<bool>* cancel) {
    const auto self = shared_from_this();
    std::erase_if(wanted, [](const auto& w) {
        return w.second.length == 0 || w.second.length > limits::kMaxMeshFileBytes;
    });
    if (file_fetch_ || stopping_ || wanted.empty() || (cancel && cancel->load()))
        co_return std::map<SeedId, Bytes>{};
    std::vector<SeedId> ids;
    ids.reserve(wanted.size());
    for (const auto& [id, check] : wanted)
        ids.push_back(id);
    file_fetch_ = std::make_unique<SeedRequests>(ids, options_.seed_requests_per_link);
    file_checks_ = std::move(wanted);
    files_got_.clear();
    pump_files();
    auto last_progress = net::Clock::now();
    std::size_t answered = 0;
    while (!stopping_ && !file_fetch_->finished() && !(cancel && cancel->load())) {
        asio::error_code ec;
        const auto deadline = last_progress + patience;
        // (A cancel is looked at every kCancelPoll.)
        file_progress_.expires_at(cancel ? std::min(deadline, net::Clock::now() + kCancelPoll)
                                         : deadline);
        co_await file_progress_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!ec && net::Clock::now() >= deadline) break;  // nothing for `patience`
        if (files_got_.size() != answered) {
            answered = files_got_.size();
            last_progress = net::Clock::now();
        }
    }
    auto got = std::move(files_got_);
    files_got_.clear();
    file_checks_.clear();
    file_fetch_.reset();
    co_return got;
}

}  // namespace seedshare
