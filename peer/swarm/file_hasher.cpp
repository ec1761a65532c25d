#include "peer/swarm/file_hasher.hpp"

#include <algorithm>

namespace seedshare {

FileHasher::FileHasher(const Seed& seed, Storage& storage)
    : length_(seed.length),
      chunk_size_(seed.chunk_size),
      storage_(storage),
      written_(seed.chunk_count(), false) {}

bool FileHasher::chunk_written(ChunkIndex c, std::span<const std::uint8_t> data) {
    std::unique_lock lock(mu_);
    written_[c.value] = true;
    if (busy_ || error_ || c.value != next_) return !busy_ && !error_ && drain_needed();
    busy_ = true;
    lock.unlock();
    sha_.update(data);
    lock.lock();
    ++next_;
    busy_ = false;
    idle_.notify_all();
    return drain_needed();
}

void FileHasher::drain() {
    std::unique_lock lock(mu_);
    if (busy_ || error_) return;
    busy_ = true;
    if (auto st = drain_locked(lock); !st) error_ = st.error();
    busy_ = false;
    idle_.notify_all();
}

Status FileHasher::drain_locked(std::unique_lock<std::mutex>& lock) {
    while (drain_needed()) {
        const ChunkIndex c{next_};
        lock.unlock();
        Status st = Ok{};
        const std::uint64_t start = std::uint64_t{c.value} * chunk_size_;
        const std::uint64_t end = std::min(length_, start + chunk_size_);
        for (std::uint64_t off = start; off < end && st; off += kReadBytes) {
            scratch_.resize(
                static_cast<std::size_t>(std::min<std::uint64_t>(kReadBytes, end - off)));
            st = storage_.read(off, scratch_);
            if (st) sha_.update(scratch_);
        }
        lock.lock();
        if (!st) return st;
        ++next_;
    }
    return Ok{};
}

Result<Digest> FileHasher::finish() {
    std::unique_lock lock(mu_);
    idle_.wait(lock, [&] { return !busy_; });
    if (error_) return *error_;
    busy_ = true;
    auto st = drain_locked(lock);
    busy_ = false;
    scratch_ = {};
    if (!st) return st.error();
    if (next_ != written_.size()) return Error{"whole-file hash: chunks are missing"};
    return sha_.finish();
}

}  // namespace seedshare
