#include "peer/library.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "common/numbers.hpp"
#include "peer/seed_io.hpp"
#include "peer/seed_maker.hpp"

namespace seedshare {

namespace fs = std::filesystem;

namespace {

bool hidden(const fs::path& relative) {
    for (const auto& part : relative)
        if (const auto s = part.string(); !s.empty() && s[0] == '.') return true;
    return false;
}

bool inside(const fs::path& root, const fs::path& p) {
    auto r = root.begin();
    auto i = p.begin();
    for (; r != root.end(); ++r, ++i)
        if (i == p.end() || *i != *r) return false;
    return true;
}

std::int64_t to_ns(const struct timespec& t) {
    return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

}  // namespace

std::optional<SharedFile> stat_shared(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    return SharedFile{path, static_cast<std::uint64_t>(st.st_size), to_ns(st.st_mtim),
                      static_cast<std::uint64_t>(st.st_ino)};
}

std::vector<SharedFile> scan_directory(const fs::path& dir, std::vector<std::string>* skipped) {
    std::vector<SharedFile> out;
    std::error_code ec;
    const fs::path root = fs::canonical(dir, ec);
    if (ec) return out;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        const fs::path& p = it->path();
        const fs::path rel = p.lexically_relative(root);
        if (hidden(rel)) {
            if (it->is_directory(ec)) it.disable_recursion_pending();
            continue;
        }
        if (it->is_symlink(ec)) {
            const fs::path target = fs::weakly_canonical(p, ec);
            if (ec || !inside(root, target)) {
                if (skipped)
                    skipped->push_back(
                        fmt::format("{}: a symlink that leads outside the directory", p.string()));
                if (it->is_directory(ec)) it.disable_recursion_pending();
                ec.clear();
                continue;
            }
            // A link to a directory inside: its files are found there already.
            if (fs::is_directory(target, ec)) {
                it.disable_recursion_pending();
                continue;
            }
        }
        if (!it->is_regular_file(ec)) continue;
        const std::string name = p.filename().string();
        if (name.ends_with(".part")) continue;
        if (name.ends_with(".seed") &&
            fs::exists(p.parent_path() / name.substr(0, name.size() - 5), ec))
            continue;
        if (!validate_file_name(name)) continue;
        if (auto f = stat_shared(p)) out.push_back(*f);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
    return out;
}

std::optional<Seed> sidecar_seed(const SharedFile& file) {
    const fs::path seed_path = fs::path(file.path.string() + ".seed");
    const auto seed_stat = stat_shared(seed_path);
    if (!seed_stat || seed_stat->mtime_ns < file.mtime_ns) return std::nullopt;
    auto seed = read_seed_file(seed_path);
    if (!seed || seed->name != file.path.filename().string() || seed->length != file.size)
        return std::nullopt;
    return std::move(*seed);
}

std::optional<fs::path> default_state_dir() {
    if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && xdg[0] == '/')
        return fs::path(xdg) / "seedshare";
    if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/')
        return fs::path(home) / ".local" / "state" / "seedshare";
    return std::nullopt;
}

SeedCache::SeedCache(std::optional<fs::path> state_dir) : dir_(std::move(state_dir)) {
    if (!dir_) return;
    std::error_code ec;
    fs::create_directories(*dir_ / "seeds", ec);
    if (ec) {
        dir_.reset();
        return;
    }
    load();
}

// The index: one line per file, "SIZE MTIME_NS INODE SEED_ID PATH".
void SeedCache::load() {
    std::ifstream in(*dir_ / "index");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string size, mtime, inode, id;
        fields >> size >> mtime >> inode >> id;
        std::string path;
        std::getline(fields, path);
        if (path.size() < 2 || path[0] != ' ') continue;
        path.erase(0, 1);
        const auto sz = parse_u64(size);
        const auto in_o = parse_u64(inode);
        char* end = nullptr;
        const long long mt = std::strtoll(mtime.c_str(), &end, 10);
        if (!sz || !in_o || end == mtime.c_str() || !SeedId::from_hex_string(id)) continue;
        entries_[path] = Entry{*sz, mt, *in_o, id};
    }
}

void SeedCache::save() const {
    std::string text;
    for (const auto& [path, e] : entries_)
        text += fmt::format("{} {} {} {} {}\n", e.size, e.mtime_ns, e.inode, e.seed_id, path);
    (void)write_file_atomically(*dir_ / "index", text);
}

std::optional<Seed> SeedCache::find(const SharedFile& file) const {
    if (!dir_) return std::nullopt;
    std::error_code ec;
    const auto key = fs::absolute(file.path, ec).string();
    const auto it = entries_.find(key);
    if (it == entries_.end()) return std::nullopt;
    const auto& e = it->second;
    if (e.size != file.size || e.mtime_ns != file.mtime_ns || e.inode != file.inode)
        return std::nullopt;
    auto seed = read_seed_file(*dir_ / "seeds" / (e.seed_id + ".seed"));
    if (!seed || seed->id().hex() != e.seed_id || seed->length != file.size) return std::nullopt;
    return std::move(*seed);
}

void SeedCache::remember(const SharedFile& file, const Seed& seed) {
    if (!dir_) return;
    std::error_code ec;
    const auto key = fs::absolute(file.path, ec).string();
    // The index is line based: a path with a newline is simply not cached.
    if (key.find('\n') != std::string::npos) return;
    const std::string id = seed.id().hex();
    if (!write_file_atomically(*dir_ / "seeds" / (id + ".seed"), format_seed(seed))) return;
    load();  // another process may have added entries meanwhile
    entries_[key] = Entry{file.size, file.mtime_ns, file.inode, id};
    save();
}

}  // namespace seedshare
