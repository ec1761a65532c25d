// Memory for chunk data in flight, under one byte budget, so memory does not
// grow with the file or the number of peers. Buffers are recycled (a chunk is
// up to 16 MiB: allocating one per chunk would fault its pages in each time)
// and not zeroed (pages never written are never resident). Acquire and
// release on the I/O thread; worker threads only read and write the bytes.
#pragma once

#include <asio.hpp>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace seedshare {

class BufferPool : public std::enable_shared_from_this<BufferPool> {
  public:
    class Buffer {
      public:
        Buffer() = default;
        Buffer(Buffer&& o) noexcept { *this = std::move(o); }
        Buffer& operator=(Buffer&& o) noexcept {
            if (this != &o) {
                release();
                pool_ = std::move(o.pool_);
                data_ = std::move(o.data_);
                size_ = o.size_;
                o.size_ = 0;
            }
            return *this;
        }
        ~Buffer() { release(); }
        std::span<std::uint8_t> span() { return {data_.get(), size_}; }
        std::span<const std::uint8_t> span() const { return {data_.get(), size_}; }
        std::size_t size() const { return size_; }
        explicit operator bool() const { return pool_ != nullptr; }

      private:
        friend class BufferPool;
        void release() {
            if (pool_) pool_->give_back(std::move(data_));
            pool_.reset();
            size_ = 0;
        }
        std::shared_ptr<BufferPool> pool_;
        std::unique_ptr<std::uint8_t[]> data_;  // the pool's buffer_bytes long
        std::size_t size_ = 0;
    };

    // Each buffer holds up to `buffer_bytes`; at most max(1, budget /
    // buffer_bytes) exist at once.
    static std::shared_ptr<BufferPool> create(std::size_t budget_bytes, std::size_t buffer_bytes) {
        return std::shared_ptr<BufferPool>(new BufferPool(budget_bytes, buffer_bytes));
    }

    // A buffer of `size` <= buffer_bytes, or nullopt when the budget is spent.
    std::optional<Buffer> try_acquire(std::size_t size) {
        if (in_use_ >= max_buffers_ || size > buffer_bytes_) return std::nullopt;
        Buffer b;
        if (!free_.empty()) {
            b.data_ = std::move(free_.back());
            free_.pop_back();
        } else {
            b.data_.reset(new std::uint8_t[buffer_bytes_]);  // default-initialised: not touched
        }
        b.size_ = size;
        b.pool_ = shared_from_this();
        ++in_use_;
        peak_in_use_ = std::max(peak_in_use_, in_use_);
        return b;
    }

    // Waits until a buffer is free, in turn (FIFO). size must be <=
    // buffer_bytes. The wait is on `wake` (the caller's): cancelling it makes
    // the waiter ask `abandoned()`, and when that holds it leaves the queue
    // with an empty Buffer, so a connection that closes stops waiting at once;
    // otherwise it keeps its place.
    template <class Abandoned>
    asio::awaitable<Buffer> acquire(std::size_t size, std::shared_ptr<asio::steady_timer> wake,
                                    Abandoned abandoned) {
        for (bool waited = false;; waited = true) {
            if (abandoned()) {
                leave(wake, waited);
                co_return Buffer{};
            }
            if (!queued(wake)) {  // first, or woken by give_back: try
                if (auto b = try_acquire(size)) co_return std::move(*b);
                waiters_.push_back(wake);
            }
            wake->expires_at(asio::steady_timer::time_point::max());
            asio::error_code ec;
            co_await wake->async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
    }

    // The same, for a caller that never gives up.
    asio::awaitable<Buffer> acquire(std::size_t size) {
        auto wake = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
        co_return co_await acquire(size, std::move(wake), [] { return false; });
    }

    std::size_t in_use() const { return in_use_; }
    // The most ever in use at once (tests show an attack really took them all).
    std::size_t peak_in_use() const { return peak_in_use_; }
    std::size_t capacity() const { return max_buffers_; }
    std::size_t buffer_bytes() const { return buffer_bytes_; }

    // Frees the buffers not in use, and from now on each one given back (a
    // download that completed needs none again; a swarm serving many files
    // would otherwise keep each one's peak in memory).
    void trim() {
        keep_free_ = false;
        free_.clear();
        free_.shrink_to_fit();
    }
    std::size_t free_count() const { return free_.size(); }

  private:
    BufferPool(std::size_t budget, std::size_t buffer_bytes)
        : buffer_bytes_(buffer_bytes),
          max_buffers_(std::max<std::size_t>(1, budget / std::max<std::size_t>(1, buffer_bytes))) {}

    void give_back(std::unique_ptr<std::uint8_t[]> data) {
        --in_use_;
        if (keep_free_ && free_.size() < max_buffers_) free_.push_back(std::move(data));
        wake_one();
    }

    // The oldest waiter still waiting, if any, tries again.
    void wake_one() {
        while (!waiters_.empty()) {
            auto w = waiters_.front().lock();
            waiters_.pop_front();
            if (w) {
                w->cancel();
                break;
            }
        }
    }

    bool queued(const std::shared_ptr<asio::steady_timer>& wake) const {
        return std::any_of(waiters_.begin(), waiters_.end(),
                           [&](const auto& w) { return w.lock() == wake; });
    }

    // A waiter that gave up leaves the queue. One that was no longer in it
    // had been woken by give_back and not taken the buffer: the next tries.
    void leave(const std::shared_ptr<asio::steady_timer>& wake, bool waited) {
        const auto before = waiters_.size();
        std::erase_if(waiters_, [&](const auto& w) { return w.lock() == wake; });
        if (waited && waiters_.size() == before && in_use_ < max_buffers_) wake_one();
    }

    std::size_t buffer_bytes_;
    std::size_t max_buffers_;
    std::size_t in_use_ = 0;
    std::size_t peak_in_use_ = 0;
    bool keep_free_ = true;
    std::vector<std::unique_ptr<std::uint8_t[]>> free_;
    std::deque<std::weak_ptr<asio::steady_timer>> waiters_;
};

}  // namespace seedshare
