#include "peer/channel/sync_planner.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "common/core/limits.hpp"
#include "peer/channel/aside_name.hpp"
#include "peer/channel/local_view.hpp"

namespace seedshare {

namespace {

// What is known of a file's bytes: from its seed or from hashing it.
struct Content {
    std::uint64_t length = 0;
    const Digest* file_hash = nullptr;
    std::uint64_t chunk_size = 0;
    const std::vector<Digest>* chunks = nullptr;

    static Content of(const Seed& s) {
        return {s.length, &s.file_hash, s.chunk_size, &s.chunk_hashes};
    }
    static Content of(const HashedFile& h) {
        return {h.stamp.size, &h.file_hash, h.chunk_size, &h.chunk_hashes};
    }
    // An empty file is known without hashing: there is nothing to compare.
    static Content empty() {
        static const std::vector<Digest> kNoChunks;
        return {0, nullptr, 1, &kNoChunks};
    }
    bool same_bytes(const Content& o) const {
        return length == o.length && (length == 0 || *file_hash == *o.file_hash);
    }
    std::uint32_t chunk_length(std::size_t i) const {
        const std::uint64_t offset = std::uint64_t{i} * chunk_size;
        return static_cast<std::uint32_t>(std::min(chunk_size, length - offset));
    }
};

enum class Knowledge {
    kKnown,     // recorded and unchanged, hashed this round, or a recorded file moved by name
    kUnknown,   // to be hashed (when it matters)
    kChanging,  // hashed, but changed since: treated as modified, never asked again
};

struct Known {
    Knowledge state = Knowledge::kUnknown;
    Content content;
};

// A chunk by what it holds: its hash and its length (both must match to reuse it).
using ChunkKey = std::pair<Digest, std::uint32_t>;

Status check_chunks(std::string_view what, std::string_view path, std::uint64_t length,
                    std::uint64_t chunk_size, std::size_t count) {
    if (chunk_size == 0 || chunk_size > limits::kMaxChunkSize)
        return Error{fmt::format("{} '{}': chunk size {} is out of range", what, path, chunk_size)};
    if (count != chunk_count_for(length, chunk_size))
        return Error{fmt::format("{} '{}': {} chunk hashes for length {} at chunk size {}", what,
                                 path, count, length, chunk_size)};
    return Ok{};
}

class Planner {
  public:
    Planner(const SyncState& state, LocalView local) : s_(state), local_(std::move(local)) {}

    Status index();
    SyncPlan plan();

  private:
    struct Move {
        const LocalEntry* entry;
        AsideReason reason;
        std::string aside;
    };
    // A target file to build.
    struct Build {
        std::size_t target;
        SyncAction action;  // kFetch or kRestore
        LocalChange change;
        std::optional<FileStamp> expected;  // what the install replaces
    };

    Known knowledge(const LocalEntry& e) const;
    bool ask_hashes(SyncPlan& plan) const;
    void move(const LocalEntry& e, AsideReason reason) { moves_[e.path] = Move{&e, reason, {}}; }
    bool inside_moved(std::string_view path) const;
    void name_asides();
    std::string where(std::string_view path) const;
    std::vector<std::string_view> removable_directories() const;
    void add_build(SyncPlan& plan, const Build& b, const std::map<ChunkKey, ChunkFrom>& index,
                   const std::vector<std::string>& source_paths) const;

    const SyncState& s_;
    LocalView local_;
    std::map<std::string_view, std::size_t, std::less<>> target_;  // path -> index
    std::set<std::string_view, std::less<>> target_dirs_;          // directories target paths need
    std::map<std::string_view, const RecordedFile*, std::less<>> recorded_;
    std::set<std::string_view, std::less<>> recorded_dirs_;  // directories recorded paths used
    std::map<std::string_view, const HashedFile*, std::less<>> hashed_;
    // Recorded files by stamp, to recognise one the user renamed (nullptr:
    // two recorded files share a stamp with different content; trust neither).
    std::map<FileStamp, const RecordedFile*> by_stamp_;

