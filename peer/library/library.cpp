#include "peer/library/library.hpp"

#include <fcntl.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <variant>

#include "common/core/limits.hpp"
#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"
#include "peer/library/seed_maker.hpp"
#include "peer/storage/seed_io.hpp"

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

std::optional<SharedFile> stat_shared(const fs::path& path, Env& env) {
    auto st = env.stat(path);
    if (!st || st->type != FileType::kRegular) return std::nullopt;
    return SharedFile{path, st->size, st->mtime_ns, st->inode};
}

std::string shown_path(const fs::path& path) {
    std::string out;
    for (const char ch : path.string()) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f)
            out += fmt::format("\\x{:02x}", c);
        else
            out += ch;
    }
    return out;
}

std::string describe(const Skip& skip) {
    const std::string p = shown_path(skip.path);
    switch (skip.reason) {
        case SkipReason::kBadName:
            return fmt::format("{}: not a name a seed can carry ({}); skipped", p, skip.detail);
        case SkipReason::kDanglingSymlink:
            return fmt::format("{}: a dangling symlink ({}); skipped", p, skip.detail);
        case SkipReason::kSymlinkOutside:
            return fmt::format("{}: a symlink that leads outside the directory; skipped", p);
        case SkipReason::kNotRegular:
            return fmt::format("{}: {}, not a regular file; skipped", p, skip.detail);
        case SkipReason::kUnreadable:
            return fmt::format("{}: cannot be read ({}); skipped", p, skip.detail);
        case SkipReason::kSidecarMismatch:
            return fmt::format("{} does not describe {} ({})", p,
                               shown_path(fs::path(skip.path).replace_extension().filename()),
                               skip.detail);
        case SkipReason::kCannotShare:
            return fmt::format("cannot share {}: {}", p, skip.detail);
    }
    return p;
}

bool SkipLog::note(const Skip& skip) {
    Key key{skip.path.string(), skip.reason};
    const bool seen = previous_.contains(key) || current_.contains(key);
    current_.insert(std::move(key));
    return !seen;
}

void SkipLog::end_round() {
    previous_ = std::move(current_);
    current_.clear();
}

namespace {

std::string type_text(FileType type) {
    switch (type) {
        case FileType::kFifo:
            return "a FIFO";
        case FileType::kSocket:
            return "a socket";
        case FileType::kCharDevice:
            return "a character device";
        case FileType::kBlockDevice:
            return "a block device";
        case FileType::kDirectory:
            return "a directory";
        default:
            return "not a file";
    }
}

std::string file_type(mode_t mode) {
    return type_text(file_type_of(mode));
}

// Opens without blocking (a FIFO swapped in after the stat), and takes the
// file's identity from the descriptor.
std::variant<SharedFile, Skip> open_shared(const fs::path& p, Env& env) {
    auto fd = env.open(p, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (!fd) return Skip{p, SkipReason::kUnreadable, std::strerror(fd.error().code)};
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return Skip{p, SkipReason::kUnreadable, std::strerror(errno)};
    if (!S_ISREG(st.st_mode)) return Skip{p, SkipReason::kNotRegular, file_type(st.st_mode)};
    return SharedFile{p, static_cast<std::uint64_t>(st.st_size), to_ns(st.st_mtim),
                      static_cast<std::uint64_t>(st.st_ino)};
}

}  // namespace

namespace {

constexpr std::size_t kMaxScanDepth = 2048;

// The walk of scan_directory: one directory through the Env, then each
// subdirectory (never through a symlink), depth first. A directory that
// cannot be listed (no permission, gone meanwhile) is passed over.
class Walk {
  public:
    Walk(Env& env, fs::path root, std::vector<fs::path> excluded, ScanResult& out)
        : env_(env), root_(std::move(root)), excluded_(std::move(excluded)), out_(out) {}

    void directory(const fs::path& dir, std::size_t depth) {
        // Deeper than any path the system can open (PATH_MAX, 4096 bytes, at
        // 2 bytes a level): a loop of bind mounts, say. Bounds the recursion.
        if (depth > kMaxScanDepth) return;
        auto entries = env_.list_dir(dir);
        if (!entries) return;
        for (const auto& entry : *entries)
            visit(dir / entry.name, entry.type, depth);
    }

  private:
    bool excluded(const fs::path& p) const {
        return std::any_of(excluded_.begin(), excluded_.end(),
                           [&](const fs::path& e) { return inside(e, p); });
    }

    void visit(const fs::path& p, FileType type, std::size_t depth) {
        // Never a stat that follows a link here: the link itself first.
        if (type == FileType::kUnknown) {
            const auto link = env_.lstat(p);
            if (!link) return;  // gone meanwhile
            type = link->type;
        }
        if (hidden(p.lexically_relative(root_)) || excluded(p)) return;
        if (type == FileType::kDirectory) return directory(p, depth + 1);
        if (type == FileType::kSymlink) {
            std::error_code e2;
            const fs::path target = fs::weakly_canonical(p, e2);
            const auto target_info = env_.stat(p);
            if (!target_info) {
                const int code = target_info.error().code;
                out_.skipped.push_back(Skip{
                    p, SkipReason::kDanglingSymlink,
                    code != ENOENT
                        ? std::string(std::strerror(code))
                        : fmt::format("{} does not exist", shown_path(fs::read_symlink(p, e2)))});
                return;
            }
            if (target.empty() || !inside(root_, target)) {
                out_.skipped.push_back(Skip{p, SkipReason::kSymlinkOutside, {}});
                return;
            }
            // A link to a directory inside: its files are found there already.
            if (target_info->type == FileType::kDirectory) return;
            // A link into what seedshare writes is not served either.
            if (excluded(target)) return;
        }
        file(p);
    }

