// The mesh of one channel's subscribers (and its publisher): connections
// between the peers that follow a channel, over which each says which
// version it holds, asks for a manifest it lacks and passes the news on
// (notes 000 and 001: a peer that hears of a newer version fetches it from
// whoever told it, verifies it, and tells the others once). The decisions
// are VersionGossip's (pure); this is the shell: dialling, the Node's
// incoming connections, one reader and one writer coroutine per connection,
// the manifest moved in parts. Manifests and seeds cross here (a subscriber
// asks its peers for the seeds a version names, SeedRequests deciding whom,
// so it needs no tracker to apply a version), and so do small files (one
// chunk, at most limits::kMaxMeshFileBytes: a subscriber asks for them the
// way it asks for seeds, and serves them from its swarms); the other files
// of a version travel through the ordinary file swarms.
//
// Trust: a manifest is verified by the owner (Verify: signature, channel,
// the version asked for) before it is held, served or announced. A peer that
// sent a forged one is dropped and never dialled again. A seed is taken only
// when its text parses and hashes to the id asked for, a small file only when
// its length and SHA-256 are its seed's; a peer that sends one that does not
// is banned the same way.
//
// Lifetime: made by create() (shared, since its coroutines hold it), then
// start()ed; registered in the Node until stop() or abort(). One thread.
#pragma once

#include <asio.hpp>

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/log.hpp"
#include "common/model/seed.hpp"
#include "common/net/net.hpp"
#include "peer/channel/seed_requests.hpp"
#include "peer/channel/version_gossip.hpp"
#include "peer/discovery/peer_list.hpp"
#include "peer/node/node.hpp"

namespace seedshare {

struct ChannelMeshOptions {
    // Connections dialled for while fewer are up; more are accepted up to max.
    std::size_t target_peers = 8;
    std::size_t max_peers = limits::kMaxChannelConnections;
    // How often candidates are dialled and a fetch is checked for progress.
    std::chrono::milliseconds tick{500};
    // A manifest fetch that received nothing for this long fails (another
    // holder is asked).
    std::chrono::milliseconds fetch_timeout{20000};
    // ... and one that has not completed after this long fails too (16 MiB
    // at about 140 KB/s), so a peer trickling bytes cannot hold it up.
    std::chrono::milliseconds fetch_deadline{120000};
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds handshake_timeout{limits::kPeerHandshakeTimeout};
    std::chrono::milliseconds idle_timeout{limits::kPeerIdleTimeout};
    std::chrono::milliseconds keepalive{30000};
    // Seed requests outstanding at one peer (fetch_seeds).
    std::size_t seed_requests_per_link = 16;
};

class ChannelMesh : public ChannelEndpoint, public std::enable_shared_from_this<ChannelMesh> {
  public:
    // The owner's check of a manifest fetched as `asked`: it parses and
    // verifies the text (signature, this channel, the number and body hash
    // asked for) and, when it supersedes what the owner holds, adopts it.
    struct Verdict {
        VersionGossip::FetchOutcome outcome = VersionGossip::FetchOutcome::kForged;
        std::string why;  // for the log, when not accepted
    };
    using Verify = std::function<net::awaitable<Verdict>(VersionRef asked,
                                                         std::shared_ptr<const std::string> text)>;
    // The owner's seeds, served to peers that ask: the text of a seed held
    // here (nullopt: not held). May read the disk (off this thread).
    using SeedSource = std::function<net::awaitable<std::optional<std::string>>(SeedId id)>;

    struct Stats {
        std::size_t manifests_requested = 0;  // asked of peers
        std::size_t manifests_fetched = 0;    // accepted from peers
        std::size_t manifests_served = 0;     // sent whole to peers
        std::size_t forged = 0;               // refused as forged (sender dropped)
        std::size_t seeds_fetched = 0;        // verified seeds received
        std::size_t seeds_served = 0;         // seed texts sent
        std::size_t files_fetched = 0;        // small files received, checked
        std::size_t files_served = 0;         // small files sent
        std::uint64_t file_bytes_fetched = 0;
        std::uint64_t file_bytes_served = 0;
    };
    // What a small file asked for must be (from its seed).
    struct FileCheck {
        std::uint32_t length = 0;  // 1..limits::kMaxMeshFileBytes
        Digest hash;               // SHA-256 of the whole file
    };

    static std::shared_ptr<ChannelMesh> create(Node& node, const ChannelId& channel, Verify verify,
                                               ChannelMeshOptions options, Logger log);
    ~ChannelMesh() override;

