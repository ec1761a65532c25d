#include "peer/backup/version_archive.hpp"

#include <set>

#include <fmt/format.h>

#include "common/core/limits.hpp"
#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"
#include "common/net/join_all.hpp"
#include "common/net/offload.hpp"
#include "peer/storage/storage.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr auto kArchiveLeaveGrace = 2000ms;
constexpr std::string_view kSeedSuffix = ".seed";

std::set<SeedId> seeds_of(const Manifest& m) {
    std::set<SeedId> out;
    for (const auto& f : m.files)
        out.insert(f.seed);
    return out;
}

// A flat directory (the archive's layout has no subdirectories) and what is in it.
IoStatus remove_flat(Env& env, const fs::path& dir) {
    auto listed = env.list_dir(dir);
    if (!listed) return listed.error().code == ENOENT ? IoStatus{Ok{}} : IoStatus{listed.error()};
    for (const auto& e : *listed)
        if (auto r = env.remove(dir / e.name); !r) return r;
    return env.remove(dir);
}

struct Kept {
    std::map<SeedId, Seed> added;
    std::vector<std::string> left_out;   // "PATH: why" for each file not kept
    std::optional<std::string> failure;  // the directory could not be made
};

// Adds to ROOT/<version> the files of `files` named in `missing` (the
// applied version's files that the next version does not name: the others
// stay in DIR, served by the subscriber, and are kept, if ever, with the
// version that replaces them). Each as its data (a link), then its seed.
Kept keep_files(Env& env, const fs::path& version_dir, const std::vector<RecordedFile>& files,
                const fs::path& dir, const std::set<SeedId>& missing) {
    Kept out;
    if (auto r = env.create_directories(version_dir); !r) {
        out.failure = r.error().text();
        return out;
    }
    for (const auto& f : files) {
        const SeedId id = f.seed.id();
        if (!missing.contains(id) || out.added.contains(id)) continue;
        const fs::path path = dir / f.path;
        const fs::path data = version_dir / id.hex();
        auto st = env.lstat(path);
        if (!st || st->type != FileType::kRegular || st->size != f.stamp.size ||
            st->mtime_ns != f.stamp.mtime_ns || st->inode != f.stamp.ino) {
            out.left_out.push_back(f.path + ": changed on disk");
            continue;
        }
        (void)env.remove(data);  // a link without its seed, left by a stop
        if (auto linked = env.link(path, data); !linked) {
            out.left_out.push_back(f.path + ": " + linked.error().text());
            continue;
        }
        if (auto r = env.write_file_atomically(version_dir / (id.hex() + std::string(kSeedSuffix)),
                                               format_seed(f.seed));
            !r) {
            (void)env.remove(data);
            out.left_out.push_back(f.path + ": " + r.error().text());
            continue;
        }
        out.added.emplace(id, f.seed);
    }
    return out;
}

struct Loaded {
    std::map<std::uint64_t, VersionArchive::Held> versions;
    std::vector<std::string> said;  // one line each: what was left out or removed
};

// One kept version read back: every `<id>.seed` parsed strictly and named
// by its id, its file there with the seed's size. Anything else in the
// directory (a file whose seed was never written, a seed that fails, a
// temporary file) is removed.
VersionArchive::Held read_version(Env& env, const fs::path& dir, std::uint64_t version,
                                  std::vector<std::string>& said) {
    VersionArchive::Held held;
    held.meta.version = version;
    auto listed = env.list_dir(dir);
    if (!listed) {
        said.push_back(fmt::format("version {}: {}", version, listed.error().text()));
        return held;
    }
    std::set<std::string> usable;
    std::size_t refused = 0;
    for (const auto& e : *listed) {
        if (!e.name.ends_with(kSeedSuffix)) continue;
        const std::string hex = e.name.substr(0, e.name.size() - kSeedSuffix.size());
        const auto id = SeedId::from_hex_string(hex);
        if (!id) continue;
        auto text = env.read_file(dir / e.name, limits::kMaxSeedBytes);
        auto seed = text ? parse_seed(*text) : Result<Seed>{Error{"unreadable"}};
        auto st = env.lstat(dir / hex);
        if (seed && seed->id() == *id && st && st->type == FileType::kRegular &&
            st->size == seed->length) {
            held.seeds.emplace(*id, std::move(*seed));
            held.meta.seeds.insert(*id);
            usable.insert(e.name);
            usable.insert(hex);
        } else {
            ++refused;
        }
    }
    for (const auto& e : *listed)
        if (!usable.contains(e.name)) (void)env.remove(dir / e.name);
    if (refused > 0)
        said.push_back(fmt::format("version {}: {} unusable, removed", version,
                                   count_of(refused, "kept file")));
    return held;
}

