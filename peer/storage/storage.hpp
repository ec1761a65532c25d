// Where a shared or downloaded file's bytes live. The calls block (disk), so
// they run on the thread pool, never on the I/O thread. The interface lets
// tests put a fault-injecting storage (disk full, I/O errors) in its place.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>

#include "common/core/fd.hpp"
#include "common/core/result.hpp"
#include "common/env/env.hpp"

namespace seedshare {

class Storage {
  public:
    virtual ~Storage() = default;
    virtual std::uint64_t size() const = 0;
    // Reads exactly out.size() bytes at offset. Fails if the file changed on
    // disk since it was opened (a served file must never be served stale).
    virtual Status read(std::uint64_t offset, std::span<std::uint8_t> out) = 0;
    virtual Status write(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
    // Makes written data durable.
    virtual Status sync() = 0;
    // read() if it can be done without waiting for the disk (the bytes are in
    // the page cache), so the I/O thread may call it; nullopt otherwise (then
    // call read() on the thread pool).
    virtual std::optional<Status> read_if_cached(std::uint64_t, std::span<std::uint8_t>) {
        return std::nullopt;
    }
};

// A file on disk. Thread-safe: pread/pwrite on one descriptor.
class FileStorage final : public Storage {
  public:
    // An existing file, read-only (serving a complete file). It remembers the
    // size, mtime and inode it saw; read() fails once they change. Opened
    // through `env` (the process's file system, or a test's FaultyEnv).
    static Result<std::unique_ptr<FileStorage>> open_read(const std::filesystem::path& path,
                                                          Env& env = Env::posix());
    // An open read-write descriptor whose first `size` bytes are the data
    // (anything after them is not this storage's).
    static std::shared_ptr<FileStorage> adopt(Fd fd, const std::filesystem::path& path,
                                              std::uint64_t size) {
        return std::shared_ptr<FileStorage>(new FileStorage(std::move(fd), path, size, false));
    }

    std::uint64_t size() const override { return size_; }
    Status read(std::uint64_t offset, std::span<std::uint8_t> out) override;
    Status write(std::uint64_t offset, std::span<const std::uint8_t> data) override;
    Status sync() override;
    std::optional<Status> read_if_cached(std::uint64_t offset,
                                         std::span<std::uint8_t> out) override;
    // True when the file at the descriptor is no longer what was opened.
    bool changed_on_disk() const;
    // True when what was opened differs from a stat taken earlier.
    bool changed_since(std::uint64_t size, std::int64_t mtime_ns, std::uint64_t inode) const {
        return size != size_ || inode != inode_ ||
               mtime_ns != std::int64_t{mtime_.tv_sec} * 1'000'000'000 + mtime_.tv_nsec;
    }
    int fd() const { return fd_.get(); }

  private:
    FileStorage(Fd fd, std::filesystem::path path, std::uint64_t size, bool watch);

    Fd fd_;
    std::filesystem::path path_;
    std::uint64_t size_;
    bool watch_;  // check for changes (read-only shares)
    struct timespec mtime_ {};
    ino_t inode_ = 0;
};

}  // namespace seedshare