    // Registers with the Node and starts dialling candidates.
    void start();
    // Addresses of peers that follow the channel (from a tracker, or peers).
    // `origin`: the peer that gossiped them (capped per source, PeerList::add);
    // tracker answers are remembered in the Node's address book.
    void add_candidates(const std::vector<PeerAddress>& peers, PeerList::Source source,
                        const std::optional<PeerAddress>& origin = std::nullopt);
    // A version held now, with its manifest text: published here, or
    // accepted and applied by the owner. Ignored unless it supersedes the held
    // one. Announced to every peer that lacks it.
    void hold(VersionRef version, std::shared_ptr<const std::string> text);
    const VersionRef& held() const { return gossip_.held(); }
    // Serve seeds from here (none set: every SeedRequest is answered SeedUnknown).
    void set_seed_source(SeedSource source) { seed_source_ = std::move(source); }
    // Asks the connected peers that hold a version for these seeds, each of
    // one peer at a time, another when one lacks it or leaves; ends when every
    // seed arrived, every peer was asked for every missing one, or nothing
    // arrived for `patience`. Answers the seeds received, verified (parsed,
    // and hashed to their id). One call at a time.
    net::awaitable<std::map<SeedId, Seed>> fetch_seeds(std::vector<SeedId> ids,
                                                       std::chrono::milliseconds patience);
    // The same for small files (channel_mesh_files.cpp): their content, each
    // of one peer at a time, kept only when its length and hash are as
    // `wanted` says (a peer that sends another is banned). Files larger than
    // limits::kMaxMeshFileBytes, or empty, are not asked for; a peer still
    // answering seed_requests_per_link requests of an earlier fetch is not
    // asked. Ends early, with what came, once `cancel` is set. One call at a
    // time; independent of fetch_seeds.
    net::awaitable<std::map<SeedId, Bytes>> fetch_files(std::map<SeedId, FileCheck> wanted,
                                                        std::chrono::milliseconds patience,
                                                        const std::atomic<bool>* cancel = nullptr);
    const ChannelId& channel() const { return channel_; }
    const Stats& stats() const { return stats_; }
    // Where peers of the channel were heard of, and what came of dialling them.
    const PeerList& candidates() const { return candidates_; }
    // The versions the connected peers last said they hold.
    std::vector<VersionRef> peer_versions() const;
    // Where the connected peers that hold `version` (and accept connections)
    // listen: a peer announces a version only once it holds every file of it.
    // (Peers still fetching are left to the trackers, which know what each
    // holds: dialling them for a file they lack only earns a refusal, and
    // the backoff that follows delays the dial that would have worked.)
    std::vector<PeerAddress> holders(const VersionRef& version) const;

    // ChannelEndpoint (the Node's side).
    void accept(std::shared_ptr<net::FrameStream> stream,
                const channel_proto::ChannelHello& hello) override;
    std::size_t connection_count() const override { return links_.size() + dialling_; }
    net::awaitable<void> stop(std::chrono::milliseconds grace) override;
    void abort() override;

  private:
    struct Link;
    ChannelMesh(Node& node, const ChannelId& channel, Verify verify, ChannelMeshOptions options,
                Logger log);

    net::awaitable<void> tick_loop();
    net::awaitable<void> dial(PeerAddress where);
    void add_link(std::shared_ptr<net::FrameStream> stream,
                  const channel_proto::ChannelHello& hello, std::optional<PeerAddress> listen,
                  bool greet_back, VersionRef greeted);
    net::awaitable<void> read_loop(std::shared_ptr<Link> link);
    net::awaitable<void> write_loop(std::shared_ptr<Link> link);
    net::awaitable<void> on_part(Link& link, const channel_proto::ManifestPart& part);
    void on_request(Link& link, const VersionRef& want);
    // Seeds (channel_mesh_seeds.cpp).
    void on_seed_request(Link& link, const SeedId& id);
    net::awaitable<void> on_seed_part(Link& link, const channel_proto::SeedPart& part);
    void on_seed_unknown(Link& link, const SeedId& id);
    net::awaitable<void> serve_seed(std::shared_ptr<Link> link);  // the next of seed_asks
    void pump_seeds();
    // Small files (channel_mesh_files.cpp): served from the Node's swarms.
    void on_file_request(Link& link, const SeedId& id);
    net::awaitable<void> on_file_part(Link& link, const channel_proto::FilePart& part);
    void on_file_unknown(Link& link, const SeedId& id);
    void answered_file(Link& link);  // one FileRequest of it answered (late ones included)
    net::awaitable<void> serve_file(std::shared_ptr<Link> link);  // the next of file_asks
    void pump_files();
    void ban(Link& link, std::string_view what);
    void send(Link& link, Bytes frame);
    void drop(Link& link);
    // Announces what is held to those who lack it; starts the next fetch.
    void pump();
    void check_fetch_progress();
    channel_proto::ChannelHello my_hello() const;

    Node& node_;
    const Clock* clock_;  // the node's: outlives the io_context, and so any dial
    ChannelId channel_;
    Verify verify_;
    ChannelMeshOptions options_;
    Logger log_;
    VersionGossip gossip_;
    std::shared_ptr<const std::string> held_text_;
    PeerList candidates_;
    // Peers (by user id) that sent a forged manifest: refused whatever port
    // they come back from. (Not by IP: peers behind one NAT share it.)
    std::set<UserId> banned_users_;
    std::map<std::uint64_t, std::shared_ptr<Link>> links_;
    std::uint64_t next_key_ = 1;
    std::size_t dialling_ = 0;
    asio::steady_timer tick_;
    asio::steady_timer quiet_;  // cancelled whenever a link ends (stop waits on it)
    SeedSource seed_source_;
    // The fetch_seeds in progress: whom to ask, what arrived, and a timer
    // cancelled whenever something changes.
    std::unique_ptr<SeedRequests> seed_fetch_;
    std::map<SeedId, Seed> seeds_got_;
    asio::steady_timer seed_progress_;
    // The fetch_files in progress, the same way.
    std::unique_ptr<SeedRequests> file_fetch_;
    std::map<SeedId, FileCheck> file_checks_;
    std::map<SeedId, Bytes> files_got_;
    asio::steady_timer file_progress_;
    Stats stats_;
    bool started_ = false;
    bool stopping_ = false;
};

}  // namespace seedshare