Loaded load_versions(Env& env, const fs::path& root) {
    Loaded out;
    auto listed = env.list_dir(root);
    if (!listed) {
        if (listed.error().code != ENOENT) out.said.push_back(listed.error().text());
        return out;
    }
    for (const auto& e : *listed) {
        const auto version = parse_u64(e.name);
        if (!version || *version == 0 || std::to_string(*version) != e.name) continue;
        // Only a real directory: never read or remove through a symlink.
        const auto st = env.lstat(root / e.name);
        if (!st || st->type != FileType::kDirectory) {
            out.said.push_back(fmt::format("{} is not a directory: left alone", e.name));
            continue;
        }
        out.versions[*version] = read_version(env, root / e.name, *version, out.said);
    }
    return out;
}

net::awaitable<void> leave_archived(std::unique_ptr<FileTransfer> t) {
    co_await t->leave(kArchiveLeaveGrace);
}

}  // namespace

VersionArchive::VersionArchive(Node& node, Trackers& trackers, VersionArchiveOptions options,
                               Logger log, Env& env)
    : node_(node),
      trackers_(trackers),
      options_(std::move(options)),
      log_(std::move(log)),
      env_(&env) {}

VersionArchive::~VersionArchive() = default;

std::vector<std::uint64_t> VersionArchive::kept() const {
    std::vector<std::uint64_t> out;
    for (const auto& [v, h] : versions_)
        out.push_back(v);
    return out;
}

std::uint64_t VersionArchive::kept_bytes() const {
    // (The same seed kept by two versions is two files on disk.)
    std::uint64_t n = 0;
    for (const auto& [v, h] : versions_)
        n += bytes_of(v);
    return n;
}

std::uint64_t VersionArchive::bytes_of(std::uint64_t version) const {
    const auto it = versions_.find(version);
    if (it == versions_.end()) return 0;
    std::uint64_t n = 0;
    for (const auto& [id, seed] : it->second.seeds)
        n += seed.length;
    return n;
}

std::uint64_t VersionArchive::bytes_going(std::uint64_t applied, std::uint64_t next) const {
    if (next <= applied) return 0;
    auto metas_then = metas();
    if (applied < next && !versions_.contains(applied))
        metas_then.push_back(KeptVersion{applied, {}});
    std::uint64_t n = 0;
    // (What is kept of `applied` itself is links to DIR's files, not counted
    // in --max-size: dropping it frees nothing that was counted.)
    for (const auto v : plan_retention(metas_then, next, {}, options_.keep).drop)
        if (v != applied) n += bytes_of(v);
    return n;
}

bool VersionArchive::holds(const SeedId& id) const {
    for (const auto& [v, h] : versions_)
        if (h.meta.seeds.contains(id)) return true;
    return false;
}

net::awaitable<void> VersionArchive::load() {
    if (loaded_) co_return;
    loaded_ = true;
    auto job = [env = env_, root = options_.root] { return load_versions(*env, root); };
    Loaded loaded = co_await offload(node_.pool(), std::move(job));
    for (const auto& line : loaded.said)
        log_.warn("kept versions in {}: {}", options_.root.string(), line);
    versions_ = std::move(loaded.versions);
    read_back_ = true;
    if (!versions_.empty())
        log_.info("{} kept in {}", count_of(versions_.size(), "earlier version"),
                  options_.root.string());
}