    std::map<std::string, Move, std::less<>> moves_;  // by the entry's path
    std::vector<Build> builds_;
    std::vector<std::size_t> keeps_;
    std::vector<const LocalEntry*> deletes_;
};

Status Planner::index() {
    for (std::size_t i = 0; i < s_.target.size(); ++i) {
        const auto& t = s_.target[i];
        if (auto ok = check_relative_path(t.path, "target file"); !ok) return ok;
        if (auto ok = check_chunks("target file", t.path, t.seed.length, t.seed.chunk_size,
                                   t.seed.chunk_hashes.size());
            !ok)
            return ok;
        if (!target_.emplace(t.path, i).second)
            return Error{fmt::format("target file '{}': listed twice", t.path)};
        for (auto dir : strict_prefixes(t.path))
            target_dirs_.insert(dir);
    }
    for (const auto& [path, i] : target_)
        if (target_dirs_.contains(path))
            return Error{fmt::format("target file '{}': also a directory of another", path)};
    for (const auto& r : s_.recorded) {
        if (auto ok = check_relative_path(r.path, "recorded file"); !ok) return ok;
        if (auto ok = check_chunks("recorded file", r.path, r.seed.length, r.seed.chunk_size,
                                   r.seed.chunk_hashes.size());
            !ok)
            return ok;
        if (!recorded_.emplace(r.path, &r).second)
            return Error{fmt::format("recorded file '{}': listed twice", r.path)};
        for (auto dir : strict_prefixes(r.path))
            recorded_dirs_.insert(dir);
        auto [it, fresh] = by_stamp_.emplace(r.stamp, &r);
        if (!fresh && it->second != nullptr &&
            !Content::of(it->second->seed).same_bytes(Content::of(r.seed)))
            it->second = nullptr;
    }
    for (const auto& h : s_.hashed) {
        if (auto ok = check_relative_path(h.path, "hashed file"); !ok) return ok;
        if (auto ok = check_chunks("hashed file", h.path, h.stamp.size, h.chunk_size,
                                   h.chunk_hashes.size());
            !ok)
            return ok;
        if (!hashed_.emplace(h.path, &h).second)
            return Error{fmt::format("hashed file '{}': listed twice", h.path)};
    }
    return Ok{};
}

Known Planner::knowledge(const LocalEntry& e) const {
    if (const auto r = recorded_.find(e.path); r != recorded_.end() && r->second->stamp == e.stamp)
        return {Knowledge::kKnown, Content::of(r->second->seed)};
    const auto h = hashed_.find(e.path);
    if (h != hashed_.end() && h->second->stamp == e.stamp)
        return {Knowledge::kKnown, Content::of(*h->second)};
    if (e.stamp.size == 0) return {Knowledge::kKnown, Content::empty()};
    if (const auto b = by_stamp_.find(e.stamp); b != by_stamp_.end() && b->second != nullptr)
        return {Knowledge::kKnown, Content::of(b->second->seed)};
    return {h != hashed_.end() ? Knowledge::kChanging : Knowledge::kUnknown, {}};
}

// The files whose content decides something and is unknown: a recorded file
// whose stamp changed (edited, or only touched?), and an unrecorded file
// where a target file goes with the target's length (already the target?).
bool Planner::ask_hashes(SyncPlan& plan) const {
    std::vector<SyncStep> asks;
    auto ask = [&](const LocalEntry& e, std::uint64_t chunk_size) {
        if (e.kind != EntryKind::kFile || knowledge(e).state != Knowledge::kUnknown) return;
        SyncStep step;
        step.action = SyncAction::kHash;
        step.path = e.path;
        step.chunk_size = chunk_size;
        asks.push_back(std::move(step));
    };
    for (const auto& [path, i] : target_) {
        const LocalEntry* e = local_.find(path);
        const Seed& seed = s_.target[i].seed;
        if (e != nullptr && (recorded_.contains(path) || e->stamp.size == seed.length))
            ask(*e, seed.chunk_size);
    }
    for (const auto& [path, r] : recorded_) {
        const LocalEntry* e = local_.find(path);
        if (e != nullptr && !target_.contains(path)) ask(*e, r->seed.chunk_size);
    }
    std::sort(asks.begin(), asks.end(),
              [](const SyncStep& a, const SyncStep& b) { return a.path < b.path; });
    plan.summary.to_hash = asks.size();
    plan.steps = std::move(asks);
    return plan.summary.to_hash != 0;
}

bool Planner::inside_moved(std::string_view path) const {
    for (auto dir : strict_prefixes(path))
        if (moves_.contains(dir)) return true;
    return false;
}

void Planner::name_asides() {
    std::set<std::string, std::less<>> chosen;
    for (auto& [path, m] : moves_) {
        m.aside = aside_path(path, m.reason, [&](std::string_view c) {
            return local_.listed(c) || target_.contains(c) || target_dirs_.contains(c) ||
                   recorded_.contains(c) || recorded_dirs_.contains(c) || chosen.contains(c);
        });
        chosen.insert(m.aside);
    }
}

// Where an entry is once the moves are done. Moves never nest (an entry
// moved is never inside another moved one), so one prefix at most matches.
std::string Planner::where(std::string_view path) const {
    auto dirs = strict_prefixes(path);
    dirs.push_back(path);
    for (auto dir : dirs)
        if (const auto m = moves_.find(dir); m != moves_.end())
            return m->second.aside + std::string(path.substr(dir.size()));
    return std::string(path);
}

// Directories to remove, deepest first: a directory the channel made (some
// recorded file lay under it), that no target file needs, and in which
// nothing stays once the plan is done (every file in it deleted, every
// directory in it removed). A directory holding anything else (a user's file,
// a symlink, an entry moved aside, an empty directory the channel never
// used) stays.
std::vector<std::string_view> Planner::removable_directories() const {
    std::map<std::string_view, std::size_t> staying;  // directory -> entries in it that stay
    for (const auto& [path, e] : local_.entries())
        ++staying[parent_path(path)];
    for (const LocalEntry* e : deletes_)
        --staying[parent_path(e->path)];
    std::vector<std::string_view> removed;
    const auto& entries = local_.entries();
    for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
        const std::string_view path = it->first;
        if (it->second->kind != EntryKind::kDirectory || staying[path] != 0 ||
            target_dirs_.contains(path) || !recorded_dirs_.contains(path))
            continue;
        removed.push_back(path);
        --staying[parent_path(path)];
    }
    return removed;
}

void Planner::add_build(SyncPlan& plan, const Build& b, const std::map<ChunkKey, ChunkFrom>& index,
                        const std::vector<std::string>& source_paths) const {
    const TargetFile& t = s_.target[b.target];
    const Content want = Content::of(t.seed);
    SyncStep step;
    step.action = b.action;
    step.path = t.path;
    step.target = b.target;
    step.change = b.change;
    // The file's own previous bytes come first (read in order, from one
    // file), then the first file in path order that holds the chunk.
    std::map<ChunkKey, std::uint64_t> own;
    if (const LocalEntry* e = local_.find(t.path); e != nullptr && e->kind == EntryKind::kFile) {
        if (const Known k = knowledge(*e); k.state == Knowledge::kKnown)
            for (std::size_t i = k.content.chunks->size(); i-- > 0;)
                own[ChunkKey{(*k.content.chunks)[i], k.content.chunk_length(i)}] =
                    std::uint64_t{i} * k.content.chunk_size;
    }
    for (std::size_t i = 0; i < want.chunks->size() && step.sources.empty(); ++i)
        if (own.contains(ChunkKey{(*want.chunks)[i], want.chunk_length(i)}))
            step.sources.push_back(where(t.path));       // sources[0] when used
    std::map<std::uint32_t, std::uint32_t> step_source;  // index in source_paths -> in step.sources
    std::map<ChunkKey, std::uint32_t> downloaded;        // first chunk of this file with that key
    for (std::size_t i = 0; i < want.chunks->size(); ++i) {
        const std::uint32_t length = want.chunk_length(i);
        const ChunkKey key{(*want.chunks)[i], length};
        ChunkFrom from;
        if (const auto mine = own.find(key); mine != own.end()) {
            from = ChunkFrom{ChunkFrom::Kind::kLocal, 0, mine->second, {}};
        } else if (const auto at = index.find(key); at != index.end()) {
            from = at->second;
            auto [s, fresh] = step_source.emplace(from.source, step.sources.size());
            if (fresh) step.sources.push_back(source_paths[from.source]);
            from.source = s->second;
        } else if (const auto d = downloaded.find(key); d != downloaded.end()) {
            from.kind = ChunkFrom::Kind::kEarlier;
            from.earlier = ChunkIndex{d->second};
        } else {
            downloaded.emplace(key, static_cast<std::uint32_t>(i));
        }
        const bool network = from.kind == ChunkFrom::Kind::kNetwork;
        ++(network ? step.network_chunks : step.local_chunks);
        (network ? plan.summary.network_bytes : plan.summary.local_bytes) += length;
        step.chunks.push_back(from);
    }
    plan.summary.local_chunks += step.local_chunks;
    plan.summary.network_chunks += step.network_chunks;
    ++(b.action == SyncAction::kRestore ? plan.summary.restored : plan.summary.fetched);
    plan.steps.push_back(std::move(step));
}

SyncPlan Planner::plan() {
    SyncPlan plan;
    if (ask_hashes(plan)) return plan;

    // Entries where a target directory must be: anything but a directory is
    // in the way (a recorded file there is decided with the other recorded
    // files below).
    for (auto dir : target_dirs_) {
        const LocalEntry* e = local_.find(dir);
        if (e == nullptr || e->kind == EntryKind::kDirectory) continue;
        if (e->kind == EntryKind::kFile && recorded_.contains(dir)) continue;
        move(*e, AsideReason::kInTheWay);
    }

    // Target files: keep, or build (after moving aside what is there).
    for (const auto& [path, i] : target_) {
        const auto r = recorded_.find(path);
        const RecordedFile* rec = r == recorded_.end() ? nullptr : r->second;
        Build b{i,
                rec != nullptr ? SyncAction::kRestore : SyncAction::kFetch,
                LocalChange::kDeleted,
                {}};
        const LocalEntry* e = local_.find(path);
        if (e == nullptr) {
            // Nothing there: a new file, or a published one removed.
        } else if (e->kind != EntryKind::kFile) {
            move(*e, AsideReason::kInTheWay);
            b.change = e->kind == EntryKind::kDirectory ? LocalChange::kReplacedByDirectory
                                                        : LocalChange::kReplacedByOther;
        } else {
            const Known k = knowledge(*e);
            const bool known = k.state == Knowledge::kKnown;
            if (known && k.content.same_bytes(Content::of(s_.target[i].seed))) {
                keeps_.push_back(i);
                continue;
            }
            if (known && rec != nullptr && k.content.same_bytes(Content::of(rec->seed))) {
                b.action = SyncAction::kFetch;  // the previous version, unmodified: updated
                b.expected = e->stamp;
            } else {
                move(*e, rec != nullptr ? AsideReason::kEdited : AsideReason::kInTheWay);
                b.change = LocalChange::kEdited;
            }
        }
        builds_.push_back(b);
    }

    // Files of the previous version not in the target: deleted when
    // unmodified, else moved aside (kept whole inside a directory moved aside).
    for (const auto& [path, r] : recorded_) {
        if (target_.contains(path)) continue;
        const LocalEntry* e = local_.find(path);
        if (e == nullptr || e->kind != EntryKind::kFile) continue;  // gone, or the user's now
        const Known k = knowledge(*e);
        const bool unmodified =
            k.state == Knowledge::kKnown && k.content.same_bytes(Content::of(r->seed));
        if (unmodified) deletes_.push_back(e);
        if (inside_moved(path)) continue;
        if (target_dirs_.contains(path))
            move(*e, unmodified ? AsideReason::kObsolete : AsideReason::kEdited);
        else if (!unmodified)
            move(*e, AsideReason::kEdited);
    }

    const auto removed = removable_directories();
    for (auto dir : removed)
        if (const auto m = moves_.find(dir); m != moves_.end())
            m->second.reason = AsideReason::kObsolete;
    name_asides();

    // Chunk sources: every file whose content is known, where it will be
    // while files are built, for the chunks some build wants.
    std::set<ChunkKey> wanted;
    for (const Build& b : builds_) {
        const Content c = Content::of(s_.target[b.target].seed);
        for (std::size_t i = 0; i < c.chunks->size(); ++i)
            wanted.emplace((*c.chunks)[i], c.chunk_length(i));
    }
    std::map<ChunkKey, ChunkFrom> index;
    std::vector<std::string> source_paths;
    for (const auto& [path, e] : local_.entries()) {
        if (wanted.empty() || e->kind != EntryKind::kFile) continue;
        const Known k = knowledge(*e);
        if (k.state != Knowledge::kKnown) continue;
        const auto source = static_cast<std::uint32_t>(source_paths.size());
        bool used = false;
        for (std::size_t i = 0; i < k.content.chunks->size(); ++i) {
            const ChunkKey key{(*k.content.chunks)[i], k.content.chunk_length(i)};
            if (!wanted.contains(key)) continue;
            ChunkFrom from{
                ChunkFrom::Kind::kLocal, source, std::uint64_t{i} * k.content.chunk_size, {}};
            used |= index.emplace(key, from).second;
        }
        if (used) source_paths.push_back(where(path));
    }

    for (std::size_t i : keeps_) {
        SyncStep step;
        step.action = SyncAction::kKeep;
        step.path = s_.target[i].path;
        step.target = i;
        plan.steps.push_back(std::move(step));
    }
    plan.summary.kept = keeps_.size();
    for (const auto& [path, m] : moves_) {
        SyncStep step;
        step.action = SyncAction::kMoveAside;
        step.path = path;
        step.aside = m.aside;
        step.aside_reason = m.reason;
        step.expected = m.entry->stamp;
        plan.steps.push_back(std::move(step));
        if (m.reason != AsideReason::kObsolete) ++plan.summary.moved_aside;
    }
    for (const Build& b : builds_)
        add_build(plan, b, index, source_paths);
    for (const Build& b : builds_) {
        SyncStep step;
        step.action = SyncAction::kInstall;
        step.path = s_.target[b.target].path;
        step.target = b.target;
        step.expected = b.expected;
        plan.steps.push_back(std::move(step));
    }
    for (const LocalEntry* e : deletes_) {
        SyncStep step;
        step.action = SyncAction::kDelete;
        step.path = where(e->path);
        step.expected = e->stamp;
        plan.steps.push_back(std::move(step));
    }
    plan.summary.deleted = deletes_.size();
    for (auto dir : removed) {
        SyncStep step;
        step.action = SyncAction::kRemoveDirectory;
        step.path = where(dir);
        plan.steps.push_back(std::move(step));
    }
    plan.summary.directories_removed = removed.size();
    return plan;
}

}  // namespace

Result<SyncPlan> plan_sync(const SyncState& state) {
    auto local = LocalView::of(state.local);
    if (!local) return local.error();
    Planner planner(state, std::move(local).value());
    if (auto ok = planner.index(); !ok) return ok.error();
    return planner.plan();
}

}  // namespace seedshare
