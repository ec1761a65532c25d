#include "common/env/env.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace seedshare {

namespace fs = std::filesystem;

namespace {

IoError fail(int code, std::string op, const fs::path& path) {
    return IoError{code, std::move(op), path, 0};
}

std::int64_t to_ns(const struct timespec& t) {
    return std::int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

FileInfo info_of(const struct stat& st) {
    return FileInfo{file_type_of(st.st_mode), static_cast<std::uint64_t>(st.st_size),
                    to_ns(st.st_mtim), static_cast<std::uint64_t>(st.st_ino),
                    static_cast<std::uint64_t>(st.st_dev)};
}

FileType type_of_dirent(unsigned char t) {
    switch (t) {
        case DT_REG:
            return FileType::kRegular;
        case DT_DIR:
            return FileType::kDirectory;
        case DT_LNK:
            return FileType::kSymlink;
        case DT_FIFO:
            return FileType::kFifo;
        case DT_SOCK:
            return FileType::kSocket;
        case DT_CHR:
            return FileType::kCharDevice;
        case DT_BLK:
            return FileType::kBlockDevice;
        default:
            return FileType::kUnknown;
    }
}

IoStatus sync_dir(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail(errno, "open", dir);
    Fd owned(fd);
    if (::fsync(owned.get()) != 0) return fail(errno, "fsync", dir);
    return Ok{};
}

}  // namespace

std::string IoError::text() const {
    if (code == EFBIG && size != 0)
        return fmt::format("{}: {} bytes is more than allowed here", path.string(), size);
    if (code == EINVAL && op == "read") return fmt::format("{}: not a regular file", path.string());
    return fmt::format("{}: {}", path.string(), std::strerror(code));
}

FileType file_type_of(mode_t mode) {
    if (S_ISREG(mode)) return FileType::kRegular;
    if (S_ISDIR(mode)) return FileType::kDirectory;
    if (S_ISLNK(mode)) return FileType::kSymlink;
    if (S_ISFIFO(mode)) return FileType::kFifo;
    if (S_ISSOCK(mode)) return FileType::kSocket;
    if (S_ISCHR(mode)) return FileType::kCharDevice;
    if (S_ISBLK(mode)) return FileType::kBlockDevice;
    return FileType::kUnknown;
}

Env& Env::posix() {
    static PosixEnv env;
    return env;
}

IoResult<FileInfo> PosixEnv::stat(const fs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return fail(errno, "stat", path);
    return info_of(st);
}

IoResult<FileInfo> PosixEnv::lstat(const fs::path& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return fail(errno, "lstat", path);
    return info_of(st);
}

IoResult<std::vector<DirEntry>> PosixEnv::list_dir(const fs::path& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return fail(errno, "opendir", dir);
    std::vector<DirEntry> out;
    errno = 0;
    while (const dirent* e = ::readdir(d)) {
        const std::string_view name = e->d_name;
        if (name != "." && name != "..")
            out.push_back(DirEntry{std::string(name), type_of_dirent(e->d_type)});
        errno = 0;
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return fail(err, "readdir", dir);
    std::sort(out.begin(), out.end(),
              [](const DirEntry& a, const DirEntry& b) { return a.name < b.name; });
    return out;
}

IoStatus PosixEnv::rename(const fs::path& from, const fs::path& to) {
    if (::rename(from.c_str(), to.c_str()) != 0) return fail(errno, "rename", from);
    return Ok{};
}

IoStatus PosixEnv::rename_no_replace(const fs::path& from, const fs::path& to) {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0)
        return Ok{};
    if (errno != EINVAL && errno != ENOSYS) return fail(errno, "rename", from);
    // A file system without RENAME_NOREPLACE: link (fails if `to` exists), unlink.
    if (::link(from.c_str(), to.c_str()) != 0) return fail(errno, "link", from);
    if (::unlink(from.c_str()) != 0) return fail(errno, "unlink", from);
    return Ok{};
}

IoStatus PosixEnv::link(const fs::path& from, const fs::path& to) {
    if (::link(from.c_str(), to.c_str()) != 0) return fail(errno, "link", from);
    return Ok{};
}

IoStatus PosixEnv::remove(const fs::path& path) {
    if (::remove(path.c_str()) != 0) return fail(errno, "remove", path);
    return Ok{};
}

IoStatus PosixEnv::create_directories(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return fail(ec.value(), "mkdir", dir);
    return Ok{};
}

IoResult<std::string> PosixEnv::read_file(const fs::path& path, std::uint64_t max_bytes) {
    // O_NONBLOCK: a FIFO is refused below, never waited on.
    Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
    if (!fd) return fail(errno, "open", path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail(errno, "fstat", path);
    if (S_ISDIR(st.st_mode)) return fail(EISDIR, "read", path);
    if (!S_ISREG(st.st_mode)) return fail(EINVAL, "read", path);
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (size > max_bytes) return IoError{EFBIG, "read", path, size};
    std::string text(static_cast<std::size_t>(size), '\0');
    std::size_t got = 0;
    while (got < text.size()) {
        const ssize_t n = ::read(fd.get(), text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(errno, "read", path);
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    text.resize(got);
    return text;
}

IoStatus PosixEnv::write_file_atomically(const fs::path& path, std::string_view text) {
    const fs::path dir = path.has_parent_path() ? path.parent_path() : ".";
    std::string tmpl = (dir / fmt::format(".{}.XXXXXX", path.filename().string())).string();
    Fd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
    if (!fd) return fail(errno, "create", path);
    auto failed = [&](int err, const char* op) {
        fd.reset();
        ::unlink(tmpl.c_str());
        return fail(err, op, path);
    };
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd.get(), text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return failed(errno, "write");
        done += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd.get(), 0644) != 0) return failed(errno, "fchmod");
    if (::fsync(fd.get()) != 0) return failed(errno, "fsync");
    if (::close(fd.release()) != 0) return failed(errno, "close");
    if (::rename(tmpl.c_str(), path.c_str()) != 0) return failed(errno, "rename");
    // The new name is durable only once the directory is.
    if (auto synced = sync_dir(dir); !synced) return IoError{synced.error().code, "fsync", path, 0};
    return Ok{};
}

IoResult<Fd> PosixEnv::open(const fs::path& path, int flags, mode_t mode) {
    Fd fd(::open(path.c_str(), flags | O_CLOEXEC, mode));
    if (!fd) return fail(errno, "open", path);
    return fd;
}

IoResult<FileLock> PosixEnv::lock(const fs::path& path) {
    Fd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) return fail(errno, "open", path);
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return fail(errno, "lock", path);
    return FileLock(std::move(fd));
}

IoResult<std::uint64_t> PosixEnv::free_space(const fs::path& path) {
    struct statvfs v {};
    if (::statvfs(path.c_str(), &v) != 0) return fail(errno, "statvfs", path);
    return std::uint64_t{v.f_bavail} * std::uint64_t{v.f_frsize};
}

}  // namespace seedshare