    void file(const fs::path& p) {
        const std::string name = p.filename().string();
        if (name.ends_with(".part")) return;
        if (name.ends_with(".seed") &&
            env_.exists(p.parent_path() / name.substr(0, name.size() - 5)))
            return;
        // The type (following a symlink inside): nothing that is not a
        // regular file is ever opened.
        auto st = env_.stat(p);
        if (!st) return;  // gone meanwhile
        if (st->type != FileType::kRegular) {
            out_.skipped.push_back(Skip{p, SkipReason::kNotRegular, type_text(st->type)});
            return;
        }
        if (auto ok = validate_file_name(name); !ok) {
            out_.skipped.push_back(Skip{p, SkipReason::kBadName, ok.error().message});
            return;
        }
        auto opened = open_shared(p, env_);
        if (auto* f = std::get_if<SharedFile>(&opened))
            out_.files.push_back(std::move(*f));
        else
            out_.skipped.push_back(std::get<Skip>(std::move(opened)));
    }

    Env& env_;
    fs::path root_;
    std::vector<fs::path> excluded_;
    ScanResult& out_;
};

}  // namespace

ScanResult scan_directory(const fs::path& dir, const std::vector<fs::path>& exclude, Env& env) {
    ScanResult out;
    std::error_code ec;
    fs::path root = fs::canonical(dir, ec);
    if (ec) return out;
    std::vector<fs::path> excluded;
    for (const auto& e : exclude)
        if (auto c = fs::weakly_canonical(e, ec); !ec) excluded.push_back(std::move(c));
    Walk(env, root, std::move(excluded), out).directory(root, 0);
    std::sort(out.files.begin(), out.files.end(),
              [](const auto& a, const auto& b) { return a.path < b.path; });
    return out;
}

SidecarCheck check_sidecar(const SharedFile& file, Env& env) {
    const fs::path seed_path = fs::path(file.path.string() + ".seed");
    auto st = env.stat(seed_path);
    if (!st) return {};  // none there
    const auto reject = [&](SkipReason r, std::string why) {
        return SidecarCheck{std::nullopt, Skip{seed_path, r, std::move(why)}};
    };
    if (st->type != FileType::kRegular) return reject(SkipReason::kNotRegular, type_text(st->type));
    if (st->mtime_ns < file.mtime_ns)
        return reject(SkipReason::kSidecarMismatch,
                      "it is older than the file, so maybe of an earlier version");
    auto seed = read_seed_file(seed_path, env);
    if (!seed) return reject(SkipReason::kSidecarMismatch, seed.error().message);
    const std::string name = file.path.filename().string();
    if (seed->name != name)
        return reject(SkipReason::kSidecarMismatch,
                      fmt::format("it names '{}'", shown_path(seed->name)));
    if (seed->length != file.size)
        return reject(
            SkipReason::kSidecarMismatch,
            fmt::format("it says {}, the file has {}", count_of(seed->length, "byte"), file.size));
    return SidecarCheck{std::move(*seed), std::nullopt};
}

std::optional<Seed> sidecar_seed(const SharedFile& file, Env& env) {
    return check_sidecar(file, env).seed;
}

std::optional<fs::path> default_state_dir() {
    if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && xdg[0] == '/')
        return fs::path(xdg) / "seedshare";
    if (const char* home = std::getenv("HOME"); home != nullptr && home[0] == '/')
        return fs::path(home) / ".local" / "state" / "seedshare";
    return std::nullopt;
}

SeedCache::SeedCache(std::optional<fs::path> state_dir, Env& env)
    : dir_(std::move(state_dir)), env_(&env) {
    if (!dir_) return;
    if (!env_->create_directories(*dir_ / "seeds")) {
        dir_.reset();
        return;
    }
    load();
}

// The index: one line per file, "SIZE MTIME_NS INODE SEED_ID PATH". Missing,
// unreadable or too large: the entries known so far stay.
void SeedCache::load() {
    auto text = env_->read_file(*dir_ / "index", limits::kMaxSeedCacheIndexBytes);
    if (!text) return;
    std::istringstream in(std::move(*text));
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

IoStatus SeedCache::save() const {
    std::string text;
    for (const auto& [path, e] : entries_)
        text += fmt::format("{} {} {} {} {}\n", e.size, e.mtime_ns, e.inode, e.seed_id, path);
    return env_->write_file_atomically(*dir_ / "index", text);
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
    auto seed = read_seed_file(*dir_ / "seeds" / (e.seed_id + ".seed"), *env_);
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
    if (auto written =
            env_->write_file_atomically(*dir_ / "seeds" / (id + ".seed"), format_seed(seed));
        !written) {
        write_error_ = written.error();
        return;
    }
    load();  // another process may have added entries meanwhile
    // Kept in memory even if the index cannot be written: the seed file is
    // there, so this process still finds it.
    entries_[key] = Entry{file.size, file.mtime_ns, file.inode, id};
    if (auto saved = save(); !saved) {
        write_error_ = saved.error();
        return;
    }
    write_error_.reset();
}

}  // namespace seedshare
