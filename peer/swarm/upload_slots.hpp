// How many blocks one process sends at once, to whomever they go: the
// upload slots (BitTorrent's unchoke slots, by block rather than by peer).
//
// Why: a peer asked for blocks by every peer of a big swarm that sends them
// all at once splits its link among all of them, so every block, and the
// chunk it completes, arrives late everywhere at the same moment: with 38
// requesters on a 2 MiB/s link a 256 KiB block takes 4.7 s, and a new chunk
// moves one hop per 4.7 s (on the shaped network of scripts/bench/netswarm,
// 38 getters held 0 or 1 chunk 5 s in). A few blocks at a
// time, taken in turn (FIFO), each goes out at a fair share of the link and
// its chunk can be passed on soon after it left.
//
// How few (limits::kDefaultUploadSlots, 2): a chunk can be passed on only
// once all of it arrived, so on a link that is the limit k blocks at once
// each arrive k times later, and a seed's copy that takes longer than its
// patience (SpreadTracker) lets a second copy of the chunk go out. Where the
// receivers' downlinks are the limit, fewer blocks at once leave the uplink
// partly idle. Measured on scripts/bench/netswarm (docs/BENCHMARKS.md, "Two
// blocks at a time"): 40 hosts on 1 MiB/s uplinks, 4 at once gave the median
// getter 1.7-1.9x the ideal bound and the seeder 1.6-1.9 copies, 1 or 2 at
// once about 1.5x and 1.3-1.4 copies; with downloads capped at a quarter of
// the uplink, 1 at once was 15-19% slower than 4, 2 at once 4-5% (one run
// each; 3-6% in interleaved runs against the build with 4). A width
// measured at run time (more blocks while they raise the rate) was tried and
// not kept: its measures at 1 MiB/s were too noisy to tell the two cases
// apart, and it ended as slow as 4.
//
// Every place in the queue is owned by a Ticket (RAII), so a waiter leaves
// the queue, or gives its slot back, however its coroutine ends.
//
// A slot is held while a block's bytes are taken by the remote; a connection
// whose remote stops reading gives its slot back, or its place in the queue
// when its control frames stall (PeerConnection::serve and write_control),
// so a stalled remote never holds one. Lifetime: shared by the Node and the
// slots handed out; used on the I/O thread only.
#pragma once

#include <asio.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <list>
#include <memory>

namespace seedshare {

class UploadSlots : public std::enable_shared_from_this<UploadSlots> {
    // One waiter: its timer is cancelled when it is granted.
    struct Place {
        asio::steady_timer* wake;
        bool granted;
    };

  public:
    // Held while sending one block; given back when destroyed (or reset).
    class Slot {
      public:
        Slot() = default;
        Slot(Slot&& o) noexcept : owner_(std::move(o.owner_)) {}
        Slot& operator=(Slot&& o) noexcept {
            if (this != &o) {
                reset();
                owner_ = std::move(o.owner_);
            }
            return *this;
        }
        ~Slot() { reset(); }
        explicit operator bool() const { return owner_ != nullptr; }
        void reset() {
            if (auto o = std::move(owner_)) o->give_back();
        }

      private:
        friend class UploadSlots;
        explicit Slot(std::shared_ptr<UploadSlots> owner) : owner_(std::move(owner)) {}
        std::shared_ptr<UploadSlots> owner_;
    };

    // A place in the queue for a slot, for a coroutine that must stay
    // responsive while it waits (a connection's writer: its control frames
    // go out meanwhile). take() yields the Slot once granted. Dropped
    // ungranted, it leaves the queue; dropped granted, the slot goes back.
    class Ticket {
      public:
        Ticket() = default;
        Ticket(Ticket&& o) noexcept = default;
        Ticket& operator=(Ticket&& o) noexcept {
            if (this != &o) {
                reset();
                owner_ = std::move(o.owner_);
                place_ = std::move(o.place_);
            }
            return *this;
        }
        ~Ticket() { reset(); }
        explicit operator bool() const { return owner_ != nullptr; }
        bool granted() const { return place_ && place_->granted; }
        // The slot, when granted (else an empty Slot); the ticket is spent.
        Slot take() {
            if (!granted()) return Slot();
            place_.reset();
            return Slot(std::move(owner_));
        }
        void reset() {
            auto owner = std::move(owner_);
            auto place = std::move(place_);
            if (!owner) return;
            if (place->granted) {
                owner->give_back();
            } else {
                owner->leave(place.get());
            }
        }

      private:
        friend class UploadSlots;
        std::shared_ptr<UploadSlots> owner_;
        std::shared_ptr<Place> place_;
    };

    // `slots` blocks at once (at least 1).
    static std::shared_ptr<UploadSlots> create(std::size_t slots) {
        return std::shared_ptr<UploadSlots>(new UploadSlots(slots));
    }

    // A ticket granted at once when a slot is free and nobody waits, else a
    // place at the end of the queue; `wake` is cancelled when it is granted.
    // The timer must outlive the ticket.
    Ticket request(asio::steady_timer& wake) {
        Ticket t;
        t.owner_ = shared_from_this();
        t.place_ = std::make_shared<Place>(Place{&wake, false});
        if (in_use_ < slots_ && queue_.empty()) {
            ++in_use_;
            t.place_->granted = true;
        } else {
            queue_.push_back(t.place_.get());
        }
        return t;
    }

    // A slot at once when one is free and nobody waits, else once those who
    // wait before us had theirs (FIFO). Every `recheck` while it waits,
    // `abandoned()` is asked: true gives up the place (an empty Slot).
    // The wait is on `timer` (the caller's): cancelling it, as a connection
    // that closes does, has `abandoned()` asked at once.
    template <class Abandoned>
    asio::awaitable<Slot> acquire(asio::steady_timer& timer, Abandoned abandoned,
                                  std::chrono::steady_clock::duration recheck) {
        Ticket ticket = request(timer);
        while (!ticket.granted()) {
            if (abandoned()) co_return Slot();  // the ticket leaves the queue
            timer.expires_after(recheck);
            asio::error_code ec;
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        co_return ticket.take();
    }
    template <class Abandoned>
    asio::awaitable<Slot> acquire(Abandoned abandoned,
                                  std::chrono::steady_clock::duration recheck) {
        asio::steady_timer timer(co_await asio::this_coro::executor);
        co_return co_await acquire(timer, std::move(abandoned), recheck);
    }

    std::size_t in_use() const { return in_use_; }
    std::size_t capacity() const { return slots_; }
    std::size_t waiting() const { return queue_.size(); }

  private:
    explicit UploadSlots(std::size_t slots) : slots_(slots == 0 ? 1 : slots) {}

    void give_back() {
        if (queue_.empty()) {
            --in_use_;
            return;
        }
        // The slot passes to the oldest waiter, still counted in in_use_.
        Place* p = queue_.front();
        queue_.pop_front();
        p->granted = true;
        p->wake->cancel();
    }

    void leave(Place* p) {
        if (const auto it = std::find(queue_.begin(), queue_.end(), p); it != queue_.end())
            queue_.erase(it);
    }

    std::size_t slots_;
    std::size_t in_use_ = 0;
    std::list<Place*> queue_;  // waiting, oldest first; each owned by a Ticket
};

}  // namespace seedshare
