#include "peer/channel/directory_check.hpp"

#include <set>

#include "peer/channel/local_scan.hpp"
#include "peer/library/seed_maker.hpp"

namespace seedshare {

std::string_view describe(Finding f) {
    switch (f) {
        case Finding::kMissing:
            return "missing";
        case Finding::kEdited:
            return "edited";
        case Finding::kNotAFile:
            return "not a file";
        case Finding::kExtra:
            return "extra";
        case Finding::kUnreadable:
            return "unreadable";
    }
    return "differs";
}

namespace {

const LocalEntry* find_entry(const std::map<std::string_view, const LocalEntry*>& by_path,
                             std::string_view path) {
    auto it = by_path.find(path);
    return it == by_path.end() ? nullptr : it->second;
}

std::map<std::string_view, const LocalEntry*> index(const std::vector<LocalEntry>& scan) {
    std::map<std::string_view, const LocalEntry*> by_path;
    for (const auto& e : scan)
        by_path.emplace(e.path, &e);
    return by_path;
}

}  // namespace

std::vector<std::string> files_to_hash(const std::vector<ManifestEntry>& files,
                                       const std::vector<LocalEntry>& scan) {
    const auto by_path = index(scan);
    std::vector<std::string> out;
    for (const auto& f : files)
        if (const LocalEntry* e = find_entry(by_path, f.path); e && e->kind == EntryKind::kFile)
            out.push_back(f.path);
    return out;
}

std::vector<DirectoryDifference> compare_to_version(
    const std::vector<ManifestEntry>& files, const std::vector<LocalEntry>& scan,
    const std::map<std::string, HashVerdict>& hashed) {
    const auto by_path = index(scan);
    std::map<std::string, DirectoryDifference> found;
    std::set<std::string_view> named;
    for (const auto& f : files) {
        named.insert(f.path);
        const LocalEntry* e = find_entry(by_path, f.path);
        if (e == nullptr) {
            found[f.path] = {f.path, Finding::kMissing, {}};
        } else if (e->kind != EntryKind::kFile) {
            found[f.path] = {f.path, Finding::kNotAFile, {}};
        } else if (auto h = hashed.find(f.path); h == hashed.end()) {
            found[f.path] = {f.path, Finding::kUnreadable, "not hashed"};
        } else if (h->second.error) {
            found[f.path] = {f.path, Finding::kUnreadable, *h->second.error};
        } else if (!h->second.matches) {
            found[f.path] = {f.path, Finding::kEdited, {}};
        }
    }
    // Directories are containers, not content: only what is not one and is
    // not named by the version is extra.
    for (const auto& e : scan)
        if (e.kind != EntryKind::kDirectory && !named.contains(e.path))
            found[e.path] = {e.path, Finding::kExtra, {}};
    std::vector<DirectoryDifference> out;
    out.reserve(found.size());
    for (auto& [path, d] : found)
        out.push_back(std::move(d));
    return out;
}

Result<std::vector<DirectoryDifference>> check_directory(
    const std::filesystem::path& dir, const Manifest& version, Env& env,
    const std::function<std::optional<Seed>(const SeedId&)>& known_seed) {
    auto scan = scan_local(dir, env);
    if (!scan) return Error{scan.error().message};
    std::map<std::string, const ManifestEntry*> by_path;
    for (const auto& f : version.files)
        by_path.emplace(f.path, &f);
    std::map<std::string, HashVerdict> hashed;
    for (const auto& path : files_to_hash(version.files, *scan)) {
        const ManifestEntry& f = *by_path.at(path);
        const std::optional<Seed> seed = known_seed ? known_seed(f.seed) : std::nullopt;
        SeedMakerOptions o;
        if (seed) o.chunk_size = seed->chunk_size;
        o.env = &env;
        auto made = make_seed(dir / path, o);
        HashVerdict v;
        if (!made)
            v.error = made.error().message;
        else if (seed)
            v.matches = made->length == seed->length && made->file_hash == seed->file_hash &&
                        made->length == f.length;
        else
            v.matches = made->id() == f.seed;
        hashed.emplace(path, std::move(v));
    }
    return compare_to_version(version.files, *scan, hashed);
}

}  // namespace seedshare
