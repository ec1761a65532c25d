#include "peer/channel/publisher.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"
#include "common/env/env.hpp"
#include "peer/channel/aside_name.hpp"
#include "peer/channel/subscriber.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Outcome = VersionGossip::FetchOutcome;

namespace {

constexpr auto kPublisherLeaveGrace = 2000ms;

net::awaitable<std::optional<std::string>> ready(std::optional<std::string> value) {
    co_return value;
}
// How often the trackers are asked for the channel's subscribers (to dial).
constexpr auto kFindSubscribersEvery = 10s;

// Without a hand-over record: the channel DIR's last version was handed to
// this key in (a restart of a new publisher), else the key's own. A state
// file that cannot be read or parsed is left to run() to report.
ChannelId recorded_channel(const PublisherOptions& o, Env& env) {
    const PublicKey key = o.key.public_key();
    if (auto text = env.read_file(o.dir / ".seedshare" / "published", limits::kMaxManifestBytes))
        if (auto handed = handed_over_channel(*text, key)) return *handed;
    return channel_id_of(key);
}

bool newer_than(const ManifestVersion& v, const std::optional<ManifestVersion>& held) {
    return replaces_held(v, held);
}

}  // namespace

Result<std::vector<Handover>> chain_to_publish(const ChannelId& channel,
                                               const std::vector<Handover>& known,
                                               const std::optional<HandoverRecord>& handover,
                                               const PublicKey& key) {
    std::vector<Handover> chain = known;
    if (handover) {
        auto longer = append_handover(channel, chain, *handover);
        if (!longer) return Error{fmt::format("--handover: {}", longer.error().message)};
        chain = std::move(*longer);
    }
    const PublicKey current = publishing_key(channel, chain);
    if (current == key) return chain;
    // Handed over by this key (a link signed by it), or never handed to it.
    for (std::size_t i = 0; i < chain.size(); ++i)
        if (handover_record(channel, chain, i).by == key)
            return Error{fmt::format(
                "this key handed publishing of channel {} over (from version {}); key {} "
                "publishes it now",
                channel.hex(), chain[i].from, current.hex())};
    return Error{fmt::format(
        "this key does not publish channel {}: key {} does (a hand-over record naming this key, "
        "signed by that one, is needed: peer handover)",
        channel.hex(), current.hex())};
}

std::optional<ChannelId> handed_over_channel(std::string_view recorded, const PublicKey& key) {
    auto m = parse_manifest(recorded);
    if (!m || m->handovers.empty() || !verify_manifest_signature(*m).ok()) return std::nullopt;
    for (const auto& link : m->handovers)
        if (link.to == key) return m->channel;
    return std::nullopt;
}

bool needs_recovery(const std::optional<std::uint64_t>& published,
                    const std::optional<std::uint64_t>& network_head) {
    return network_head && (!published || *network_head > *published);
}

PublishDecision decide_publish(const std::vector<ManifestEntry>& scanned,
                               const std::optional<std::vector<ManifestEntry>>& previous_scan,
                               const std::optional<std::vector<ManifestEntry>>& published,
                               bool first) {
    using Kind = PublishDecision::Kind;
    if (published && *published == scanned) return {Kind::kNothing};
    if (first) return {Kind::kPublish};
    // Settled: two scans in a row saw the same files.
    if (previous_scan && *previous_scan == scanned) return {Kind::kPublish};
    return {Kind::kWait};
}

Publisher::Publisher(Node& node, Trackers& trackers, PublisherOptions options, Logger log)
    : node_(node),
      trackers_(trackers),
      options_(std::move(options)),
      log_(std::move(log)),
      channel_(options_.handover ? options_.handover->channel
                                 : recorded_channel(options_, node.env())),
      scanned_(node.swarm_env().ex) {}

Publisher::~Publisher() {
    *alive_ = false;
    if (find_wait_ != nullptr) find_wait_->cancel();
}

