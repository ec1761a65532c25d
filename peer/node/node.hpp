// One peer process's network presence: the listening socket, the swarms it
// takes part in (by seed id), and the resources they share (thread pool,
// upload buffers, identity). Incoming connections are greeted here: their
// Hello names the seed, and the matching swarm takes the connection over.
#pragma once

#include <asio.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "common/core/ids.hpp"
#include "common/core/log.hpp"
#include "common/env/clock.hpp"
#include "common/env/env.hpp"
#include "common/net/clock_timer.hpp"
#include "common/net/net.hpp"
#include "peer/discovery/address_book.hpp"
#include "peer/discovery/refresh_gate.hpp"
#include "peer/node/channel_endpoint.hpp"
#include "peer/swarm/swarm.hpp"

namespace seedshare {

struct NodeOptions {
    std::string host;        // empty: every interface, IPv6 and IPv4 where available
    std::uint16_t port = 0;  // 0: an ephemeral port
    // Peer connections of all swarms (and channel meshes) together: the
    // ConnectionBudget's cap. A connection that moved no block for
    // `connection_idle_grace` may be closed to make room for a new one.
    std::size_t max_connections = limits::kMaxPeerConnections;
    std::chrono::milliseconds connection_idle_grace{10000};
    std::size_t upload_budget_bytes = 32u << 20;             // blocks being read for upload
    std::size_t upload_slots = limits::kDefaultUploadSlots;  // blocks sent at once
    std::uint64_t max_upload_rate = 0;    // bytes/s for the whole process; 0: unlimited
    std::uint64_t max_download_rate = 0;  // bytes/s for the whole process; 0: unlimited
    // A backup peer (`peer backup`): said in every Hello, so getters spare
    // its upload (they ask the other holders first).
    bool backup = false;
    // A channel's publisher (`peer publish`): said in every Hello, so getters
    // spare its upload too; it holds every chunk first, and each is best sent
    // once, to be passed on by the subscribers.
    bool spare_upload = false;
    SwarmOptions swarm;
    // Where the address book is kept (STATE_DIR/address-book.json); none:
    // in memory only, for this process.
    std::optional<std::filesystem::path> state_dir;
    // How often a changed address book is written (merged with the file, so
    // processes sharing the state directory learn from each other: a swarm
    // stranded with no peer re-reads the file when it asks the book, at most
    // once a second for all the process's swarms). The first change is
    // written within a second.
    std::chrono::milliseconds book_save_interval{5000};
    // Where time and files come from: the address book's saves and reads,
    // and each swarm's discovery (SwarmEnv::clock: its peer list's backoff,
    // its asking plan, the peer-exchange pace). The connection budget keeps
    // to real time, as the connections' times it compares are. A test
    // passes a FakeClock or a FaultyEnv; both must outlive the io_context
    // (swarms, which keep timers on the clock, may outlive the Node).
    const Clock* clock = &Clock::real();
    Env* env = &Env::posix();
};

class Node {
  public:
    Node(asio::any_io_executor ex, asio::thread_pool& pool, NodeOptions options, Logger log);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    // Binds and starts accepting. Throws std::runtime_error naming the address.
    void listen();
    std::uint16_t port() const { return port_; }
    const UserId& user() const { return user_; }
    const Logger& log() const { return log_; }
    // The process's clock (NodeOptions::clock): what runs on the node's
    // timers (backup polls, channel rescans) takes its time from here.
    const Clock& clock() const { return *options_.clock; }
    // The process's file system (NodeOptions::env), for what runs on the node.
    Env& env() const { return *options_.env; }
    asio::thread_pool& pool() { return pool_; }

    // The environment for a new swarm of this process.
    SwarmEnv swarm_env() const;
    // The same, one copy shared by every swarm (a copy in each of 10,000
    // swarms was 3 MB); built again after listen() set the port.
    std::shared_ptr<const SwarmEnv> shared_swarm_env() const;
    const SwarmOptions& swarm_options() const { return options_.swarm; }
    // The process's address book (shared with every swarm and channel).
    const std::shared_ptr<AddressBook>& book() const { return book_; }
    // Writes the address book now, if it changed and has a file.
    void save_book();
    // Merges what the book's file holds now (other processes sharing the
    // state directory save there); nothing without a file.
    void refresh_book();

    void add(std::shared_ptr<Swarm> swarm);
    // Stops and forgets a swarm (file removed or re-seeded).
    net::awaitable<void> remove(const SeedId& id, std::chrono::milliseconds grace);
    std::shared_ptr<Swarm> find(const SeedId& id) const;
    const std::map<SeedId, std::shared_ptr<Swarm>>& swarms() const { return swarms_; }
    // What this process uploaded in all its swarms, those removed included:
    // bytes of chunk data, and the peers (address:port) that received any.
    struct Uploads {
        std::uint64_t bytes = 0;
        std::set<std::string> peers;
    };
    Uploads uploads() const;
    // Counted by every swarm of this process (peer --metrics).
    const SwarmCounters& counters() const { return *counters_; }