net::awaitable<void> VersionArchive::replacing(const Manifest& applied,
                                               const std::vector<RecordedFile>& files,
                                               const fs::path& dir, const Manifest& next) {
    co_await load();
    const std::set<SeedId> live = seeds_of(next);
    // A repair (the same version) or a conflict settled against the applied
    // version (the same number) keeps nothing.
    if (options_.keep > 1 && next.version > applied.version) {
        // What `next` does not name and is not kept yet (a version kept when
        // an earlier attempt aimed at another next version gains the rest).
        Held& held = versions_[applied.version];
        held.meta.version = applied.version;
        // Only the applied version's own files (a stop in the middle of an
        // install may have recorded some of a later one's).
        std::set<std::pair<std::string, SeedId>> of_version;
        for (const auto& f : applied.files)
            of_version.emplace(f.path, f.seed);
        std::set<SeedId> missing;
        for (const auto& f : files)
            if (const SeedId id = f.seed.id();
                of_version.contains({f.path, id}) && !live.contains(id) && !held.seeds.contains(id))
                missing.insert(id);
        if (!missing.empty()) {
            auto job = [env = env_, vdir = options_.root / std::to_string(applied.version), files,
                        dir, missing] { return keep_files(*env, vdir, files, dir, missing); };
            Kept kept = co_await offload(node_.pool(), std::move(job));
            if (!kept.left_out.empty())
                log_.warn("version {} is not wholly kept: {} not kept: {}", applied.version,
                          count_of(kept.left_out.size(), "file"), fmt::join(kept.left_out, "; "));
            if (kept.failure) log_.warn("version {} not kept: {}", applied.version, *kept.failure);
            log_.info("keeping version {}: {} that version {} does not name", applied.version,
                      count_of(kept.added.size(), "file"), next.version);
            // Looked up again: a map's references stay, but say so plainly.
            Held& now = versions_[applied.version];
            for (auto& [id, seed] : kept.added) {
                now.meta.seeds.insert(id);
                now.seeds.emplace(id, std::move(seed));
            }
        }
    }
    // Asked to (drop_first(): --max-size needs their room), the versions
    // beyond --keep-versions once `next` is applied go now, before its
    // files are fetched; otherwise once it is applied (applied()), so they
    // still serve if it never is. What stays serves as it will then, but
    // for the seeds the subscriber still serves from DIR (carry_out() leaves
    // a seed with a swarm in the Node alone) and those `next` names.
    if (next.version > applied.version && drop_first_ == next.version)
        co_await carry_out(plan_retention(metas(), next.version, live, options_.keep));
    std::vector<net::awaitable<void>> leaves;
    for (auto it = serving_.begin(); it != serving_.end();) {
        if (!live.contains(it->first)) {
            ++it;
            continue;
        }
        leaves.push_back(leave_archived(std::move(it->second)));
        it = serving_.erase(it);
    }
    co_await net::join_all(std::move(leaves));
}

net::awaitable<void> VersionArchive::applied(const Manifest& applied) {
    co_await load();
    co_await carry_out(plan_retention(metas(), applied.version, seeds_of(applied), options_.keep));
}

std::vector<KeptVersion> VersionArchive::metas() const {
    std::vector<KeptVersion> out;
    for (const auto& [v, h] : versions_)
        out.push_back(h.meta);
    return out;
}

net::awaitable<void> VersionArchive::carry_out(const RetentionPlan& plan) {
    std::vector<net::awaitable<void>> leaves;
    for (auto it = serving_.begin(); it != serving_.end();) {
        if (plan.serve.contains(it->first)) {
            ++it;
            continue;
        }
        leaves.push_back(leave_archived(std::move(it->second)));
        it = serving_.erase(it);
    }
    co_await net::join_all(std::move(leaves));
    for (const auto v : plan.drop) {
        versions_.erase(v);
        auto job = [env = env_, dir = options_.root / std::to_string(v)] {
            return remove_flat(*env, dir);
        };
        const IoStatus removed = co_await offload(node_.pool(), std::move(job));
        if (!removed)
            log_.warn("cannot remove version {}: {}", v, removed.error().text());
        else
            log_.info("version {} no longer kept", v);
    }
    for (const auto& id : plan.serve) {
        if (serving_.contains(id) || node_.find(id)) continue;
        // The newest kept version holding it.
        for (auto it = versions_.rbegin(); it != versions_.rend(); ++it) {
            const auto seed = it->second.seeds.find(id);
            if (seed == it->second.seeds.end()) continue;
            auto opened =
                FileStorage::open_read(options_.root / std::to_string(it->first) / id.hex(), *env_);
            if (!opened) {
                log_.warn("cannot serve {} of version {}: {}", seed->second.name, it->first,
                          opened.error().message);
                break;
            }
            auto t = FileTransfer::share(node_, trackers_, options_.trackers, seed->second,
                                         std::move(*opened), log_);
            t->start();
            serving_[id] = std::move(t);
            break;
        }
    }
}

net::awaitable<void> VersionArchive::leave() {
    std::vector<net::awaitable<void>> leaves;
    for (auto& [id, t] : serving_)
        leaves.push_back(leave_archived(std::move(t)));
    serving_.clear();
    co_await net::join_all(std::move(leaves));
}

}  // namespace seedshare
