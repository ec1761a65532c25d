#include "peer/storage/part_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/core/fd.hpp"
#include "common/core/numbers.hpp"
#include "common/crypto/sha256.hpp"

namespace seedshare {

namespace fs = std::filesystem;

namespace {

PartFile::Failure io_failure(const fs::path& p, std::string_view what, int err) {
    return {PartFile::Problem::kIo,
            fmt::format("{}: {}: {}", p.string(), what, std::strerror(err))};
}

// An exclusive lock on the whole file, tied to this open file description.
bool lock(int fd) {
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 0;
    return ::fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

bool read_at(int fd, std::uint64_t offset, std::span<std::uint8_t> out) {
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n =
            ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

bool write_at(int fd, std::uint64_t offset, std::string_view data) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n =
            ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

bool has_trailer(int fd, std::uint64_t size, std::uint64_t length, const std::string& expected) {
    if (size != length + expected.size()) return false;
    std::string got(expected.size(), '\0');
    if (!read_at(fd, length, std::span(reinterpret_cast<std::uint8_t*>(got.data()), got.size())))
        return false;
    return got == expected;
}

// The first `length` bytes hash to the seed's whole-file hash.
bool holds_whole_file(int fd, const Seed& seed) {
    Sha256 h;
    std::vector<std::uint8_t> buffer(1u << 20);
    for (std::uint64_t at = 0; at < seed.length;) {
        const auto n =
            static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), seed.length - at));
        if (!read_at(fd, at, std::span(buffer.data(), n))) return false;
        h.update(std::span(buffer.data(), n));
        at += n;
    }
    return h.finish() == seed.file_hash;
}

PartFile::Failure io_failure(const IoError& e, std::string_view what) {
    return io_failure(e.path, what, e.code);
}

// The name `path` still leads to the file open at `fd`.
bool still_named(Env& env, int fd, const fs::path& path) {
    struct stat ours {};
    if (::fstat(fd, &ours) != 0) return false;
    const auto named = env.lstat(path);
    return named.ok() && ours.st_dev == static_cast<dev_t>(named->device) &&
           ours.st_ino == static_cast<ino_t>(named->inode);
}

// Marks the file for its seed and reserves its space: the trailer first (a
// crash after it leaves a .part that is ours), then the space, so that a full
// disk shows now rather than halfway, then both made durable.
std::optional<PartFile::Failure> prepare(int fd, const fs::path& p, std::uint64_t length,
                                         const std::string& mark, bool cut) {
    const std::uint64_t size = length + mark.size();
    if (cut && ::ftruncate(fd, static_cast<off_t>(size)) != 0)
        return io_failure(p, "cannot set the size", errno);
    if (!write_at(fd, length, mark)) return io_failure(p, "cannot write", errno);
    const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(size));
    if (err != 0 && err != EOPNOTSUPP && err != EINVAL)
        return io_failure(p, fmt::format("cannot reserve {}", format_bytes(size)), err);
    if (::fdatasync(fd) != 0) return io_failure(p, "sync failed", errno);
    return std::nullopt;
}

}  // namespace

std::string PartFile::trailer(const SeedId& id) {
    return fmt::format("\nseedshare-part 1 {}\n", id.hex());
}

