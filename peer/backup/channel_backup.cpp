#include "peer/backup/channel_backup.hpp"

#include <fmt/format.h>

#include <set>

#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"
#include "common/net/offload.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

ChannelBackup::ChannelBackup(Node& node, Trackers& trackers, ChannelBackupOptions options,
                             Logger log)
    : node_(node),
      trackers_(trackers),
      options_(std::move(options)),
      log_(std::move(log)),
      wake_(node.swarm_env().ex, node.clock()) {}

ChannelBackup::~ChannelBackup() = default;

bool ChannelBackup::covers(const SeedId& id) const {
    for (const auto& [channel, s] : subscribers_)
        for (const auto* m : {&s->applied(), &s->latest()})
            if (*m)
                for (const auto& f : (*m)->files)
                    if (f.seed == id) return true;
    for (const auto& [channel, a] : archives_)
        if (a->holds(id)) return true;
    // What a channel held before a restart: until the first pass of run()
    // has followed what it will follow, then while a channel followed again
    // has not read it back (one not followed, or whose subscriber ended,
    // leaves its seeds to the file mirror).
    for (const auto& [channel, r] : restored_) {
        if (!r.seeds.contains(id) || ended_.contains(channel)) continue;
        if (!first_pass_done_ || (subscribers_.contains(channel) && !settled(channel))) return true;
    }
    return false;
}

std::vector<std::uint64_t> ChannelBackup::kept(const ChannelId& channel) const {
    const auto it = archives_.find(channel);
    return it == archives_.end() ? std::vector<std::uint64_t>{} : it->second->kept();
}

std::uint64_t ChannelBackup::applied(const ChannelId& channel) const {
    const auto it = subscribers_.find(channel);
    if (it == subscribers_.end() || !it->second->applied()) return 0;
    return it->second->applied()->version;
}

namespace {

// Bytes of `m`'s files whose seeds `held` does not name (each seed once).
std::uint64_t new_bytes(const Manifest& m, const std::optional<Manifest>& held) {
    std::set<SeedId> have;
    if (held)
        for (const auto& f : held->files)
            have.insert(f.seed);
    std::uint64_t n = 0;
    for (const auto& f : m.files)
        if (have.insert(f.seed).second) n = add_saturating(n, f.length);
    return n;
}

}  // namespace

// A version is applied by fetching its new files beside the applied ones,
// then installing them; the files it drops are deleted, or kept by the
// archive (--keep-versions above 1). So while it is applied, and after it
// with an archive, the channel holds its applied version, the new version's
// new files and what the archive kept: that is what is counted.
std::uint64_t ChannelBackup::channel_bytes(const ChannelId& channel) const {
    std::uint64_t n = held_of(channel);
    std::uint64_t applied_version = 0;
    if (const auto s = subscribers_.find(channel); s != subscribers_.end() && s->second->applied())
        applied_version = s->second->applied()->version;
    if (const auto a = admitted_.find(channel);
        a != admitted_.end() && a->second.version > applied_version)
        n = add_saturating(n, a->second.new_bytes);
    return n;
}

bool ChannelBackup::settled(const ChannelId& channel) const {
    const auto s = subscribers_.find(channel);
    if (s == subscribers_.end() || !s->second->applied()) return false;
    const auto a = archives_.find(channel);
    return a == archives_.end() || a->second->read_back();
}

std::uint64_t ChannelBackup::held_of(const ChannelId& channel) const {
    std::uint64_t n = 0;
    std::uint64_t applied_version = 0;
    if (const auto s = subscribers_.find(channel);
        s != subscribers_.end() && s->second->applied()) {
        n = manifest_bytes(*s->second->applied());
        applied_version = s->second->applied()->version;
    }
    // What is kept of the applied version (while the next one is fetched)
    // is links to the files in DIR, counted above.
    if (const auto a = archives_.find(channel); a != archives_.end())
        n = add_saturating(n, a->second->kept_bytes() - a->second->bytes_of(applied_version));
    // Until the subscriber and the archive have read back what is on disk.
    if (const auto r = restored_.find(channel); r != restored_.end() && !settled(channel))
        n = std::max(n, r->second.bytes);
    return n;
}

std::uint64_t ChannelBackup::refused(const ChannelId& channel) const {
    const auto it = subscribers_.find(channel);
    return it == subscribers_.end() ? 0 : it->second->refused_version();
}

std::uint64_t ChannelBackup::held_bytes() const {
    std::uint64_t n = 0;
    for (const auto& [channel, s] : subscribers_)
        n = add_saturating(n, channel_bytes(channel));
    // Held on disk, not (yet) followed.
    for (const auto& [channel, r] : restored_)
        if (!subscribers_.contains(channel)) n = add_saturating(n, r.bytes);
    return n;
}

