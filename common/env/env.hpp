// Env: every file-system operation seedshare makes besides one file's
// pread/pwrite, behind one interface (leveldb's Env), so a test can put a
// FaultyEnv (common/env/faulty_env.hpp) in front of the real one and make a
// chosen call fail. PosixEnv is the real one. Everything here blocks: call it
// on the thread pool, never on an io_context thread.
//
// Failures are IoError values carrying the errno: callers decide on `code`,
// never on the text.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/fd.hpp"
#include "common/core/result.hpp"

namespace seedshare {

// What an Env call failed with. `code` is an errno value; besides the
// system's own, read_file uses EISDIR (a directory), EINVAL (not a regular
// file: a FIFO, socket or device, never waited on) and EFBIG (larger than
// the bound; `size` says how large).
struct IoError {
    int code = 0;
    std::string op;              // "open", "rename", "fsync", ...
    std::filesystem::path path;  // the file the call was about
    std::uint64_t size = 0;      // for EFBIG: the file's size

    // "PATH: No space left on device" (the errno's text).
    std::string text() const;
    Error to_error() const { return Error{text()}; }
};

template <class T>
using IoResult = Result<T, IoError>;
using IoStatus = IoResult<Ok>;

enum class FileType {
    kRegular,
    kDirectory,
    kSymlink,
    kFifo,
    kSocket,
    kCharDevice,
    kBlockDevice,
    kUnknown
};

struct FileInfo {
    FileType type = FileType::kUnknown;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::uint64_t inode = 0;
    std::uint64_t device = 0;  // with `inode`, which file a name leads to
};

struct DirEntry {
    std::string name;                    // never "." or ".."
    FileType type = FileType::kUnknown;  // kUnknown when the file system does not say
};

// Held while the object lives (flock on an open file; a second lock on the
// same file fails with EWOULDBLOCK, in this process too).
class FileLock {
  public:
    FileLock() = default;
    explicit FileLock(Fd fd) : fd_(std::move(fd)) {}
    bool held() const { return static_cast<bool>(fd_); }

  private:
    Fd fd_;
};

class Env {
  public:
    virtual ~Env() = default;

    // stat follows a symlink, lstat does not.
    virtual IoResult<FileInfo> stat(const std::filesystem::path& path) = 0;
    virtual IoResult<FileInfo> lstat(const std::filesystem::path& path) = 0;
    // The entries of one directory, sorted by name.
    virtual IoResult<std::vector<DirEntry>> list_dir(const std::filesystem::path& dir) = 0;
    // Replaces `to` if it exists.
    virtual IoStatus rename(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
    // Fails with EEXIST if `to` exists. (Where the file system lacks
    // RENAME_NOREPLACE: a link, then an unlink; when the unlink fails, `to`
    // is in place and `from` may still name the file too.)
    virtual IoStatus rename_no_replace(const std::filesystem::path& from,
                                       const std::filesystem::path& to) = 0;
    // A file or an empty directory.
    virtual IoStatus remove(const std::filesystem::path& path) = 0;
    // A second name `to` for the file `from` (link(2)); fails if `to` exists.
    // The file's later replacement at `from` by a rename leaves `to` as it was.
    virtual IoStatus link(const std::filesystem::path& from, const std::filesystem::path& to) = 0;
    // Every missing directory on the way; existing ones are fine.
    virtual IoStatus create_directories(const std::filesystem::path& dir) = 0;
    // The whole of a regular file of at most `max_bytes` (checked before
    // reading). Opened without blocking: a FIFO is refused, never waited on.
    virtual IoResult<std::string> read_file(const std::filesystem::path& path,
                                            std::uint64_t max_bytes) = 0;
    // A temporary file in the same directory, written, fsynced, renamed over
    // `path`, then the directory fsynced. On failure before the rename nothing
    // is left behind and `path` is as it was.
    virtual IoStatus write_file_atomically(const std::filesystem::path& path,
                                           std::string_view text) = 0;
    // open(2) with these flags (O_CLOEXEC is added) and, with O_CREAT, mode.
    virtual IoResult<Fd> open(const std::filesystem::path& path, int flags, mode_t mode = 0644) = 0;
    // An exclusive lock on `path` (created if missing), without waiting.
    virtual IoResult<FileLock> lock(const std::filesystem::path& path) = 0;
    // The bytes an unprivileged writer may still put on the file system that
    // holds `path` (statvfs: f_bavail x f_frsize).
    virtual IoResult<std::uint64_t> free_space(const std::filesystem::path& path) = 0;

    // True when stat succeeds.
    bool exists(const std::filesystem::path& path) { return stat(path).ok(); }

    // The real file system (stateless, shared: like leveldb's Env::Default).
    static Env& posix();
};

class PosixEnv final : public Env {
  public:
    IoResult<FileInfo> stat(const std::filesystem::path& path) override;
    IoResult<FileInfo> lstat(const std::filesystem::path& path) override;
    IoResult<std::vector<DirEntry>> list_dir(const std::filesystem::path& dir) override;
    IoStatus rename(const std::filesystem::path& from, const std::filesystem::path& to) override;
    IoStatus rename_no_replace(const std::filesystem::path& from,
                               const std::filesystem::path& to) override;
    IoStatus remove(const std::filesystem::path& path) override;
    IoStatus link(const std::filesystem::path& from, const std::filesystem::path& to) override;
    IoStatus create_directories(const std::filesystem::path& dir) override;
    IoResult<std::string> read_file(const std::filesystem::path& path,
                                    std::uint64_t max_bytes) override;
    IoStatus write_file_atomically(const std::filesystem::path& path,
                                   std::string_view text) override;
    IoResult<Fd> open(const std::filesystem::path& path, int flags, mode_t mode = 0644) override;
    IoResult<FileLock> lock(const std::filesystem::path& path) override;
    IoResult<std::uint64_t> free_space(const std::filesystem::path& path) override;
};

// The type of a stat's st_mode.
FileType file_type_of(mode_t mode);

}  // namespace seedshare