fs::path Publisher::state_file() const {
    return options_.dir / ".seedshare" / "published";
}

std::vector<ManifestEntry> Publisher::scanned_files() const {
    std::vector<ManifestEntry> files;
    std::error_code ec;
    auto root = fs::canonical(options_.dir, ec);  // what the scan walks
    if (ec) root = options_.dir;
    const auto add = [&](const auto& entries) {
        for (const auto& [path, e] : entries) {
            const auto rel = path.lexically_relative(root).generic_string();
            // The scan's names are seed names; a path must also pass the
            // manifest's rules (depth, length): one that does not is left out.
            if (is_aside_path(rel)) continue;  // a copy kept aside here, not the channel's
            if (auto ok = validate_manifest_path(rel); !ok) {
                log_.warn("{}: not published: {}", rel, ok.error().message);
                continue;
            }
            files.push_back(ManifestEntry{rel, e.id, e.file.size});
        }
    };
    add(sharer_->shared());
    add(sharer_->duplicates());
    std::sort(files.begin(), files.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
    // No path may be a directory of another; the scan cannot produce that.
    return files;
}

void Publisher::take_lock() {
    // One process per DIR, as for a subscriber (ChannelStore's lock): another
    // publisher, or a subscriber syncing into it, would fight over its files.
    auto locked = node_.env().lock(options_.dir / ".seedshare" / "lock");
    if (!locked) {
        const int code = locked.error().code;
        if (code == EWOULDBLOCK || code == EAGAIN)
            throw std::runtime_error(fmt::format(
                "{} is in use by another seedshare process (or another command of this one); "
                "one at a time",
                options_.dir.string()));
        throw std::runtime_error(locked.error().text());
    }
    lock_ = std::move(locked).value();
}

net::awaitable<void> Publisher::run(std::function<void()> on_ready) {
    Env& env = node_.env();
    if (auto made = env.create_directories(options_.dir / ".seedshare"); !made)
        throw std::runtime_error(made.error().text());
    take_lock();
    if (auto text = env.read_file(state_file(), limits::kMaxManifestBytes); text) {
        if (auto other = parse_manifest(*text); other && other->channel != channel_)
            throw std::runtime_error(
                options_.handover
                    ? fmt::format("{} was published as channel {}, not as channel {} of the "
                                  "hand-over record",
                                  options_.dir.string(), other->channel.hex(), channel_.hex())
                    : fmt::format("{} was published as channel {}, which this key does not "
                                  "publish (if it was handed over to this key, pass --handover "
                                  "RECORD)",
                                  options_.dir.string(), other->channel.hex()));
        auto m = parse_verified_manifest(*text, channel_);
        if (!m)
            throw std::runtime_error(fmt::format(
                "{}: {} (not this channel's last version; move it away to start afresh)",
                state_file().string(), m.error().message));
        published_ = std::move(*m);
        chain_ = published_->handovers;
        log_.info("last published here: version {} ({})", published_->version,
                  count_of(published_->files.size(), "file"));
    } else if (text.error().code != ENOENT) {
        throw std::runtime_error(text.error().text());
    }

    for (const auto& u : co_await trackers_.connect(options_.trackers))
        log_.warn("cannot reach {} (retrying in the background)", u);
    // Lost files are brought back before anything is published.
    const auto head = co_await trackers_head();
    if (needs_recovery(published_ ? std::optional(published_->version) : std::nullopt, head))
        co_await recover(*head);
    if (stopping_) co_return;

    // The mesh: subscribers ask us for manifests; a valid newer version of
    // this channel (the same key elsewhere) moves our next number past it.
    auto verify =
        [this](VersionRef asked,
               std::shared_ptr<const std::string> text) -> net::awaitable<ChannelMesh::Verdict> {
        auto m = parse_verified_manifest(*text, channel_);
        if (!m) co_return ChannelMesh::Verdict{Outcome::kForged, m.error().message};
        const auto v = version_of(*m);
        if (ref_of(v) != asked)
            co_return ChannelMesh::Verdict{Outcome::kForged, "not the version announced"};
        // Stale unless it beats both the network's head as known here and
        // what was published here (the head may not be known yet).
        if (!newer_than(v, network_head_) ||
            (published_ && !newer_than(v, version_of(*published_))))
            co_return ChannelMesh::Verdict{Outcome::kStale, {}};
        const auto lost = conflicts_lost_ + forks_lost_;
        heard_winner(v, *m);
        if (conflicts_lost_ + forks_lost_ != lost) {
            // said
        } else if (chain_to_publish(channel_, m->handovers, options_.handover,
                                    options_.key.public_key())) {
            log_.warn(
                "version {} of this channel was published elsewhere (the same key on another "
                "machine, or a new publisher's); the next version here will be {}",
                v.number, v.number + 1);
        } else {
            log_.info("version {} of this channel was published by key {}, which publishes it now",
                      v.number, publishing_key(channel_, m->handovers).hex());
        }
        network_head_ = v;
        chain_ = m->handovers;  // the winner's: ours, past ours, or a fork that won
        co_return ChannelMesh::Verdict{Outcome::kAccepted, {}};
    };
    mesh_ = ChannelMesh::create(node_, channel_, std::move(verify), options_.mesh, log_);
    if (published_)
        mesh_->hold(ref_of(*published_),
                    std::make_shared<const std::string>(format_manifest(*published_)));
    // Subscribers ask the publisher for the seeds of what it shares (by id,
    // through seed_index_, which each scan rebuilds).
    mesh_->set_seed_source([this](SeedId id) {
        std::optional<std::string> text;
        if (auto at = seed_index_.find(id); at != seed_index_.end() && sharer_) {
            const auto& shared = sharer_->shared();
            // The path may hold another seed since the index was built (a
            // rescan under way): only the seed asked for is ever answered.
            if (auto e = shared.find(at->second);
                e != shared.end() && e->second.transfer && e->second.id == id)
                text = format_seed(e->second.transfer->seed());
        }
        return ready(std::move(text));
    });
    mesh_->start();

    trackers_.follow(channel_, published_ ? published_->version : 0, options_.trackers);
    co_await learn_network_head();
    // A key that handed over (or that was never handed the channel) stops here.
    if (auto chain =
            chain_to_publish(channel_, chain_, options_.handover, options_.key.public_key());
        !chain)
        throw std::runtime_error(chain.error().message);
    net::spawn(node_.swarm_env().ex, find_subscribers(), log_, "find subscribers");

    SharerOptions so;
    so.dir = options_.dir;
    so.trackers = options_.trackers;
    so.state_dir = options_.seed_cache;
    so.rescan = options_.rescan;
    so.after_scan = [this] {
        seed_index_.clear();
        for (const auto& [path, e] : sharer_->shared())
            seed_index_.emplace(e.id, path);
        scanned_.cancel();
    };
    sharer_ = std::make_unique<Sharer>(node_, trackers_, so, log_);
    bool sharer_done = false;
    auto share_all = [this, &sharer_done]() -> net::awaitable<void> {
        struct Done {  // however the sharer ends (it may throw)
            Publisher* p;
            bool* done;
            ~Done() {
                *done = true;
                p->scanned_.cancel();
            }
        } done{this, &sharer_done};
        co_await sharer_->run();
    };
    net::spawn(node_.swarm_env().ex, share_all(), log_, "sharer");

    std::optional<std::vector<ManifestEntry>> previous_scan;
    std::size_t seen_scans = 0;
    bool first = true;
    while (!stopping_ && !sharer_done) {
        // (A scan that ended while we published is taken at once: its
        // cancel reached no wait.)
        if (sharer_->scans() == seen_scans) {
            asio::error_code ec;
            scanned_.expires_at(asio::steady_timer::time_point::max());
            co_await scanned_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        if (stopping_ || sharer_done || sharer_->scans() == seen_scans) continue;
        seen_scans = sharer_->scans();
        auto files = scanned_files();
        std::optional<std::vector<ManifestEntry>> published_files;
        if (published_) published_files = published_->files;
        const auto decision = decide_publish(files, previous_scan, published_files, first);
        previous_scan = files;
        if (decision.kind == PublishDecision::Kind::kPublish) co_await publish(std::move(files));
        if (first && on_ready) on_ready();
        first = false;
    }
    sharer_->stop();
    while (!sharer_done) {  // the sharer's run ends soon after stop()
        asio::error_code ec;
        scanned_.expires_after(50ms);
        co_await scanned_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_await mesh_->stop(kPublisherLeaveGrace);
}

void Publisher::lost_conflict(std::uint64_t number) {
    // Heard from a tracker and from the mesh alike: said once per number.
    if (last_lost_ == number) return;
    last_lost_ = number;
    ++conflicts_lost_;
    log_.warn(
        "version {} published here lost a conflict: the same key signed another version {} "
        "elsewhere (a second publisher?), and every peer keeps that one (the lower body hash "
        "wins); DIR's content here is not what subscribers hold, and the next version here "
        "will be {}",
        number, number, number + 1);
}

void Publisher::heard_winner(const ManifestVersion& v, const Manifest& m) {
    if (!published_) return;
    const auto published = version_of(*published_);
    if (!replaces_held(v, published)) return;  // it lost, or is the one published here
    switch (freshness(published, v)) {
        case Freshness::kConflict:
            lost_conflict(v.number);
            return;
        case Freshness::kForked: {
            // Said once per split (the winning branch may hand over again).
            const auto split = std::mismatch(v.chain.begin(), v.chain.end(),
                                             published.chain.begin(), published.chain.end());
            if (last_fork_lost_ == *split.first) return;
            last_fork_lost_ = *split.first;
            ++forks_lost_;
            log_.warn(
                "version {} published here lost to version {}, whose hand-overs fork from this "
                "one's (a key handed publishing over twice); every peer keeps that chain (where "
                "chains split, the lower chain id wins): key {} publishes the channel now, not "
                "this one",
                published.number, v.number, publishing_key(m.channel, m.handovers).hex());
            return;
        }
        default:
            return;
    }
}

void Publisher::stop() {
    stopping_ = true;
    if (recovering_ != nullptr) recovering_->stop();
    scanned_.cancel();
    if (find_wait_ != nullptr) find_wait_->cancel();
}

// The number of the latest valid version the trackers know; nullopt when
// none answered with one.
net::awaitable<std::optional<std::uint64_t>> Publisher::trackers_head() {
    std::optional<ManifestVersion> best;
    try {
        const auto texts = co_await trackers_.get_manifests(channel_, options_.trackers);
        for (const auto& text : texts)
            if (auto m = parse_verified_manifest(text, channel_);
                m && newer_than(version_of(*m), best))
                best = version_of(*m);
    } catch (const std::exception& e) {
        log_.warn("could not ask the trackers for the channel's latest version: {}", e.what());
    }
    co_return best ? std::optional(best->number) : std::nullopt;
}

net::awaitable<void> Publisher::recover(std::uint64_t head) {
    const std::string had = published_ ? fmt::format("version {}", published_->version)
                                       : std::string("no published version");
    log_.warn(
        "{} holds {}, but the channel is at version {}: bringing {} back to it from the "
        "network first (nothing is published until then, so nothing lost is deleted)",
        options_.dir.string(), had, head, options_.dir.string());
    fmt::print("recovering version {} from the network\n", head);
    std::fflush(stdout);
    SubscriberOptions so;
    so.channel = channel_;
    so.dir = options_.dir;
    so.trackers = options_.trackers;
    so.once = true;
    so.mesh = options_.mesh;
    so.tracker_poll = std::min<std::chrono::milliseconds>(so.tracker_poll, options_.rescan * 5);
    // The subscriber takes DIR's lock (ChannelStore) while it syncs.
    lock_ = FileLock{};
    Subscriber subscriber(node_, trackers_, so, log_);
    recovering_ = &subscriber;
    auto outcome = Subscriber::Outcome::kStopped;
    try {
        outcome = co_await subscriber.run();
    } catch (...) {
        // Never left pointing at the subscriber this frame destroys (stop()
        // would call it), and DIR is ours again.
        recovering_ = nullptr;
        take_lock();
        throw;
    }
    recovering_ = nullptr;
    take_lock();
    if (stopping_) co_return;
    if (outcome != Subscriber::Outcome::kUpToDate || !subscriber.applied())
        throw std::runtime_error(fmt::format(
            "{} could not be brought back to version {} of the channel ({}); nothing was "
            "published",
            options_.dir.string(), head,
            subscriber.message().empty() ? "no peer could send it" : subscriber.message()));
    const Manifest& got = *subscriber.applied();
    const std::string text = format_manifest(got);
    if (auto saved = node_.env().write_file_atomically(state_file(), text); !saved)
        throw std::runtime_error(
            fmt::format("cannot record the version recovered: {}", saved.error().text()));
    published_ = got;
    chain_ = got.handovers;
    recovered_ = got.version;
    log_.info("{} is at version {} again ({}); publishing goes on from it", options_.dir.string(),
              got.version, count_of(got.files.size(), "file"));
    fmt::print("recovered version {}: {}\n", got.version, count_of(got.files.size(), "file"));
    std::fflush(stdout);
}

net::awaitable<void> Publisher::learn_network_head() {
    std::optional<std::string> head_text;
    bool answered = false;
    try {
        const auto texts = co_await trackers_.get_manifests(channel_, options_.trackers);
        answered = true;
        for (const auto& text : texts) {
            auto m = parse_verified_manifest(text, channel_);
            if (!m) {
                log_.warn("a tracker holds an invalid manifest for this channel: {}",
                          m.error().message);
                continue;
            }
            const auto v = version_of(*m);
            if (newer_than(v, network_head_)) {
                heard_winner(v, *m);
                network_head_ = v;
                head_text = text;
                chain_ = m->handovers;
            }
        }
    } catch (const std::exception& e) {
        log_.warn("could not ask the trackers for the channel's latest version: {}", e.what());
    }
    // The mesh holds the newest version anyone has, so that it does not
    // fetch from subscribers what it already knows of.
    if (head_text && mesh_)
        mesh_->hold(ref_of(*network_head_), std::make_shared<const std::string>(*head_text));
    // A version published here that the trackers lack (one was down when it
    // was published): offered again.
    if (answered && published_ && newer_than(version_of(*published_), network_head_)) {
        const std::string text = format_manifest(*published_);
        for (const auto& put : co_await trackers_.put_manifest(text, options_.trackers))
            if (!put.kept)
                log_.warn("tracker {} did not take version {}: {}", put.tracker.str(),
                          published_->version, put.error);
        network_head_ = version_of(*published_);
    }
    if (answered && published_ && network_head_ &&
        freshness(version_of(*published_), *network_head_) == Freshness::kConflict &&
        conflict_winner(*network_head_, version_of(*published_)) == *network_head_)
        lost_conflict(published_->version);
    if (network_head_ && (!published_ || network_head_->number > published_->version))
        log_.info("the trackers know version {} of this channel; publishing continues from it",
                  network_head_->number);
}

net::awaitable<void> Publisher::publish(std::vector<ManifestEntry> files) {
    auto chain = chain_to_publish(channel_, chain_, options_.handover, options_.key.public_key());
    if (!chain) {
        ++publishes_refused_;
        log_.error("not publishing: {}", chain.error().message);
        co_return;
    }
    Manifest m;
    m.channel = channel_;
    m.handovers = std::move(*chain);
    std::uint64_t last = published_ ? published_->version : 0;
    if (network_head_) last = std::max(last, network_head_->number);
    if (last >= limits::kMaxManifestVersion) {
        log_.error("the channel is at its last version number; nothing more can be published");
        co_return;
    }
    m.version = last + 1;
    // A new publisher's first number is its hand-over's (numbers may skip).
    if (!m.handovers.empty()) m.version = std::max(m.version, m.handovers.back().from);
    // The version before is the network's at that number: after a lost
    // conflict, the winner's, not the one published here (adopted, not fought).
    if (network_head_ && network_head_->number == last)
        m.previous = network_head_->body_hash;
    else if (published_ && published_->version == last)
        m.previous = manifest_body_hash(*published_);
    m.time =
        static_cast<std::int64_t>(std::chrono::system_clock::to_time_t(node_.clock().system_now()));
    m.name = options_.name;
    m.files = std::move(files);
    m = sign_manifest(std::move(m), options_.key);
    const std::string text = format_manifest(m);
    // What we sign must be what every subscriber accepts.
    if (auto back = parse_verified_manifest(text, channel_); !back) {
        log_.error("not publishing: the manifest does not check: {}", back.error().message);
        co_return;
    }
    if (auto saved = node_.env().write_file_atomically(state_file(), text); !saved) {
        log_.error("not publishing: cannot record it: {}", saved.error().text());
        co_return;
    }
    const std::uint64_t bytes = manifest_bytes(m);
    std::size_t changed = 0;
    if (published_) {
        for (const auto& f : m.files)
            if (!std::binary_search(published_->files.begin(), published_->files.end(), f,
                                    [](const auto& a, const auto& b) {
                                        return std::tie(a.path, a.seed, a.length) <
                                               std::tie(b.path, b.seed, b.length);
                                    }))
                ++changed;
    } else {
        changed = m.files.size();
    }
    published_ = m;
    ++versions_published_;
    const auto v = version_of(m);
    network_head_ = v;
    mesh_->hold(ref_of(v), std::make_shared<const std::string>(text));
    fmt::print("published version {}: {}, {} ({} new or changed)\n", m.version,
               count_of(m.files.size(), "file"), format_bytes(bytes), changed);
    std::fflush(stdout);
    trackers_.follow(channel_, m.version, options_.trackers);
    for (const auto& put : co_await trackers_.put_manifest(text, options_.trackers)) {
        if (put.kept) continue;
        if (put.refusal == TrackerError::Kind::kManifestConflict && published_ &&
            published_->version == m.version) {
            lost_conflict(m.version);
            continue;
        }
        log_.warn("tracker {} did not take version {}: {}", put.tracker.str(), m.version,
                  put.error);
    }
}

net::awaitable<void> Publisher::find_subscribers() {
    // The Publisher may be gone when a wait ends: `alive` says.
    const auto alive = alive_;
    while (*alive && !stopping_) {
        std::vector<PeerAddress> addresses;
        try {
            const auto peers = co_await trackers_.channel_peers(channel_, options_.trackers, 50);
            if (!*alive) co_return;
            for (const auto& p : peers)
                addresses.push_back(PeerAddress{p.address, p.port});
        } catch (const std::exception& e) {
            if (!*alive) co_return;
            log_.debug("asking for the channel's subscribers: {}", e.what());
        }
        if (mesh_ && !addresses.empty())
            mesh_->add_candidates(addresses, PeerList::Source::kTracker);
        net::ClockTimer wait(node_.swarm_env().ex, node_.clock());
        find_wait_ = &wait;
        co_await net::sleep_for(wait, kFindSubscribersEvery);
        if (!*alive) co_return;
        find_wait_ = nullptr;
    }
}

}  // namespace seedshare