namespace {

// Version directories of a channel looked at by restore(), at most.
constexpr std::size_t kMaxRestoredVersions = 4096;

// Bytes of the files kept in a channel's version directories (ROOT/<n>/,
// as VersionArchive reads them: a canonical number, a real directory; the
// .seed files left out), but for version `except` (the applied one: what is
// kept of it is links to the files in DIR, counted there).
std::uint64_t kept_on_disk(Env& env, const fs::path& root, std::uint64_t except) {
    std::uint64_t n = 0;
    auto versions = env.list_dir(root);
    if (!versions) return 0;
    std::size_t looked = 0;
    for (const auto& v : *versions) {
        if (++looked > kMaxRestoredVersions) break;
        const auto number = parse_u64(v.name);
        if (!number || *number == 0 || *number == except || std::to_string(*number) != v.name)
            continue;
        if (const auto st = env.lstat(root / v.name); !st || st->type != FileType::kDirectory)
            continue;
        auto files = env.list_dir(root / v.name);
        if (!files) continue;
        for (const auto& f : *files)
            if (auto info = env.lstat(root / v.name / f.name);
                info && info->type == FileType::kRegular && !f.name.ends_with(".seed"))
                n = add_saturating(n, info->size);
    }
    return n;
}

}  // namespace

net::awaitable<void> ChannelBackup::restore() {
    auto job = [env = &node_.env(), dir = options_.dir, versions = options_.versions_dir,
                max = options_.max_channels] {
        std::map<ChannelId, Restored> found;
        auto listed = env->list_dir(dir);
        if (!listed) return found;
        std::size_t looked = 0;
        for (const auto& e : *listed) {
            const auto id = ChannelId::from_hex_string(e.name);
            if (!id) continue;
            if (++looked > max) break;
            Restored r;
            std::uint64_t applied = 0;
            const auto view = ChannelStore::inspect(dir / e.name, *env);
            if (const auto* v = std::get_if<ChannelStore::View>(&view); v && v->manifest)
                if (const auto m = parse_verified_manifest(*v->manifest, *id)) {
                    r.bytes = manifest_bytes(*m);
                    applied = m->version;
                    for (const auto& f : m->files)
                        r.seeds.insert(f.seed);
                }
            if (!versions.empty())
                r.bytes = add_saturating(r.bytes, kept_on_disk(*env, versions / e.name, applied));
            if (r.bytes > 0) found.emplace(*id, std::move(r));
        }
        return found;
    };
    restored_ = co_await offload(node_.pool(), std::move(job));
    std::uint64_t total = 0;
    for (const auto& [channel, r] : restored_)
        total = add_saturating(total, r.bytes);
    if (!restored_.empty())
        log_.info(
            "{} held from before ({}); counted in --max-size until followed again, and for "
            "good if not",
            count_of(restored_.size(), "channel"), format_bytes(total));
}

std::optional<std::string> ChannelBackup::admit(const ChannelId& channel, const Manifest& m) {
    // What the rest holds: the files mirrored, the other channels, and this
    // channel's applied version and kept files; `m` adds its new files.
    std::uint64_t rest = options_.others ? options_.others() : 0;
    for (const auto& [other, s] : subscribers_)
        if (other != channel) rest = add_saturating(rest, channel_bytes(other));
    std::optional<Manifest> applied;
    if (const auto s = subscribers_.find(channel); s != subscribers_.end())
        applied = s->second->applied();
    rest = add_saturating(rest, held_of(channel));
    const std::uint64_t size = new_bytes(m, applied);
    const std::uint64_t max = options_.max_size;
    const auto fits = [&](std::uint64_t held) { return held <= max && size <= max - held; };
    // The kept versions beyond --keep-versions once `m` is applied go
    // before its files are fetched (VersionArchive::replacing) when that is
    // what makes it fit; otherwise after it is applied, as always (they
    // still serve if it never is).
    if (const auto a = archives_.find(channel); a != archives_.end() && applied && !fits(rest)) {
        const std::uint64_t going = a->second->bytes_going(applied->version, m.version);
        if (going > 0 && fits(rest - std::min(rest, going))) {
            rest -= std::min(rest, going);
            a->second->drop_first(m.version);
        }
    }
    if (!fits(rest))
        return fmt::format(
            "its {} of new files do not fit in what --max-size ({}) leaves ({} held)",
            format_bytes(size), format_bytes(max), format_bytes(rest));
    admitted_[channel] = Admitted{m.version, size};
    return std::nullopt;
}

