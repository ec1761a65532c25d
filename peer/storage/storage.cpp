#include "peer/storage/storage.hpp"

#include <fcntl.h>  // also sync_file_range (_GNU_SOURCE, on by default in g++)
#include <sys/uio.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

namespace seedshare {

namespace {
Error errno_error(const std::filesystem::path& p, std::string_view what, int err) {
    return Error{fmt::format("{}: {}: {}", p.string(), what, std::strerror(err))};
}
}  // namespace

FileStorage::FileStorage(Fd fd, std::filesystem::path path, std::uint64_t size, bool watch)
    : fd_(std::move(fd)), path_(std::move(path)), size_(size), watch_(watch) {
    struct stat st {};
    if (::fstat(fd_.get(), &st) == 0) {
        mtime_ = st.st_mtim;
        inode_ = st.st_ino;
    }
}

Result<std::unique_ptr<FileStorage>> FileStorage::open_read(const std::filesystem::path& path,
                                                            Env& env) {
    // O_NONBLOCK: a FIFO (or device) put in the file's place is refused, not
    // waited on; reads of a regular file ignore the flag.
    auto opened = env.open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (!opened) return errno_error(path, "cannot open", opened.error().code);
    Fd fd = std::move(*opened);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return errno_error(path, "cannot stat", errno);
    if (!S_ISREG(st.st_mode)) return Error{fmt::format("{}: not a regular file", path.string())};
    return std::unique_ptr<FileStorage>(
        new FileStorage(std::move(fd), path, static_cast<std::uint64_t>(st.st_size), true));
}

bool FileStorage::changed_on_disk() const {
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) return true;
    return static_cast<std::uint64_t>(st.st_size) != size_ || st.st_ino != inode_ ||
           st.st_mtim.tv_sec != mtime_.tv_sec || st.st_mtim.tv_nsec != mtime_.tv_nsec;
}

Status FileStorage::read(std::uint64_t offset, std::span<std::uint8_t> out) {
    if (offset > size_ || out.size() > size_ - offset)
        return Error{fmt::format("{}: read past the end", path_.string())};
    if (watch_ && changed_on_disk())
        return Error{fmt::format("{}: changed on disk", path_.string())};
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::pread(fd_.get(), out.data() + done, out.size() - done,
                                  static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_error(path_, "read failed", errno);
        if (n == 0) return Error{fmt::format("{}: file shorter than expected", path_.string())};
        done += static_cast<std::size_t>(n);
    }
    // A change during the read may have torn it.
    if (watch_ && changed_on_disk())
        return Error{fmt::format("{}: changed on disk", path_.string())};
    return Ok{};
}

std::optional<Status> FileStorage::read_if_cached(std::uint64_t offset,
                                                  std::span<std::uint8_t> out) {
    if (offset > size_ || out.size() > size_ - offset)
        return Error{fmt::format("{}: read past the end", path_.string())};
    if (watch_ && changed_on_disk())
        return Error{fmt::format("{}: changed on disk", path_.string())};
    iovec iov{out.data(), out.size()};
    // RWF_NOWAIT: fail with EAGAIN rather than wait for the disk; a short read
    // (part of it cached) is handed to the pool as a whole.
    const ssize_t n = ::preadv2(fd_.get(), &iov, 1, static_cast<off_t>(offset), RWF_NOWAIT);
    if (n != static_cast<ssize_t>(out.size())) return std::nullopt;
    if (watch_ && changed_on_disk())
        return Error{fmt::format("{}: changed on disk", path_.string())};
    return Status{Ok{}};
}

Status FileStorage::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    if (offset > size_ || data.size() > size_ - offset)
        return Error{fmt::format("{}: write past the end", path_.string())};
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::pwrite(fd_.get(), data.data() + done, data.size() - done,
                                   static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_error(path_, "write failed", errno);
        done += static_cast<std::size_t>(n);
    }
    // Start writing it back now, so the final sync before the rename has
    // little left to wait for. Only starts I/O; errors show at sync().
    ::sync_file_range(fd_.get(), static_cast<off_t>(offset), static_cast<off_t>(data.size()),
                      SYNC_FILE_RANGE_WRITE);
    return Ok{};
}

Status FileStorage::sync() {
    if (::fdatasync(fd_.get()) != 0) return errno_error(path_, "sync failed", errno);
    return Ok{};
}

}  // namespace seedshare
