#include "peer/node/node.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/net/join_all.hpp"
#include "common/net/listener.hpp"
#include "common/wire/channel_protocol.hpp"
#include "common/wire/peer_protocol.hpp"
#include "peer/discovery/address_book_file.hpp"

namespace seedshare {

namespace pp = peer_proto;
namespace cp = channel_proto;

Node::Node(asio::any_io_executor ex, asio::thread_pool& pool, NodeOptions options, Logger log)
    : ex_(ex),
      pool_(pool),
      options_(std::move(options)),
      log_(std::move(log)),
      user_(random_user_id()),
      acceptor_(ex),
      upload_buffers_(BufferPool::create(options_.upload_budget_bytes, limits::kMaxBlockBytes)),
      upload_limit_(std::make_shared<RateLimiter>(options_.max_upload_rate)),
      upload_slots_(UploadSlots::create(options_.upload_slots)),
      download_limit_(std::make_shared<RateLimiter>(options_.max_download_rate)),
      budget_(ConnectionBudget::Settings{.cap = options_.max_connections,
                                         .idle_grace = options_.connection_idle_grace}),
      book_(std::make_shared<AddressBook>()),
      book_timer_(ex, *options_.clock),
      activity_(std::make_shared<Activity>(ex)) {
    if (options_.state_dir) {
        book_path_ = *options_.state_dir / kAddressBookFileName;
        *book_ = load_address_book(*options_.env, *book_path_, log_);
        // Swarms may outlive the Node: the refresh holds the book and the
        // path; the clock and the Env outlive the io_context (NodeOptions).
        // Gated: each downloading swarm with no peer asks the book, and
        // reading the whole file for each of thousands of swarms made the
        // process's work grow with the square of its swarms (issue 18).
        swarm_book_refresh_ = std::make_shared<const std::function<void()>>(
            [book = book_, path = *book_path_, log = log_, gate = book_refresh_gate_,
             clock = options_.clock, env = options_.env] {
                if (gate->due(clock->now())) refresh_address_book(*env, path, *book, log);
            });
    }
    slots_->make_room = [this](const SeedId& seed) { return make_room(seed); };
    slots_->share = [this] { return share(); };
}

void Node::save_book() {
    if (book_path_ && book_->dirty()) save_address_book(*options_.env, *book_path_, *book_, log_);
}

void Node::refresh_book() {
    if (book_path_) refresh_address_book(*options_.env, *book_path_, *book_, log_);
}

net::awaitable<void> Node::book_loop() {
    // Looks every second; writes a change at once the first time (what a
    // process learns first is what others sharing the file may lack most),
    // then at most every book_save_interval.
    const auto tick =
        std::min<std::chrono::milliseconds>(std::chrono::seconds(1), options_.book_save_interval);
    while (!stopping_) {
        co_await net::sleep_for(book_timer_, tick);
        if (stopping_) break;
        const auto now = options_.clock->now();
        if (!book_->dirty() ||
            (book_saved_at_ && now - *book_saved_at_ < options_.book_save_interval))
            continue;
        save_book();
        book_saved_at_ = now;
    }
}

Node::~Node() {
    // Swarms may outlive the Node (their last connections ending): from now
    // they keep to their own limits.
    *slots_ = ConnectionSlots{};
}

void Node::listen() {
    // No host: every interface, IPv6 and IPv4 ("::", dual stack).
    asio::ip::address addr = asio::ip::address_v6::any();
    if (!options_.host.empty()) {
        asio::error_code ec;
        addr = asio::ip::make_address(options_.host, ec);
        if (ec)
            throw std::runtime_error(fmt::format("--host '{}': not an IP address", options_.host));
    }
    try {
        port_ = net::listen(acceptor_, addr, options_.port).local.port();
        shared_env_.reset();  // it names the port
    } catch (const net::ListenError& e) {
        throw std::runtime_error(fmt::format("cannot listen on {}:{}: {}",
                                             options_.host.empty() ? "*" : options_.host,
                                             options_.port, e.code().message()));
    }
    activity_->accepting = true;
    net::spawn(ex_, accept_loop(), log_, "accept loop");
    if (book_path_) net::spawn(ex_, book_loop(), log_, "address book");
}

SwarmEnv Node::swarm_env() const {
    // One refresh shared by every swarm: a copy of its path and logger in
    // each took about 1 KB per swarm (10 MB for 10,000 files).
    std::function<void()> refresh;
    if (swarm_book_refresh_) refresh = [r = swarm_book_refresh_] { (*r)(); };
    return SwarmEnv{.ex = ex_,
                    .pool = &pool_,
                    .user = user_,
                    .listen_port = port_,
                    .backup = options_.backup,
                    .spare_upload = options_.spare_upload,
                    .upload_buffers = upload_buffers_,
                    .upload_slots = upload_slots_,
                    .upload_limit = upload_limit_,
                    .download_limit = download_limit_,
                    .log = log_,
                    .book = book_,
                    .refresh_book = std::move(refresh),
                    .counters = counters_,
                    .refused = refused_,
                    .slots = slots_,
                    .clock = options_.clock};
}

std::shared_ptr<const SwarmEnv> Node::shared_swarm_env() const {
    if (!shared_env_) shared_env_ = std::make_shared<const SwarmEnv>(swarm_env());
    return shared_env_;
}

void Node::add(std::shared_ptr<Swarm> swarm) {
    active_.insert(swarm->id());  // (it may have dialled already)
    swarms_[swarm->id()] = std::move(swarm);
}

template <typename F>
void Node::for_active(F&& f) {
    for (auto it = active_.begin(); it != active_.end();) {
        const auto s = swarms_.find(*it);
        if (s == swarms_.end() ||
            (s->second->connection_count() == 0 && s->second->open_connections() == 0)) {
            it = active_.erase(it);  // removed, or nothing open: back when it asks for room
            continue;
        }
        f(*s->second);
        ++it;
    }
}

net::awaitable<void> Node::remove(const SeedId& id, std::chrono::milliseconds grace) {
    auto it = swarms_.find(id);
    if (it == swarms_.end()) co_return;
    auto swarm = it->second;
    swarms_.erase(it);
    co_await swarm->stop(grace);
    for (const auto& p : swarm->peer_stats()) {
        if (p.uploaded == 0) continue;
        removed_uploads_.bytes += p.uploaded;
        removed_uploads_.peers.insert(p.name);
    }
}

Node::Uploads Node::uploads() const {
    Uploads all = removed_uploads_;
    for (const auto& [id, swarm] : swarms_) {
        for (const auto& p : swarm->peer_stats()) {
            if (p.uploaded == 0) continue;
            all.bytes += p.uploaded;
            all.peers.insert(p.name);
        }
    }
    return all;
}

std::shared_ptr<Swarm> Node::find(const SeedId& id) const {
    auto it = swarms_.find(id);
    return it == swarms_.end() ? nullptr : it->second;
}

void Node::add_channel(const ChannelId& id, std::shared_ptr<ChannelEndpoint> endpoint) {
    channels_[id] = std::move(endpoint);
}

void Node::remove_channel(const ChannelId& id) {
    channels_.erase(id);
}

std::shared_ptr<ChannelEndpoint> Node::find_channel(const ChannelId& id) const {
    auto it = channels_.find(id);
    return it == channels_.end() ? nullptr : it->second;
}

std::size_t Node::connection_count() {
    std::size_t n = activity_->greeting.size();
    for_active([&](const Swarm& s) { n += s.connection_count(); });
    for (const auto& [id, c] : channels_)
        n += c->connection_count();
    return n;
}

bool Node::make_room(const SeedId& seed) {
    // The requester is about to dial or take a connection: active from now
    // (once the counts below, which forget swarms with nothing open, are done).
    struct Mark {
        std::set<SeedId>& active;
        const SeedId& seed;
        ~Mark() { active.insert(seed); }
    } mark{active_, seed};
    std::size_t open = 0;
    for_active([&](const Swarm& s) { open += s.open_connections(); });
    for (const auto& [id, c] : channels_)
        open += c->connection_count();
    if (open < options_.max_connections) return true;
    // Full: which connection (if any) gives way. Dials in progress and
    // channel connections never do.
    std::vector<ConnectionBudget::Conn> conns;
    std::vector<std::pair<Swarm*, std::size_t>> owners;  // each swarm's part of conns
    for_active([&](Swarm& s) {
        const auto before = conns.size();
        s.budget_view(conns);
        owners.emplace_back(&s, conns.size() - before);
    });
    const auto requester = find(seed);
    const auto d =
        budget_.make_room(conns, open - conns.size(), requester ? requester->open_connections() : 0,
                          net::Clock::now());  // connections' times are real
    using Verdict = ConnectionBudget::Verdict;
    if (d.verdict == Verdict::kAdmit) return true;
    if (d.verdict == Verdict::kRefuse) {
        ++counters_->connections_refused;
        log_.debug("no room for a connection of seed {}: {} connections move data", seed.hex(),
                   open);
        return false;
    }
    std::size_t nth = d.victim;
    for (const auto& [swarm, count] : owners) {
        if (nth < count) {
            swarm->give_way(nth);
            break;
        }
        nth -= count;
    }
    return true;
}

std::size_t Node::share() {
    // Counted again now and then, not on every dial of every swarm.
    static constexpr auto kShareRecount = std::chrono::milliseconds(250);
    const auto now = net::Clock::now();
    if (share_ == 0 || now - share_at_ >= kShareRecount) {
        const auto downloading = static_cast<std::size_t>(std::count_if(
            swarms_.begin(), swarms_.end(), [](const auto& s) { return !s.second->complete(); }));
        share_ = budget_.share(downloading, options_.swarm.max_connections);
        share_at_ = now;
    }
    return share_;
}

net::awaitable<void> Node::stop(std::chrono::milliseconds grace) {
    stopping_ = true;
    book_timer_.cancel();
    asio::error_code ec;
    acceptor_.close(ec);
    // Stop every swarm at once so the grace periods run side by side.
    // (`all` keeps each swarm alive while it stops.)
    std::vector<std::shared_ptr<Swarm>> all;
    std::vector<net::awaitable<void>> stops;
    for (auto& [id, s] : swarms_) {
        all.push_back(s);
        stops.push_back(s->stop(grace));
    }
    std::vector<std::shared_ptr<ChannelEndpoint>> meshes;
    for (auto& [id, c] : channels_)
        meshes.push_back(c);
    for (auto& c : meshes)  // (a mesh's stop removes it from channels_)
        stops.push_back(c->stop(grace));
    co_await net::join_all(std::move(stops));
    save_book();
    // Handshakes in progress end now; then wait for everything that refers
    // to this Node to be done with it.
    const auto activity = activity_;
    while (activity->accepting || !activity->greeting.empty()) {
        // Again on every wake: an accept already completed when the acceptor
        // closed may have started a handshake since.
        for (const auto& stream : std::set(activity->greeting))
            stream->close();
        if (!activity->accepting && activity->greeting.empty()) break;
        activity->quiet.expires_at(asio::steady_timer::time_point::max());
        co_await activity->quiet.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

void Node::abort() {
    stopping_ = true;
    book_timer_.cancel();
    asio::error_code ec;
    acceptor_.close(ec);
    for (auto& [id, s] : swarms_)
        s->abort();
    for (auto& [id, c] : std::map(channels_))  // (a mesh's abort removes it from channels_)
        c->abort();
}

net::awaitable<void> Node::accept_loop() {
    struct Done {  // however the loop ends
        std::weak_ptr<Activity> activity;
        ~Done() {
            if (const auto a = activity.lock()) {
                a->accepting = false;
                a->quiet.cancel();
            }
        }
    } done{activity_};
    while (!stopping_) {
        asio::error_code ec;
        auto socket =
            co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        // The Node may be gone (destroyed right after abort(), its acceptor
        // closed): this frame outlives it, so nothing of it is touched then.
        if (done.activity.expired()) co_return;
        if (ec) {
            if (stopping_ || ec == asio::error::operation_aborted) co_return;
            // Out of descriptors and the like: wait a moment instead of spinning.
            log_.warn("accept: {}", ec.message());
            asio::steady_timer t(ex_, std::chrono::milliseconds(100));
            co_await t.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        // The budget decides once the Hello names the swarm (kBusy when
        // full); this only bounds the sockets held meanwhile.
        const std::size_t connections = connection_count();
        if (connections >= options_.max_connections + limits::kMaxPeerHandshakes) {
            log_.debug("refusing {}: {} connections already", net::remote_text(socket),
                       connections);
            continue;  // the socket closes as it goes out of scope
        }
        net::spawn(ex_, greet(std::move(socket)), log_, "greeting");
    }
}

net::awaitable<void> Node::greet(net::tcp::socket socket) {
    const auto& o = options_.swarm;
    auto stream = std::make_shared<net::FrameStream>(
        std::move(socket), limits::kMaxPeerFrameBytes,
        net::FrameStream::Timeouts{o.handshake_timeout, o.handshake_timeout, o.handshake_timeout});
    activity_->greeting.insert(stream);
    struct Done {  // however the handshake ends
        std::weak_ptr<Activity> activity;
        std::shared_ptr<net::FrameStream> stream;
        ~Done() {
            if (const auto a = activity.lock()) {
                a->greeting.erase(stream);
                a->quiet.cancel();
            }
        }
    } done{activity_, stream};
    if (stopping_) {  // accepted just before the acceptor closed: no handshake now
        stream->close();
        co_return;
    }
    net::spawn(ex_, stream->watchdog(), log_, "watchdog");
    const auto refuse = [&](pp::ErrorCode code, std::string why) -> net::awaitable<void> {
        log_.debug("refused {}: {}", stream->remote(), why);
        const Bytes frame = pp::encode(pp::ErrorMsg{code, std::move(why)});
        co_await net::write_then_close(*stream, frame, o.handshake_timeout);
    };
    try {
        const auto h = co_await stream->read_header();
        if (h.type == static_cast<std::uint8_t>(cp::Type::kChannelHello)) {
            co_await greet_channel(stream, h);
            co_return;
        }
        if (h.type != static_cast<std::uint8_t>(pp::Type::kHello))
            throw net::ProtocolError(fmt::format("expected Hello, got message type {}", h.type));
        if (auto fits = pp::check_header(h); !fits) throw net::ProtocolError(fits.error().message);
        const auto payload = co_await stream->read_payload(h);
        auto m = pp::decode(h.type, payload);
        if (!m) throw net::ProtocolError(m.error().message);
        const auto& hello = std::get<pp::Hello>(*m);
        if (hello.version != pp::kVersion) {
            co_await refuse(
                pp::ErrorCode::kVersionMismatch,
                fmt::format("peer protocol version mismatch: this peer speaks {}, you speak {}",
                            pp::kVersion, hello.version));
        } else if (hello.user == user_) {
            co_await refuse(pp::ErrorCode::kSelf, "connected to itself");
        } else if (auto swarm = find(hello.seed); !swarm || stopping_) {
            // Not here: first the holders it knows (note 003), then the refusal.
            pp::PeerList holders;
            holders.peers = book_->holders(AddressBook::key(hello.seed), address_book_now(),
                                           limits::kPexMaxAdded);
            if (!holders.peers.empty()) {
                const Bytes frame = pp::encode(holders);
                co_await stream->write(frame);
            }
            co_await refuse(pp::ErrorCode::kUnknownSeed,
                            fmt::format("this peer does not share seed {}", hello.seed.hex()));
        } else {
            swarm->accept(stream, hello);
        }
    } catch (const net::ProtocolError& e) {
        log_.debug("dropped {}: {}", stream->remote(), e.what());
        stream->close();
    } catch (const std::exception& e) {
        log_.debug("handshake with {} failed: {}", stream->remote(), e.what());
        stream->close();
    }
}

// A channel connection: the same checks as for a file's, in the channel
// protocol's words. Exceptions go to greet()'s handlers.
net::awaitable<void> Node::greet_channel(std::shared_ptr<net::FrameStream> stream,
                                         const FrameHeader& h) {
    const auto& o = options_.swarm;
    const auto refuse = [&](cp::ErrorCode code, std::string why) -> net::awaitable<void> {
        log_.debug("refused channel connection from {}: {}", stream->remote(), why);
        const Bytes frame = cp::encode(cp::ErrorMsg{code, std::move(why)});
        co_await net::write_then_close(*stream, frame, o.handshake_timeout);
    };
    if (auto fits = cp::check_header(h); !fits) throw net::ProtocolError(fits.error().message);
    const auto payload = co_await stream->read_payload(h);
    auto m = cp::decode(h.type, payload);
    if (!m) throw net::ProtocolError(m.error().message);
    const auto& hello = std::get<cp::ChannelHello>(*m);
    if (hello.version != cp::kVersion) {
        co_await refuse(
            cp::ErrorCode::kVersionMismatch,
            fmt::format("channel protocol version mismatch: this peer speaks {}, you speak {}",
                        cp::kVersion, hello.version));
    } else if (hello.user == user_) {
        co_await refuse(cp::ErrorCode::kSelf, "connected to itself");
    } else if (auto mesh = find_channel(hello.channel); !mesh || stopping_) {
        co_await refuse(cp::ErrorCode::kUnknownChannel,
                        fmt::format("this peer does not follow channel {}", hello.channel.hex()));
    } else {
        mesh->accept(stream, hello);
    }
}

}  // namespace seedshare