void ChannelBackup::stop() {
    stopping_ = true;
    wake_.notify();
    for (auto& [channel, s] : subscribers_)
        s->stop();
}

bool ChannelBackup::follow(const ChannelId& channel) {
    if (subscribers_.contains(channel) || stopping_) return true;
    if (subscribers_.size() >= options_.max_channels) return false;
    const fs::path dir = options_.dir / channel.hex();
    if (const auto made = node_.env().create_directories(dir); !made) {
        log_.warn("cannot make {}; channel {} not followed", made.error().text(), channel.hex());
        return true;
    }
    SubscriberOptions o;
    o.channel = channel;
    o.dir = dir;
    o.trackers = options_.trackers;
    o.rescan = options_.rescan;
    o.tracker_poll = options_.tracker_poll;
    o.mesh = options_.mesh;
    std::shared_ptr<VersionArchive> archive;
    // Also with --keep-versions 1: what an earlier run kept with more is dropped.
    if (!options_.versions_dir.empty()) {
        VersionArchiveOptions a;
        a.root = options_.versions_dir / channel.hex();
        a.keep = options_.keep_versions;
        a.trackers = options_.trackers;
        archive = std::make_shared<VersionArchive>(node_, trackers_, a, log_, node_.env());
        archives_[channel] = archive;
        o.keeper = archive;
    }
    if (options_.max_size > 0)
        o.admit = [this, channel](const Manifest& m) { return admit(channel, m); };
    auto s =
        std::make_shared<Subscriber>(node_, trackers_, o, log_.sub(channel.hex().substr(0, 8)));
    subscribers_[channel] = s;
    ++running_;
    log_.info("following channel {} into {}", channel.hex(), dir.string());
    net::spawn(node_.swarm_env().ex, run_subscriber(channel, s, archive), log_, "channel backup");
    return true;
}

net::awaitable<void> ChannelBackup::run_subscriber(ChannelId channel, std::shared_ptr<Subscriber> s,
                                                   std::shared_ptr<VersionArchive> archive) {
    Logger log = log_;
    const std::function<void(const Manifest&, const SyncReport&)> said =
        [log](const Manifest& m, const SyncReport& r) {
            log.info("channel {} ({}): version {} held, {}; {} fetched", m.channel.hex(), m.name,
                     m.version, count_of(m.files.size(), "file"), r.fetched);
        };
    const auto outcome = co_await s->run(said);
    if (outcome != Subscriber::Outcome::kStopped) {
        ended_.insert(channel);
        log_.warn("channel {}: no longer followed: {}", channel.hex(), s->message());
    }
    if (archive) co_await archive->leave();
    --running_;
    wake_.notify();  // run() may be waiting for the last one
}

net::awaitable<void> ChannelBackup::run() {
    if (stopping_) co_return;  // stopped before it began: nothing follows
    for (const auto& u : co_await trackers_.connect(options_.trackers))
        log_.warn("cannot reach {} (retrying in the background)", u);
    std::size_t over = 0;
    for (const auto& c : options_.channels)
        over += follow(c) ? 0 : 1;
    if (over > 0)
        log_.warn("not following {} of the channels named: the backup follows its limit of {}",
                  over, options_.max_channels);
    if (!options_.channels.empty()) first_pass_done_ = true;
    while (!stopping_) {
        if (options_.channels.empty()) {
            std::vector<tracker_proto::ChannelInfo> listed;
            bool ok = true;
            try {
                listed =
                    co_await trackers_.list_channels(options_.trackers, limits::kMaxBackupListing);
            } catch (const std::exception& e) {
                ok = false;
                if (!listing_failed_) log_.warn("no tracker listed its channels: {}", e.what());
            }
            listing_failed_ = !ok;
            if (ok) first_pass_done_ = true;
            std::size_t not_followed = 0;
            for (const auto& c : listed)
                not_followed += follow(c.channel) ? 0 : 1;
            if (not_followed > 0 && not_followed != over)
                log_.warn(
                    "not following {} of the channels listed: the backup follows its limit "
                    "of {}",
                    not_followed, options_.max_channels);
            over = not_followed;
        }
        // A stop() while the trackers were asked ends this at once.
        co_await wake_.sleep(options_.poll);
    }
    // Every subscriber was told to stop: none may outlive this object (each
    // refers to it and to the Node), so wait for the last, however long
    // (each that ends notifies; the sleep is a bound, not the pace).
    while (running_ > 0) {
        co_await wake_.sleep(1s);
    }
}

}  // namespace seedshare
