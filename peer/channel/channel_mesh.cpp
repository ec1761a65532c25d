#include "peer/channel/channel_mesh.hpp"

#include "peer/channel/channel_mesh_link.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "peer/discovery/address_book_file.hpp"

namespace seedshare {

namespace cp = channel_proto;
using Outcome = VersionGossip::FetchOutcome;

namespace {

// Manifests a peer may have asked for and not yet received.
constexpr std::size_t kMaxPendingRequests = 2;
// Small frames waiting to be sent to one peer: past this it is not reading
// (or asks faster than it reads) and is dropped.
constexpr std::size_t kMaxQueuedFrames = 64;
// PeerList messages taken from one connection (one comes at the handshake;
// more is gossip we do not need to take without bound).
constexpr std::size_t kMaxPeerListsPerLink = 2;
// Whole manifests sent on one connection: a peer asks once per version it
// lacks; one that asks again and again is only costing us upload.
constexpr std::size_t kMaxManifestsPerLink = 16;
// Addresses passed on in one PeerList when a connection comes up.
constexpr std::size_t kPeersPassedOn = 50;

// A free function, not a lambda: its parameters live in the coroutine frame.
net::awaitable<void> refuse_then_close(std::shared_ptr<net::FrameStream> stream, Bytes frame) {
    co_await net::write_then_close(*stream, frame, std::chrono::seconds(5));
}

}  // namespace

std::shared_ptr<ChannelMesh> ChannelMesh::create(Node& node, const ChannelId& channel,
                                                 Verify verify, ChannelMeshOptions options,
                                                 Logger log) {
    return std::shared_ptr<ChannelMesh>(
        new ChannelMesh(node, channel, std::move(verify), options, std::move(log)));
}

ChannelMesh::ChannelMesh(Node& node, const ChannelId& channel, Verify verify,
                         ChannelMeshOptions options, Logger log)
    : node_(node),
      clock_(&node.clock()),
      channel_(channel),
      verify_(std::move(verify)),
      options_(options),
      log_(std::move(log)),
      candidates_(PeerList::kDefaultMaxSize),
      tick_(node.swarm_env().ex),
      quiet_(node.swarm_env().ex),
      seed_progress_(node.swarm_env().ex),
      file_progress_(node.swarm_env().ex) {}

ChannelMesh::~ChannelMesh() = default;

void ChannelMesh::start() {
    if (started_) return;
    started_ = true;
    node_.add_channel(channel_, shared_from_this());
    // Peers that followed the channel before (the address book): a start
    // that needs no tracker.
    if (const auto& book = node_.book()) {
        const auto known =
            book->holders(AddressBook::key(channel_), address_book_now(), limits::kPexMaxAdded);
        if (!known.empty()) add_candidates(known, PeerList::Source::kAddressBook);
    }
    net::spawn(tick_.get_executor(), tick_loop(), log_, "channel mesh");
}

void ChannelMesh::add_candidates(const std::vector<PeerAddress>& peers, PeerList::Source source,
                                 const std::optional<PeerAddress>& origin) {
    bool added = false;
    const auto& book = node_.book();
    for (const auto& p : peers) {
        added = candidates_.add(p, source, origin) || added;
        if (source == PeerList::Source::kTracker && book)
            book->learn(AddressBook::key(channel_), p, address_book_now());
    }
    if (added) tick_.cancel();  // dial now
}

void ChannelMesh::hold(VersionRef version, std::shared_ptr<const std::string> text) {
    if (!gossip_.hold(version)) return;
    held_text_ = std::move(text);
    pump();
}

std::vector<VersionRef> ChannelMesh::peer_versions() const {
    std::vector<VersionRef> out;
    for (const auto& [key, link] : links_)
        if (auto v = gossip_.version_of(key)) out.push_back(*v);
    return out;
}

std::vector<PeerAddress> ChannelMesh::holders(const VersionRef& version) const {
    std::vector<PeerAddress> out;
    for (const auto& [key, link] : links_) {
        const auto v = gossip_.version_of(key);
        if (link->listen && !link->gone && v && *v == version) out.push_back(*link->listen);
    }
    return out;
}

cp::ChannelHello ChannelMesh::my_hello() const {
    const auto env = node_.swarm_env();
    return cp::ChannelHello{cp::kVersion, channel_, env.user, env.listen_port, gossip_.held()};
}

// --- dialling ----------------------------------------------------------------

net::awaitable<void> ChannelMesh::tick_loop() {
    const auto self = shared_from_this();
    while (!stopping_) {
        check_fetch_progress();
        const std::size_t up = links_.size() + dialling_;
        if (up < options_.target_peers) {
            for (const auto& where :
                 candidates_.take_candidates(options_.target_peers - up, clock_->now())) {
                ++dialling_;
                net::spawn(tick_.get_executor(), dial(where), log_, "channel dial");
            }
        }
        asio::error_code ec;
        tick_.expires_after(options_.tick);
        co_await tick_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

net::awaitable<void> ChannelMesh::dial(PeerAddress where) {
    const auto self = shared_from_this();
    struct Done {
        ChannelMesh* mesh;
        ~Done() { --mesh->dialling_; }
    } done{this};
    // The candidates' backoff runs on the node's clock (as a swarm's).
    // (clock_, not node_: a dial may end after the Node is gone.)
    const auto now = [clock = clock_] { return clock->now(); };
    try {
        // Named first: an aggregate built inside a co_await is destroyed twice (GCC 12).
        const HostPort target{where.address.to_string(), where.port};
        auto socket = co_await net::connect(target, options_.connect_timeout);
        auto stream = std::make_shared<net::FrameStream>(
            std::move(socket), limits::kMaxPeerFrameBytes,
            net::FrameStream::Timeouts{options_.handshake_timeout, options_.handshake_timeout,
                                       options_.handshake_timeout});
        net::spawn(stream->get_executor(), stream->watchdog(), Logger("peer", LogLevel::kOff),
                   "watchdog");
        const auto greeting = my_hello();
        const Bytes hello = cp::encode(greeting);
        co_await stream->write(hello);
        const auto h = co_await stream->read_header();
        if (auto fits = cp::check_header(h); !fits) throw net::ProtocolError(fits.error().message);
        const auto payload = co_await stream->read_payload(h);
        auto m = cp::decode(h.type, payload);
        if (!m) throw net::ProtocolError(m.error().message);
        if (const auto* err = std::get_if<cp::ErrorMsg>(&*m)) {
            stream->close();
            log_.debug("channel peer {} refused: {}", endpoint_text(where.address, where.port),
                       err->message);
            if (err->code == cp::ErrorCode::kSelf)
                candidates_.connect_reached_self(where);
            else if (err->code == cp::ErrorCode::kDuplicate)
                candidates_.connect_duplicate(where, now());
            else
                candidates_.connect_failed(where, now());
            co_return;
        }
        const auto* theirs = std::get_if<cp::ChannelHello>(&*m);
        if (theirs == nullptr) throw net::ProtocolError("expected ChannelHello in answer");
        if (theirs->version != cp::kVersion) {
            stream->close();
            log_.warn("channel peer {} speaks channel protocol version {}, this peer {}",
                      endpoint_text(where.address, where.port), theirs->version, cp::kVersion);
            candidates_.connect_failed(where, now());
            co_return;
        }
        if (theirs->user == node_.user()) {
            stream->close();
            candidates_.connect_reached_self(where);
            co_return;
        }
        const bool duplicate = std::any_of(links_.begin(), links_.end(), [&](const auto& kv) {
            return kv.second->user == theirs->user;
        });
        if (theirs->channel != channel_ || duplicate || stopping_ || node_.refuses(theirs->user)) {
            stream->close();
            if (duplicate)
                candidates_.connect_duplicate(where, now());
            else
                candidates_.connect_refused(where);
            co_return;
        }
        candidates_.connect_succeeded(where);
        add_link(std::move(stream), *theirs, where, false, greeting.held);
    } catch (const std::exception& e) {
        log_.debug("channel dial {} failed: {}", endpoint_text(where.address, where.port),
                   e.what());
        candidates_.connect_failed(where, now());
    }
}

// --- connections -------------------------------------------------------------

void ChannelMesh::accept(std::shared_ptr<net::FrameStream> stream, const cp::ChannelHello& hello) {
    const auto refuse = [&](cp::ErrorCode code, std::string why) {
        log_.debug("refused channel peer {}: {}", stream->remote(), why);
        net::spawn(stream->get_executor(),
                   refuse_then_close(stream, cp::encode(cp::ErrorMsg{code, std::move(why)})), log_,
                   "refusal");
    };
    if (stopping_ || links_.size() >= options_.max_peers) {
        refuse(cp::ErrorCode::kBusy, "too many channel connections");
        return;
    }
    const bool duplicate = std::any_of(links_.begin(), links_.end(), [&](const auto& kv) {
        return kv.second->user == hello.user;
    });
    if (duplicate) {
        refuse(cp::ErrorCode::kDuplicate, "already connected for this channel");
        return;
    }
    std::optional<PeerAddress> listen;
    asio::error_code ec;
    const auto remote = stream->socket().remote_endpoint(ec);
    const auto address = ec ? asio::ip::address() : net::normalize(remote.address());
    if (banned_users_.contains(hello.user)) {
        refuse(cp::ErrorCode::kBanned, "sent a bad manifest before");
        return;
    }
    if (node_.refuses(hello.user)) {
        refuse(cp::ErrorCode::kBanned, "this peer does not talk to you");
        return;
    }
    if (!ec && hello.listen_port != 0) {
        listen = PeerAddress{address, hello.listen_port};
        if (const auto* e = candidates_.find(*listen); e && e->state == PeerList::State::kBanned) {
            refuse(cp::ErrorCode::kBanned, "sent a bad manifest before");
            return;
        }
        candidates_.connected(*listen, PeerList::Source::kIncoming);
    }
    add_link(std::move(stream), hello, listen, true, gossip_.held());
}

void ChannelMesh::add_link(std::shared_ptr<net::FrameStream> stream, const cp::ChannelHello& hello,
                           std::optional<PeerAddress> listen, bool greet_back, VersionRef greeted) {
    stream->set_timeouts(net::FrameStream::Timeouts{
        options_.idle_timeout, options_.handshake_timeout, options_.handshake_timeout});
    auto link = std::make_shared<Link>(next_key_++, std::move(stream), tick_.get_executor());
    link->user = hello.user;
    link->listen = listen;
    if (greet_back) link->out.push_back(cp::encode(my_hello()));
    // Peer exchange: the others we completed a handshake with.
    cp::PeerList others;
    for (const auto& [key, l] : links_)
        if (l->listen && others.peers.size() < kPeersPassedOn) others.peers.push_back(*l->listen);
    if (!others.peers.empty()) link->out.push_back(cp::encode(others));
    links_[link->key] = link;
    if (const auto& book = node_.book(); book && listen)
        book->learn(AddressBook::key(channel_), *listen, address_book_now());
    gossip_.peer_joined(link->key, hello.held, greeted);
    log_.debug("channel peer {} connected (holds version {})", link->stream->remote(),
               hello.held.number);
    net::spawn(tick_.get_executor(), read_loop(link), log_, "channel reader");
    net::spawn(tick_.get_executor(), write_loop(link), log_, "channel writer");
    pump();
    pump_seeds();
    pump_files();
}

void ChannelMesh::send(Link& link, Bytes frame) {
    if (link.gone || link.closing) return;
    if (link.out.size() >= kMaxQueuedFrames) {
        log_.warn("channel peer {} does not read what it asks for; dropped", link.stream->remote());
        drop(link);
        return;
    }
    link.out.push_back(std::move(frame));
    link.wake.cancel();
}

void ChannelMesh::drop(Link& link) {
    if (link.gone) return;
    link.gone = true;
    link.stream->close();
    link.wake.cancel();
    link.pace.cancel();
    const auto key = link.key;
    if (link.listen) candidates_.disconnected(*link.listen, link.closing, clock_->now());
    gossip_.peer_left(key);
    if (seed_fetch_) seed_fetch_->link_down(key);
    if (file_fetch_) file_fetch_->link_down(key);
    seed_progress_.cancel();
    file_progress_.cancel();
    links_.erase(key);  // `link` stays alive in its coroutines
    quiet_.cancel();
    if (stopping_) return;
    pump();
    // What it was asked goes to the others now, not after a fetch's patience.
    pump_seeds();
    pump_files();
}

net::awaitable<void> ChannelMesh::read_loop(std::shared_ptr<Link> link) {
    const auto self = shared_from_this();
    try {
        while (!link->gone) {
            const auto h = co_await link->stream->read_header();
            if (auto fits = cp::check_header(h); !fits)
                throw net::ProtocolError(fits.error().message);
            const auto payload = co_await link->stream->read_payload(h);
            auto m = cp::decode(h.type, payload);
            if (!m) throw net::ProtocolError(m.error().message);
            if (link->gone) break;
            if (const auto* a = std::get_if<cp::Announce>(&*m)) {
                gossip_.peer_announced(link->key, a->held);
                pump();
                pump_seeds();
                pump_files();
            } else if (const auto* fr = std::get_if<cp::FileRequest>(&*m)) {
                on_file_request(*link, fr->id);
            } else if (const auto* fp = std::get_if<cp::FilePart>(&*m)) {
                co_await on_file_part(*link, *fp);
            } else if (const auto* fu = std::get_if<cp::FileUnknown>(&*m)) {
                on_file_unknown(*link, fu->id);
            } else if (const auto* sr = std::get_if<cp::SeedRequest>(&*m)) {
                on_seed_request(*link, sr->id);
            } else if (const auto* sp = std::get_if<cp::SeedPart>(&*m)) {
                co_await on_seed_part(*link, *sp);
            } else if (const auto* su = std::get_if<cp::SeedUnknown>(&*m)) {
                on_seed_unknown(*link, su->id);
            } else if (const auto* r = std::get_if<cp::ManifestRequest>(&*m)) {
                on_request(*link, r->want);
            } else if (const auto* p = std::get_if<cp::ManifestPart>(&*m)) {
                co_await on_part(*link, *p);
            } else if (const auto* l = std::get_if<cp::PeerList>(&*m)) {
                // What a peer says is untrusted: at most one message's worth
                // (kMaxPeerListEntries), and the list dials each at most once
                // at a time, paced by the tick.
                if (++link->peer_lists > kMaxPeerListsPerLink) continue;
                std::vector<PeerAddress> heard;
                for (const auto& p : l->peers)
                    heard.push_back(PeerAddress{net::normalize(p.address), p.port});
                // (Peers that accept no connections share one source's cap.)
                const PeerAddress origin =
                    link->listen ? *link->listen : PeerAddress{asio::ip::address_v4::any(), 0};
                add_candidates(heard, PeerList::Source::kPeerExchange, origin);
            } else if (std::holds_alternative<cp::Goodbye>(*m)) {
                link->closing = true;  // it left: rest it before dialling again
                break;
            } else if (const auto* e = std::get_if<cp::ErrorMsg>(&*m)) {
                if (e->code == cp::ErrorCode::kNoSuchVersion && link->receiving) {
                    const auto asked = *link->receiving;
                    link->receiving.reset();
                    link->buffer.clear();
                    gossip_.fetch_done(link->key, asked, Outcome::kFailed);
                    pump();
                    continue;
                }
                log_.debug("channel peer {} ended: {}", link->stream->remote(), e->message);
                break;
            } else if (std::holds_alternative<cp::ChannelHello>(*m)) {
                throw net::ProtocolError("a second ChannelHello");
            }
        }
    } catch (const net::ProtocolError& e) {
        log_.warn("channel peer {}: {}; dropped", link->stream->remote(), e.what());
    } catch (const std::exception& e) {
        log_.debug("channel peer {}: {}", link->stream->remote(), e.what());
    }
    drop(*link);
}

void ChannelMesh::on_request(Link& link, const VersionRef& want) {
    if (want != gossip_.held() || !held_text_) {
        send(link, cp::encode(cp::ErrorMsg{cp::ErrorCode::kNoSuchVersion,
                                           fmt::format("version {} is not held here (holds {})",
                                                       want.number, gossip_.held().number)}));
        return;
    }
    if (link.requests.size() >= kMaxPendingRequests)
        throw net::ProtocolError("asked for a manifest again before the last one arrived");
    if (++link.manifests_sent > kMaxManifestsPerLink)
        throw net::ProtocolError("asked for manifests too many times");
    link.requests.push_back(want);
    link.wake.cancel();
}

net::awaitable<void> ChannelMesh::on_part(Link& link, const cp::ManifestPart& part) {
    if (!link.receiving || part.of != *link.receiving) co_return;  // late: a fetch given up
    if (link.buffer.empty()) {
        link.total = part.total;
    } else if (part.total != link.total) {
        throw net::ProtocolError("ManifestPart: total changed mid-manifest");
    }
    if (part.offset != link.buffer.size())
        throw net::ProtocolError(fmt::format("ManifestPart at {} where {} was expected",
                                             part.offset, link.buffer.size()));
    link.buffer.append(reinterpret_cast<const char*>(part.data.data()), part.data.size());
    link.last_progress = net::Clock::now();
    if (link.buffer.size() < link.total) co_return;

    const VersionRef asked = *link.receiving;
    auto text = std::make_shared<const std::string>(std::move(link.buffer));
    link.buffer = std::string();
    link.receiving.reset();
    const Verdict verdict = co_await verify_(asked, text);
    if (link.gone) co_return;
    gossip_.fetch_done(link.key, asked, verdict.outcome);
    switch (verdict.outcome) {
        case Outcome::kAccepted:
            if (gossip_.held() == asked) held_text_ = text;
            ++stats_.manifests_fetched;
            log_.info("channel version {} received from {}", asked.number, link.stream->remote());
            break;
        case Outcome::kStale:
            break;
        case Outcome::kFailed:
            log_.debug("channel version {} from {} not taken: {}", asked.number,
                       link.stream->remote(), verdict.why);
            break;
        case Outcome::kForged:
            ++stats_.forged;
            log_.warn("channel peer {} sent a bad manifest for version {}: {}; dropped and banned",
                      link.stream->remote(), asked.number, verdict.why);
            ban(link, "sent a bad manifest");
            break;
    }
    pump();
}

net::awaitable<void> ChannelMesh::write_loop(std::shared_ptr<Link> link) {
    const auto self = shared_from_this();
    try {
        auto last_write = net::Clock::now();
        while (!link->gone) {
            while (!link->out.empty() && !link->gone) {
                const Bytes frame = std::move(link->out.front());
                link->out.pop_front();
                co_await link->stream->write(frame);
                last_write = net::Clock::now();
            }
            if (link->gone) break;
            if (link->closing) {
                link->stream->close();
                break;
            }
            if (!link->requests.empty()) {
                const VersionRef want = link->requests.front();
                link->requests.pop_front();
                const auto text = held_text_;
                if (text && want == gossip_.held()) {
                    const auto total = static_cast<std::uint32_t>(text->size());
                    for (std::uint32_t off = 0; off < total && !link->gone;) {
                        const auto n =
                            std::min<std::uint32_t>(limits::kMaxManifestPartBytes, total - off);
                        const auto* bytes = reinterpret_cast<const std::uint8_t*>(text->data());
                        const Bytes frame = cp::encode(
                            cp::ManifestPart{want, total, off, ByteSpan(bytes + off, n)});
                        co_await link->stream->write(frame);
                        off += n;
                    }
                    ++stats_.manifests_served;
                } else {
                    send(*link, cp::encode(cp::ErrorMsg{cp::ErrorCode::kNoSuchVersion,
                                                        "that version is no longer held here"}));
                }
                last_write = net::Clock::now();
                continue;
            }
            if (!link->seed_asks.empty()) {
                co_await serve_seed(link);
                last_write = net::Clock::now();
                continue;
            }
            if (!link->file_asks.empty()) {
                co_await serve_file(link);
                last_write = net::Clock::now();
                continue;
            }
            asio::error_code ec;
            link->wake.expires_at(last_write + options_.keepalive);
            co_await link->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (!ec && link->out.empty() && link->requests.empty() && link->seed_asks.empty() &&
                link->file_asks.empty() && !link->gone)
                link->out.push_back(cp::encode(cp::KeepAlive{}));
        }
    } catch (const std::exception& e) {
        log_.debug("channel peer {}: {}", link->stream->remote(), e.what());
    }
    drop(*link);
}

void ChannelMesh::pump() {
    if (stopping_) return;
    const cp::Announce announce{gossip_.held()};
    for (const auto key : gossip_.take_announcements())
        if (auto it = links_.find(key); it != links_.end()) send(*it->second, cp::encode(announce));
    if (auto next = gossip_.next_fetch()) {
        auto it = links_.find(next->first);
        if (it == links_.end()) return;  // (cannot happen: the gossip forgets links that left)
        auto& link = *it->second;
        link.receiving = next->second;
        link.buffer.clear();
        link.total = 0;
        link.fetch_started = link.last_progress = net::Clock::now();
        ++stats_.manifests_requested;
        send(link, cp::encode(cp::ManifestRequest{next->second}));
    }
}

void ChannelMesh::check_fetch_progress() {
    const auto now = net::Clock::now();
    for (const auto& [key, link] : links_) {
        if (!link->receiving) continue;
        // Silent too long, or trickling: a holder cannot hold up the mesh.
        if (now - link->last_progress < options_.fetch_timeout &&
            now - link->fetch_started < options_.fetch_deadline)
            continue;
        const auto asked = *link->receiving;
        log_.debug("channel peer {}: no part of version {} for {} ms; asking another",
                   link->stream->remote(), asked.number, options_.fetch_timeout.count());
        link->receiving.reset();
        link->buffer.clear();
        gossip_.fetch_done(key, asked, Outcome::kFailed);
    }
    pump();
}

// --- the end -----------------------------------------------------------------

net::awaitable<void> ChannelMesh::stop(std::chrono::milliseconds grace) {
    const auto self = shared_from_this();
    if (stopping_) co_return;
    stopping_ = true;
    tick_.cancel();
    seed_progress_.cancel();
    file_progress_.cancel();
    node_.remove_channel(channel_);
    for (const auto& [key, link] : std::map(links_)) {
        send(*link, cp::encode(cp::Goodbye{}));
        link->closing = true;
        link->wake.cancel();
    }
    const auto deadline = net::Clock::now() + grace;
    while (!links_.empty() && net::Clock::now() < deadline) {
        asio::error_code ec;
        quiet_.expires_at(deadline);
        co_await quiet_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    for (const auto& [key, link] : std::map(links_))
        drop(*link);
}

void ChannelMesh::abort() {
    stopping_ = true;
    tick_.cancel();
    seed_progress_.cancel();
    file_progress_.cancel();
    node_.remove_channel(channel_);
    for (const auto& [key, link] : std::map(links_))
        drop(*link);
}

}  // namespace seedshare
