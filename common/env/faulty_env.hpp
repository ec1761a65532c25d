// FaultyEnv: an Env for tests that passes every call to another Env except
// the ones it is told to fail, which fail with a chosen errno (ENOSPC, EIO,
// ...) without reaching the other Env. Thread-safe: the code under test may
// call it from the thread pool.
#pragma once

#include <array>
#include <cstddef>
#include <filesystem>
#include <mutex>
#include <optional>
#include <vector>

#include "common/env/env.hpp"

namespace seedshare {

class FaultyEnv final : public Env {
  public:
    // The operations a fault can be put on (stat and lstat are both kStat).
    enum class Op {
        kStat,
        kListDir,
        kRename,  // rename and rename_no_replace
        kRemove,
        kLink,
        kCreateDirectories,
        kReadFile,
        kWriteFileAtomically,
        kOpen,
        kLock,
        kFreeSpace,
        kAny,  // for fail_path: every operation
    };

    explicit FaultyEnv(Env& base) : base_(base) {}

    // The nth call of `op` from now (1: the next one) fails with `error`, once.
    void fail_nth(Op op, int n, int error);
    // Every call of `op` (kAny: of any operation) about `path` or a path
    // under it fails with `error`, until clear().
    void fail_path(Op op, std::filesystem::path path, int error);
    // free_space answers `bytes` (a disk as full as a test needs) instead of
    // asking the other Env; nullopt: asks it again. A fault put on
    // kFreeSpace still wins. Not undone by clear().
    void set_free_space(std::optional<std::uint64_t> bytes);
    // No more faults (the counts stay).
    void clear();
    // The calls of `op` so far (kAny: all of them), failed or not.
    std::size_t calls(Op op) const;
    // The calls failed so far.
    std::size_t injected() const;

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

  private:
    struct Nth {
        Op op;
        std::size_t at;  // fails when calls_[op] reaches this
        int error;
    };
    struct OnPath {
        Op op;
        std::filesystem::path path;
        int error;
    };
    static constexpr std::size_t kOps = static_cast<std::size_t>(Op::kAny);

    // Counts the call; the errno to fail it with, or 0 to pass it on.
    int fault(Op op, const std::filesystem::path& path, const std::filesystem::path& other = {});

    Env& base_;
    mutable std::mutex mutex_;
    std::array<std::size_t, kOps> calls_{};
    std::size_t injected_ = 0;
    std::vector<Nth> nth_;
    std::vector<OnPath> paths_;
    std::optional<std::uint64_t> free_space_;
};

}  // namespace seedshare
