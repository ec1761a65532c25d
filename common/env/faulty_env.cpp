#include "common/env/faulty_env.hpp"

#include <algorithm>
#include <numeric>

namespace seedshare {

namespace fs = std::filesystem;

namespace {

// `p` is `root` or lies under it (component by component, as given).
bool under(const fs::path& root, const fs::path& p) {
    if (root.empty() || p.empty()) return false;
    auto r = root.begin();
    auto i = p.begin();
    for (; r != root.end(); ++r, ++i) {
        if (r->empty() && std::next(r) == root.end()) return true;  // a trailing '/'
        if (i == p.end() || *i != *r) return false;
    }
    return true;
}

}  // namespace

void FaultyEnv::fail_nth(Op op, int n, int error) {
    std::lock_guard lock(mutex_);
    if (op == Op::kAny || n < 1) return;
    nth_.push_back(
        Nth{op, calls_[static_cast<std::size_t>(op)] + static_cast<std::size_t>(n), error});
}

void FaultyEnv::fail_path(Op op, fs::path path, int error) {
    std::lock_guard lock(mutex_);
    paths_.push_back(OnPath{op, std::move(path), error});
}

void FaultyEnv::set_free_space(std::optional<std::uint64_t> bytes) {
    std::lock_guard lock(mutex_);
    free_space_ = bytes;
}

void FaultyEnv::clear() {
    std::lock_guard lock(mutex_);
    nth_.clear();
    paths_.clear();
}

std::size_t FaultyEnv::calls(Op op) const {
    std::lock_guard lock(mutex_);
    if (op == Op::kAny) return std::accumulate(calls_.begin(), calls_.end(), std::size_t{0});
    return calls_[static_cast<std::size_t>(op)];
}

std::size_t FaultyEnv::injected() const {
    std::lock_guard lock(mutex_);
    return injected_;
}

int FaultyEnv::fault(Op op, const fs::path& path, const fs::path& other) {
    std::lock_guard lock(mutex_);
    const std::size_t count = ++calls_[static_cast<std::size_t>(op)];
    int error = 0;
    if (auto it = std::find_if(nth_.begin(), nth_.end(),
                               [&](const Nth& f) { return f.op == op && f.at == count; });
        it != nth_.end()) {
        error = it->error;
        nth_.erase(it);
    } else {
        for (const auto& f : paths_)
            if ((f.op == op || f.op == Op::kAny) && (under(f.path, path) || under(f.path, other))) {
                error = f.error;
                break;
            }
    }
    if (error != 0) ++injected_;
    return error;
}

namespace {
const char* op_name(FaultyEnv::Op op) {
    switch (op) {
        case FaultyEnv::Op::kStat:
            return "stat";
        case FaultyEnv::Op::kListDir:
            return "opendir";
        case FaultyEnv::Op::kRename:
            return "rename";
        case FaultyEnv::Op::kRemove:
            return "remove";
        case FaultyEnv::Op::kLink:
            return "link";
        case FaultyEnv::Op::kCreateDirectories:
            return "mkdir";
        case FaultyEnv::Op::kReadFile:
            return "read";
        case FaultyEnv::Op::kWriteFileAtomically:
            return "write";
        case FaultyEnv::Op::kOpen:
            return "open";
        case FaultyEnv::Op::kLock:
            return "lock";
        case FaultyEnv::Op::kFreeSpace:
            return "statvfs";
        case FaultyEnv::Op::kAny:
            break;
    }
    return "?";
}
}  // namespace

#define SEEDSHARE_FAULT(op, path, ...)                                   \
    if (const int err = fault(op, path __VA_OPT__(, ) __VA_ARGS__); err) \
        return IoError{err, op_name(op), path, 0};

IoResult<FileInfo> FaultyEnv::stat(const fs::path& path) {
    SEEDSHARE_FAULT(Op::kStat, path)
    return base_.stat(path);
}

IoResult<FileInfo> FaultyEnv::lstat(const fs::path& path) {
    SEEDSHARE_FAULT(Op::kStat, path)
    return base_.lstat(path);
}

IoResult<std::vector<DirEntry>> FaultyEnv::list_dir(const fs::path& dir) {
    SEEDSHARE_FAULT(Op::kListDir, dir)
    return base_.list_dir(dir);
}

IoStatus FaultyEnv::rename(const fs::path& from, const fs::path& to) {
    SEEDSHARE_FAULT(Op::kRename, from, to)
    return base_.rename(from, to);
}

IoStatus FaultyEnv::rename_no_replace(const fs::path& from, const fs::path& to) {
    SEEDSHARE_FAULT(Op::kRename, from, to)
    return base_.rename_no_replace(from, to);
}

IoStatus FaultyEnv::remove(const fs::path& path) {
    SEEDSHARE_FAULT(Op::kRemove, path)
    return base_.remove(path);
}

IoStatus FaultyEnv::link(const fs::path& from, const fs::path& to) {
    SEEDSHARE_FAULT(Op::kLink, from, to)
    return base_.link(from, to);
}

IoStatus FaultyEnv::create_directories(const fs::path& dir) {
    SEEDSHARE_FAULT(Op::kCreateDirectories, dir)
    return base_.create_directories(dir);
}

IoResult<std::string> FaultyEnv::read_file(const fs::path& path, std::uint64_t max_bytes) {
    SEEDSHARE_FAULT(Op::kReadFile, path)
    return base_.read_file(path, max_bytes);
}

IoStatus FaultyEnv::write_file_atomically(const fs::path& path, std::string_view text) {
    SEEDSHARE_FAULT(Op::kWriteFileAtomically, path)
    return base_.write_file_atomically(path, text);
}

IoResult<Fd> FaultyEnv::open(const fs::path& path, int flags, mode_t mode) {
    SEEDSHARE_FAULT(Op::kOpen, path)
    return base_.open(path, flags, mode);
}

IoResult<FileLock> FaultyEnv::lock(const fs::path& path) {
    SEEDSHARE_FAULT(Op::kLock, path)
    return base_.lock(path);
}

IoResult<std::uint64_t> FaultyEnv::free_space(const fs::path& path) {
    SEEDSHARE_FAULT(Op::kFreeSpace, path) {
        std::lock_guard lock(mutex_);
        if (free_space_) return *free_space_;
    }
    return base_.free_space(path);
}

#undef SEEDSHARE_FAULT

}  // namespace seedshare