    // Channel meshes, by channel: incoming ChannelHellos go to them.
    void add_channel(const ChannelId& id, std::shared_ptr<ChannelEndpoint> endpoint);
    void remove_channel(const ChannelId& id);
    std::shared_ptr<ChannelEndpoint> find_channel(const ChannelId& id) const;

    // Never talk to this peer (by user id) from now on: its connections and
    // Hellos are refused, in every swarm and channel, and a dial that reaches
    // it is closed. For a peer one must not reach (and the tests of a peer
    // that cannot reach another, issue 14).
    void refuse(const UserId& user) { refused_->insert(user); }
    bool refuses(const UserId& user) const { return refused_->contains(user); }

    // Stops accepting, says goodbye to every peer, lets uploads in flight
    // finish (up to `grace`), closes everything, and returns once the accept
    // loop and every handshake in progress have ended (they refer to the Node).
    net::awaitable<void> stop(std::chrono::milliseconds grace);
    // Closes everything at once, saying nothing (as if the process died).
    void abort();

  private:
    net::awaitable<void> accept_loop();
    net::awaitable<void> book_loop();
    net::awaitable<void> greet(net::tcp::socket socket);
    net::awaitable<void> greet_channel(std::shared_ptr<net::FrameStream> stream,
                                       const FrameHeader& h);
    std::size_t connection_count();
    // Calls f(Swarm&) for each swarm with a connection or a dial in
    // progress (those of active_), forgetting the others.
    template <typename F>
    void for_active(F&& f);
    // The process's connection budget (ConnectionSlots, for every swarm):
    // room for one more connection of `seed`'s swarm, closing an idle one
    // if need be; and the share each downloading swarm dials for.
    bool make_room(const SeedId& seed);
    std::size_t share();

    asio::any_io_executor ex_;
    asio::thread_pool& pool_;
    NodeOptions options_;
    Logger log_;
    UserId user_;
    net::tcp::acceptor acceptor_;
    std::uint16_t port_ = 0;
    std::shared_ptr<BufferPool> upload_buffers_;
    std::shared_ptr<RateLimiter> upload_limit_;
    std::shared_ptr<UploadSlots> upload_slots_;
    std::shared_ptr<RateLimiter> download_limit_;
    std::shared_ptr<SwarmCounters> counters_ = std::make_shared<SwarmCounters>();
    ConnectionBudget budget_;
    std::shared_ptr<ConnectionSlots> slots_ = std::make_shared<ConnectionSlots>();
    std::size_t share_ = 0;  // share(), counted again after kShareRecount
    net::Clock::time_point share_at_{};
    std::map<SeedId, std::shared_ptr<Swarm>> swarms_;
    // The swarms that may have a connection or a dial in progress: every
    // other one has none, since a swarm asks make_room before each dial and
    // each connection it accepts. The connection counts (per accepted
    // socket, per dial) visit these instead of every swarm: with 10,000
    // files, most complete and idle, the scans of every swarm took 67% of
    // the publisher's CPU (issue 18). Same order as swarms_ (by id).
    std::set<SeedId> active_;
    Uploads removed_uploads_;  // what swarms removed so far uploaded
    std::map<ChannelId, std::shared_ptr<ChannelEndpoint>> channels_;
    std::shared_ptr<std::set<UserId>> refused_ = std::make_shared<std::set<UserId>>();
    std::shared_ptr<AddressBook> book_;
    // Swarms' re-reads of the book's file: at most one a second for them all.
    std::shared_ptr<RefreshGate> book_refresh_gate_ =
        std::make_shared<RefreshGate>(std::chrono::seconds(1));
    std::optional<std::filesystem::path> book_path_;
    mutable std::shared_ptr<const SwarmEnv> shared_env_;  // shared_swarm_env()
    // What each swarm's SwarmEnv::refresh_book calls (null without a file).
    std::shared_ptr<const std::function<void()>> swarm_book_refresh_;
    net::ClockTimer book_timer_;
    std::optional<net::Clock::time_point> book_saved_at_;  // by book_loop
    // What still refers to the Node: the accept loop and the handshakes in
    // progress. Shared (weakly) with them, so that one destroyed unfinished
    // (its io_context gone first) does not touch a Node that is gone too.
    struct Activity {
        explicit Activity(asio::any_io_executor ex) : quiet(ex) {}
        std::set<std::shared_ptr<net::FrameStream>> greeting;  // still in their handshake
        bool accepting = false;                                // the accept loop runs
        asio::steady_timer quiet;  // cancelled when the loop or a handshake ends
    };
    std::shared_ptr<Activity> activity_;
    bool stopping_ = false;
};

}  // namespace seedshare