std::variant<PartFile, PartFile::Failure> PartFile::open(const fs::path& path, const Seed& seed,
                                                         bool force, Env& env) {
    // O_NONBLOCK: a FIFO of that name must not hang us; O_NOFOLLOW: nor a link
    // lead our writes elsewhere.
    const int flags = O_RDWR | O_NOFOLLOW | O_NONBLOCK;
    const Failure busy{Problem::kBusy,
                       fmt::format("{} is being downloaded by another seedshare process; two "
                                   "downloads into one file are refused",
                                   path.string())};
    // A lock guards a file, not a name: after taking it, the name must still
    // lead to that file (its holder may have renamed or removed it between
    // our open and our lock). Then it is ours until we close it.
    for (int attempt = 0; attempt < 3; ++attempt) {
        bool created = true;
        auto opened = env.open(path, flags | O_CREAT | O_EXCL, 0644);
        if (!opened && opened.error().code == EEXIST) {
            created = false;
            opened = env.open(path, flags);
        }
        if (!opened) {
            const int err = opened.error().code;
            if (err == ENOENT) continue;  // removed between the two opens
            if (err == ELOOP)
                return Failure{Problem::kNotRegular,
                               fmt::format("{} is a symbolic link; move it away", path.string())};
            if (err == EISDIR)
                return Failure{Problem::kNotRegular,
                               fmt::format("{} is a directory; move it away", path.string())};
            return io_failure(path, "cannot open", err);
        }
        Fd fd = std::move(*opened);
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0) return io_failure(path, "cannot stat", errno);
        if (!S_ISREG(st.st_mode))
            return Failure{Problem::kNotRegular,
                           fmt::format("{} is not a regular file; move it away", path.string())};
        const int fl = ::fcntl(fd.get(), F_GETFL);
        if (fl < 0 || ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK) != 0)
            return io_failure(path, "cannot open", errno);
        if (!lock(fd.get())) {
            if (errno == EAGAIN || errno == EACCES) return busy;
            return io_failure(path, "cannot lock", errno);
        }
        if (!still_named(env, fd.get(), path)) continue;
        if (::fstat(fd.get(), &st) != 0) return io_failure(path, "cannot stat", errno);

        const std::string mark = trailer(seed.id());
        const auto size = static_cast<std::uint64_t>(st.st_size);
        Found found = Found::kCreated;
        if (!created && st.st_nlink != 1 && !force)
            return Failure{Problem::kForeign,
                           fmt::format("{} has other hard links: writing into it would change "
                                       "them too; move it away, or use --force",
                                       path.string())};
        if (!created && size != 0) {
            if (has_trailer(fd.get(), size, seed.length, mark)) {
                found = Found::kResumable;
            } else if (size == seed.length && holds_whole_file(fd.get(), seed)) {
                found = Found::kComplete;
            } else if (!force) {
                return Failure{
                    Problem::kForeign,
                    fmt::format("{} exists ({}) and has no seedshare trailer for this seed (it "
                                "was made by someone else, for another seed, or by an older "
                                "seedshare); move it away, or use --force to take it over (its "
                                "chunks that verify are kept)",
                                path.string(), format_bytes(size))};
            } else {
                found = Found::kTakenOver;
            }
        }
        if (found == Found::kCreated || found == Found::kTakenOver) {
            if (auto f = prepare(fd.get(), path, seed.length, mark, !created)) {
                if (created && still_named(env, fd.get(), path)) (void)env.remove(path);
                return *f;
            }
        }
        auto storage = FileStorage::adopt(std::move(fd), path, seed.length);
        return PartFile(path, std::move(storage), found, env);
    }
    return busy;  // it kept changing under us: someone else is at work on it
}

std::optional<PartFile::Failure> PartFile::finish(const fs::path& target,
                                                  std::optional<FileIdentity> replace) {
    const int fd = storage_->fd();
    // Only the lock holder renames or removes the .part, and only while the
    // name still leads to its file.
    if (!still_named(*env_, fd, path_))
        return Failure{Problem::kIo, fmt::format("{} is no longer this download's file (moved or "
                                                 "replaced while it ran)",
                                                 path_.string())};
    if (!finished_) {
        if (::ftruncate(fd, static_cast<off_t>(storage_->size())) != 0)
            return io_failure(path_, "cannot cut the trailer", errno);
        if (::fsync(fd) != 0) return io_failure(path_, "sync failed", errno);
        finished_ = true;
    }
    const Failure exists{Problem::kExists,
                         fmt::format("{} appeared during the download; the verified file stays in "
                                     "{}: move {} away and run the same command again",
                                     target.string(), path_.string(), target.string())};
    IoStatus renamed = Ok{};
    if (replace) {
        // Replace only the file that was there when the user said --force,
        // never one that appeared since.
        if (const auto there = env_->lstat(target); there.ok()) {
            if (static_cast<dev_t>(there->device) != replace->dev ||
                static_cast<ino_t>(there->inode) != replace->ino)
                return exists;
            renamed = env_->rename(path_, target);
        } else {
            replace.reset();
        }
    }
    // Without a file to replace, never over one (fails with EEXIST).
    if (!replace) {
        renamed = env_->rename_no_replace(path_, target);
        // Where the file system lacks RENAME_NOREPLACE the Env links, then
        // unlinks: if only the unlink failed, NAME leads to this very file
        // and the .part is a second name of it (as before the Env).
        if (!renamed && renamed.error().code != EEXIST && still_named(*env_, fd, target))
            renamed = Ok{};
    }
    if (!renamed) {
        if (renamed.error().code == EEXIST) return exists;
        return io_failure(path_, fmt::format("cannot rename to {}", target.string()),
                          renamed.error().code);
    }
    const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
    auto dir_fd = env_->open(dir, O_RDONLY | O_DIRECTORY);
    if (!dir_fd) return io_failure(dir_fd.error(), "cannot sync the directory after the rename");
    if (::fsync(dir_fd->get()) != 0)
        return io_failure(dir, "cannot sync the directory after the rename", errno);
    // The name now leads to the very file that was verified.
    path_ = target;
    if (!still_named(*env_, fd, target))
        return Failure{Problem::kIo, fmt::format("{} was replaced by another file right after the "
                                                 "download was renamed to it",
                                                 target.string())};
    return std::nullopt;
}

void PartFile::discard() {
    if (!finished_ && still_named(*env_, storage_->fd(), path_)) (void)env_->remove(path_);
}

std::optional<FileIdentity> FileIdentity::of(const fs::path& p, Env& env) {
    const auto info = env.lstat(p);
    if (!info) return std::nullopt;
    return FileIdentity{static_cast<dev_t>(info->device), static_cast<ino_t>(info->inode)};
}

}  // namespace seedshare
