// The mesh's seed exchange (channel_mesh.hpp): serving SeedRequests from the
// owner's SeedSource, and fetch_seeds asking the peers that hold a version,
// whom to ask decided by SeedRequests (pure).
#include <fmt/format.h>

#include "common/net/offload.hpp"
#include "peer/channel/channel_mesh.hpp"
#include "peer/channel/channel_mesh_link.hpp"

namespace seedshare {

namespace cp = channel_proto;

namespace {

// Seeds a peer may have asked for and not yet been answered: the requester
// keeps at most ChannelMeshOptions::seed_requests_per_link (16) outstanding.
constexpr std::size_t kMaxQueuedSeedRequests = 64;

// Parses a received seed text and checks it is the seed asked for.
std::optional<Seed> check_seed(const std::string& text, const SeedId& id) {
    auto parsed = parse_seed(text);
    if (!parsed || parsed->id() != id) return std::nullopt;
    return std::move(*parsed);
}

}  // namespace

void ChannelMesh::ban(Link& link, std::string_view what) {
    if (link.listen) candidates_.ban(*link.listen);
    banned_users_.insert(link.user);
    send(link, cp::encode(cp::ErrorMsg{cp::ErrorCode::kBanned, std::string(what)}));
    link.closing = true;
    link.wake.cancel();
}

// --- serving -----------------------------------------------------------------

void ChannelMesh::on_seed_request(Link& link, const SeedId& id) {
    if (link.seed_asks.size() >= kMaxQueuedSeedRequests)
        throw net::ProtocolError(
            fmt::format("more than {} seed requests outstanding", kMaxQueuedSeedRequests));
    link.seed_asks.push_back(id);
    link.wake.cancel();
}

// Runs in the link's write loop, so the parts of one seed go out together and
// requests are answered in order.
net::awaitable<void> ChannelMesh::serve_seed(std::shared_ptr<Link> link) {
    const SeedId id = link->seed_asks.front();
    link->seed_asks.pop_front();
    std::optional<std::string> text;
    if (seed_source_) {
        auto source = seed_source_;  // the callback may outlive a reassignment
        text = co_await source(id);
    }
    if (link->gone) co_return;
    if (!text || text->empty() || text->size() > limits::kMaxSeedBytes) {
        const Bytes frame = cp::encode(cp::SeedUnknown{id});
        co_await link->stream->write(frame);
        co_return;
    }
    const auto total = static_cast<std::uint32_t>(text->size());
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(text->data());
    for (std::uint32_t off = 0; off < total && !link->gone;) {
        const auto n = std::min<std::uint32_t>(limits::kMaxManifestPartBytes, total - off);
        const Bytes frame = cp::encode(cp::SeedPart{id, total, off, ByteSpan(bytes + off, n)});
        co_await link->stream->write(frame);
        off += n;
    }
    ++stats_.seeds_served;
}

// --- fetching ----------------------------------------------------------------

void ChannelMesh::on_seed_unknown(Link& link, const SeedId& id) {
    if (!seed_fetch_ || !seed_fetch_->outstanding(link.key, id)) return;  // late
    seed_fetch_->answered(link.key, id, SeedRequests::Answer::kUnknown);
    seed_progress_.cancel();
    pump_seeds();
}

net::awaitable<void> ChannelMesh::on_seed_part(Link& link, const cp::SeedPart& part) {
    if (!link.seed_in) {
        // A new seed: only one asked of this peer and still wanted.
        if (!seed_fetch_ || !seed_fetch_->outstanding(link.key, part.id)) co_return;  // late
        link.seed_in = part.id;
        link.seed_buffer.clear();
        link.seed_total = part.total;
    } else if (part.id != *link.seed_in) {
        throw net::ProtocolError("SeedPart of another seed before the last one was complete");
    } else if (part.total != link.seed_total) {
        throw net::ProtocolError("SeedPart: total changed mid-seed");
    }
    if (part.offset != link.seed_buffer.size())
        throw net::ProtocolError(fmt::format("SeedPart at {} where {} was expected", part.offset,
                                             link.seed_buffer.size()));
    link.seed_buffer.append(reinterpret_cast<const char*>(part.data.data()), part.data.size());
    if (link.seed_buffer.size() < link.seed_total) co_return;

    const SeedId id = *link.seed_in;
    auto text = std::make_shared<const std::string>(std::move(link.seed_buffer));
    link.seed_buffer = std::string();
    link.seed_in.reset();
    auto job = [text, id] { return check_seed(*text, id); };
    auto seed = co_await offload(node_.pool(), std::move(job));
    if (link.gone || !seed_fetch_ || !seed_fetch_->outstanding(link.key, id)) co_return;
    if (!seed) {
        ++stats_.forged;
        log_.warn("channel peer {} sent a seed that is not seed {}; dropped and banned",
                  link.stream->remote(), id.hex());
        seed_fetch_->answered(link.key, id, SeedRequests::Answer::kForged);
        ban(link, "sent a bad seed");
    } else {
        ++stats_.seeds_fetched;
        seed_fetch_->answered(link.key, id, SeedRequests::Answer::kReceived);
        seeds_got_.emplace(id, std::move(*seed));
    }
    seed_progress_.cancel();
    pump_seeds();
}

// Asks every peer that holds a version for what it may be asked now.
void ChannelMesh::pump_seeds() {
    if (!seed_fetch_ || stopping_) return;
    // Over a copy: send() drops a link that does not read (erasing it from
    // links_), and the link's own coroutines keep it alive meanwhile.
    for (const auto& [key, link] : std::map(links_)) {
        if (link->gone || link->closing) continue;
        const auto held = gossip_.version_of(key);
        if (!held || held->none()) continue;
        seed_fetch_->link_up(key);
        for (const auto& id : seed_fetch_->assign(key)) {
            send(*link, cp::encode(cp::SeedRequest{id}));
            if (link->gone || !seed_fetch_) break;  // dropped: link_down gave its seeds back
        }
    }
}

net::awaitable<std::map<SeedId, Seed>> ChannelMesh::fetch_seeds(
    std::vector<SeedId> ids, std::chrono::milliseconds patience) {
    const auto self = shared_from_this();
    if (seed_fetch_ || stopping_ || ids.empty()) co_return std::map<SeedId, Seed>{};
    seed_fetch_ = std::make_unique<SeedRequests>(ids, options_.seed_requests_per_link);
    seeds_got_.clear();
    pump_seeds();
    auto last_progress = net::Clock::now();
    std::size_t answered = 0;
    while (!stopping_ && !seed_fetch_->finished()) {
        asio::error_code ec;
        seed_progress_.expires_at(last_progress + patience);
        co_await seed_progress_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (!ec) break;  // nothing for `patience`
        if (seeds_got_.size() != answered) {
            answered = seeds_got_.size();
            last_progress = net::Clock::now();
        }
    }
    auto got = std::move(seeds_got_);
    seeds_got_.clear();
    seed_fetch_.reset();
    co_return got;
}

}  // namespace seedshare
