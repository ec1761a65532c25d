#include "peer/library/seed_maker.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>

#include "common/core/fd.hpp"
#include "common/core/limits.hpp"
#include "common/crypto/sha256.hpp"
#include "common/env/env.hpp"

namespace seedshare {

namespace {

constexpr std::uint64_t kSlabTarget = 4ull << 20;

// A run of whole chunks read from the file, waiting to have its chunks hashed.
struct Slab {
    std::uint32_t first_chunk = 0;
    std::uint64_t bytes = 0;
    std::vector<std::uint8_t> data;
};

// Bounded hand-off between the reading thread and the chunk hashers. Empty
// slabs are recycled through `free_` so buffers are allocated once.
class SlabQueue {
  public:
    explicit SlabQueue(std::size_t slabs, std::size_t slab_bytes) {
        for (std::size_t i = 0; i < slabs; ++i) {
            free_.emplace_back();
            free_.back().data.resize(slab_bytes);
        }
    }
    Slab take_free() {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !free_.empty(); });
        Slab s = std::move(free_.front());
        free_.pop_front();
        return s;
    }
    void give_free(Slab s) {
        {
            std::lock_guard lock(mu_);
            free_.push_back(std::move(s));
        }
        cv_.notify_all();
    }
    void push_full(Slab s) {
        {
            std::lock_guard lock(mu_);
            full_.push_back(std::move(s));
        }
        cv_.notify_all();
    }
    // nullopt once closed and drained.
    std::optional<Slab> take_full() {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !full_.empty() || closed_; });
        if (full_.empty()) return std::nullopt;
        Slab s = std::move(full_.front());
        full_.pop_front();
        return s;
    }
    void close() {
        {
            std::lock_guard lock(mu_);
            closed_ = true;
        }
        cv_.notify_all();
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Slab> free_;
    std::deque<Slab> full_;
    bool closed_ = false;
};

std::string errno_text(int err) {
    return std::strerror(err);
}

}  // namespace

Result<Seed> make_seed(const std::filesystem::path& file, const SeedMakerOptions& options) {
    const std::string shown = file.string();
    // O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer.
    // What was opened is checked with fstat (no race with a stat before the
    // open), and only a regular file is read, in blocking mode again.
    auto opened = options.env->open(file, O_RDONLY | O_NONBLOCK | O_NOCTTY);
    if (!opened) return Error{fmt::format("{}: {}", shown, errno_text(opened.error().code))};
    Fd fd = std::move(*opened);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Error{fmt::format("{}: {}", shown, errno_text(errno))};
    if (S_ISDIR(st.st_mode)) return Error{fmt::format("{}: is a directory, not a file", shown)};
    if (!S_ISREG(st.st_mode)) return Error{fmt::format("{}: not a regular file", shown)};
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0)
        return Error{fmt::format("{}: {}", shown, errno_text(errno))};

    if (options.trackers.empty() || options.trackers.size() > limits::kMaxTrackersPerSeed)
        return Error{fmt::format("a seed names 1 to {} trackers, not {}",
                                 limits::kMaxTrackersPerSeed, options.trackers.size())};
    for (std::size_t i = 0; i < options.trackers.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (options.trackers[i] == options.trackers[j])
                return Error{fmt::format("tracker {} listed twice", options.trackers[i].str())};
    Seed seed;
    seed.name = file.filename().string();
    if (auto ok = validate_file_name(seed.name); !ok)
        return Error{fmt::format("{}: cannot be seeded: {}", shown, ok.error().message)};
    seed.length = static_cast<std::uint64_t>(st.st_size);
    seed.chunk_size =
        options.chunk_size != 0 ? options.chunk_size : default_chunk_size(seed.length);
    seed.trackers = options.trackers;
    if (seed.chunk_size > limits::kMaxChunkSize)
        return Error{fmt::format("chunk size {} is above the limit of {}", seed.chunk_size,
                                 limits::kMaxChunkSize)};
    const std::uint64_t chunks = chunk_count_for(seed.length, seed.chunk_size);
    if (chunks > limits::kMaxChunkCount)
        return Error{
            fmt::format("{}: {} chunks of {} bytes is above the limit of {} chunks; use a "
                        "larger --chunk-size",
                        shown, chunks, seed.chunk_size, limits::kMaxChunkCount)};
    seed.chunk_hashes.resize(chunks);
    ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);

    const std::uint64_t chunks_per_slab = std::max<std::uint64_t>(1, kSlabTarget / seed.chunk_size);
    const std::uint64_t slab_bytes = chunks_per_slab * seed.chunk_size;
    const unsigned cores =
        options.threads != 0 ? options.threads : std::thread::hardware_concurrency();
    // One thread reads and hashes the whole file; the others hash chunks.
    const unsigned hashers = std::max(1u, cores > 1 ? cores - 1 : 1u);
    SlabQueue queue(hashers + 2, static_cast<std::size_t>(std::min(
                                     slab_bytes, std::max<std::uint64_t>(seed.length, 1))));

    std::vector<std::thread> workers;
    for (unsigned i = 0; i < hashers; ++i) {
        workers.emplace_back([&] {
            Sha256 h;
            while (auto slab = queue.take_full()) {
                for (std::uint64_t off = 0; off < slab->bytes; off += seed.chunk_size) {
                    const auto n = std::min(seed.chunk_size, slab->bytes - off);
                    h.update(std::span(slab->data.data() + off, n));
                    seed.chunk_hashes[slab->first_chunk + off / seed.chunk_size] = h.finish();
                }
                queue.give_free(std::move(*slab));
            }
        });
    }

    std::optional<Error> failure;
    Sha256 whole;
    for (std::uint64_t chunk = 0; chunk < chunks && !failure; chunk += chunks_per_slab) {
        if (options.cancel != nullptr && options.cancel->load()) {
            failure = Error{fmt::format("{}: cancelled", shown)};
            break;
        }
        Slab slab = queue.take_free();
        slab.first_chunk = static_cast<std::uint32_t>(chunk);
        const std::uint64_t offset = chunk * seed.chunk_size;
        slab.bytes = std::min(slab_bytes, seed.length - offset);
        std::uint64_t got = 0;
        while (got < slab.bytes) {
            const ssize_t n = ::pread(fd.get(), slab.data.data() + got, slab.bytes - got,
                                      static_cast<off_t>(offset + got));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                failure = Error{fmt::format("{}: read failed: {}", shown, errno_text(errno))};
                break;
            }
            if (n == 0) {
                failure = Error{fmt::format("{}: the file shrank while being read", shown)};
                break;
            }
            got += static_cast<std::uint64_t>(n);
        }
        if (failure) {
            queue.give_free(std::move(slab));
            break;
        }
        whole.update(std::span(slab.data.data(), slab.bytes));
        queue.push_full(std::move(slab));
    }
    queue.close();
    for (auto& t : workers)
        t.join();
    if (failure) return *failure;

    struct stat after {};
    if (::fstat(fd.get(), &after) != 0 || after.st_size != st.st_size ||
        after.st_mtim.tv_sec != st.st_mtim.tv_sec || after.st_mtim.tv_nsec != st.st_mtim.tv_nsec)
        return Error{fmt::format("{}: the file changed while being read", shown)};
    seed.file_hash = whole.finish();
    return seed;
}

Status write_file_atomically(const std::filesystem::path& path, std::string_view text) {
    auto written = Env::posix().write_file_atomically(path, text);
    if (!written)
        return Error{
            fmt::format("{}: cannot write: {}", path.string(), errno_text(written.error().code))};
    return Ok{};
}

}  // namespace seedshare
