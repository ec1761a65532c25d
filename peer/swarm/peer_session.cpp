#include "peer/swarm/peer_session.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "common/core/limits.hpp"
#include "common/core/plural.hpp"

namespace seedshare {

namespace pp = peer_proto;

PeerSession::PeerSession(SessionHost& host, TimePoint now, std::function<void()> wake)
    : host_(host),
      wake_(std::move(wake)),
      theirs_(host.seed().chunk_count()),
      last_piece_at_(now),
      last_block_at_(now),
      last_received_at_(now),
      down_rate_(now) {}

void PeerSession::send(const pp::Message& m) {
    if (closed_) return;
    const Bytes frame = pp::encode(m);
    control_.insert(control_.end(), frame.begin(), frame.end());
    wake_();
}

void PeerSession::reject(const pp::Block& b) {
    if (closed_) return;
    rejects_.push_back(b);
    wake_();
}

void PeerSession::fail(const std::string& violation) {
    serve_queue_.clear();
    queued_bytes_ = 0;
    send(pp::ErrorMsg{pp::ErrorCode::kProtocol, violation});
}

void PeerSession::say_goodbye() {
    if (goodbye_sent_ || closed_) return;
    goodbye_sent_ = true;
    send(pp::Goodbye{});
}

Bytes PeerSession::take_frames() {
    for (const auto& b : rejects_) {
        const Bytes frame = pp::encode(pp::Reject{b});
        control_.insert(control_.end(), frame.begin(), frame.end());
    }
    rejects_.clear();
    Bytes frames;
    frames.swap(control_);
    return frames;
}

std::optional<pp::Block> PeerSession::next_upload(TimePoint now) {
    if (serve_queue_.empty()) return std::nullopt;
    const pp::Block b = serve_queue_.front();
    serve_queue_.pop_front();
    queued_bytes_ -= b.length;
    auto it = promised_.find(b.chunk.value);
    if (it != promised_.end() && it->second.sending && !it->second.began) {
        it->second.began = now;
        host_.spread().copy_began(b.chunk, now);
    }
    return b;
}

void PeerSession::count_uploaded(const pp::Block& b, TimePoint now) {
    uploaded_ += b.length;
    last_block_at_ = now;
    // The block that ends the chunk ends the copy (the remote asks for a
    // chunk's blocks in order, and they are served in order).
    auto it = promised_.find(b.chunk.value);
    if (it == promised_.end() || !it->second.sending) return;
    if (std::uint64_t{b.offset} + b.length < host_.seed().chunk_length(b.chunk)) return;
    it->second.sending = false;
    host_.spread().copy_written(b.chunk, it->second.began.value_or(now), now);
}

void PeerSession::unreadable(const pp::Block& b) {
    end_promise(b.chunk);
    send(pp::Reject{b});
}

void PeerSession::end_promise(ChunkIndex c) {
    auto it = promised_.find(c.value);
    if (it == promised_.end()) return;
    if (it->second.sending) host_.spread().copy_abandoned(c);
    host_.spread().unpromise(c);
    promised_.erase(it);
}

void PeerSession::teardown() {
    for (auto& [index, fetch] : fetches_)
        if (!fetch.dropped) host_.picker().release(fetch.chunk);
    if (got_bitfield_) host_.spread().remove_holder(theirs_);
    while (!promised_.empty())
        end_promise(ChunkIndex{promised_.begin()->first});
    fetches_.clear();
    outstanding_.clear();
    outstanding_bytes_ = 0;
}

bool PeerSession::stalled(TimePoint now) const {
    return !outstanding_.empty() && now - last_piece_at_ > host_.options().stall_timeout;
}

// --- fetching ----------------------------------------------------------------

void PeerSession::forget_old_cancels(TimePoint now) {
    // A Piece or Reject that crossed a Cancel arrives within a round trip; the
    // remote may also drop a cancelled request without a word. Entries older
    // than cancel_memory are forgotten, so the set does not only grow.
    if (cancelled_.size() < limits::kMaxQueuedRequests) return;
    const auto old = now - host_.options().cancel_memory;
    std::erase_if(cancelled_, [&](const auto& e) { return e.second < old; });
}

bool PeerSession::refused(ChunkIndex c, TimePoint now) {
    auto it = refused_.find(c.value);
    if (it == refused_.end()) return false;
    if (now < it->second) return true;
    refused_.erase(it);
    return false;
}

void PeerSession::count_received(std::uint64_t bytes, TimePoint now) {
    down_rate_.add(bytes, now);
}

std::uint64_t PeerSession::pipeline_target() const {
    const auto& o = host_.options();
    const auto most = std::max(o.pipeline_min_bytes, o.pipeline_max_bytes);
    // Not measured yet: start small (a busy or rate-limited peer must not
    // collect a large share of the file in its queue); it grows with the rate.
    const double rate = down_rate_.rate();
    if (rate == 0) return o.pipeline_min_bytes;
    const double want = rate * std::chrono::duration<double>(o.pipeline_window).count();
    return std::clamp<std::uint64_t>(static_cast<std::uint64_t>(want), o.pipeline_min_bytes, most);
}

void PeerSession::set_spared(bool spared) {
    if (spared == spared_) return;
    if (got_bitfield_) {
        host_.picker().remove_peer(theirs_, spared_);
        host_.picker().add_peer(theirs_, spared);
    }
    spared_ = spared;
}

void PeerSession::fill_requests(TimePoint now) {
    if (closed_ || remote_leaving_ || !host_.downloading() || !got_bitfield_) return;
    const auto& o = host_.options();
    const auto& seed = host_.seed();
    const auto target = pipeline_target();
    // A backup is asked only for what no other connected peer holds, unless
    // the others are slow (BackupSparing).
    const bool spare = spared_ && !host_.turn_to_backups();
    auto& picker = host_.picker();
    if (spare && picker.others_hold_all() && fetches_.empty()) return;
    // By bytes, and by count: the remote drops a peer with more than
    // kMaxQueuedRequests waiting (small chunks make small blocks).
    // And within the getter's budget for all its connections together.
    while (outstanding_bytes_ < target && outstanding_.size() + 1 < limits::kMaxQueuedRequests &&
           host_.may_request_more()) {
        Fetch* f = nullptr;
        for (auto& [index, fetch] : fetches_) {
            if (fetch.next_offset < fetch.buffer.size() && !fetch.dropped) {
                f = &fetch;
                break;
            }
        }
        if (f == nullptr) {
            // Start a new chunk, if memory allows and the picker has one for us.
            auto& buffers = host_.fetch_buffers();
            if (buffers.in_use() >= buffers.capacity()) return;  // before the picker's work
            if (spare && picker.others_hold_all()) return;
            const auto chunk = picker.pick(
                theirs_,
                [&](ChunkIndex c) {
                    return fetches_.contains(c.value) || refused(c, now) ||
                           (spare && picker.held_by_others(c));
                },
                host_.pick_window());
            if (!chunk) return;
            auto buffer = buffers.try_acquire(seed.chunk_length(*chunk));
            if (!buffer) {
                picker.release(*chunk);
                return;
            }
            f = &fetches_.emplace(chunk->value, Fetch{*chunk, std::move(*buffer)}).first->second;
        }
        if (outstanding_.empty()) {
            last_piece_at_ = now;
            down_rate_.resume(now);  // idle time is not slowness
        }
        const auto length = static_cast<std::uint32_t>(
            std::min<std::size_t>(o.block_bytes, f->buffer.size() - f->next_offset));
        const pp::Block b{f->chunk, f->next_offset, length};
        f->next_offset += length;
        outstanding_.push_back(b);
        outstanding_bytes_ += length;
        send(pp::Request{b});
    }
}

void PeerSession::drop_fetch(ChunkIndex c, bool send_cancels, TimePoint now) {
    auto it = fetches_.find(c.value);
    if (it == fetches_.end() || it->second.dropped) return;
    for (auto o = outstanding_.begin(); o != outstanding_.end();) {
        if (o->chunk == c) {
            if (send_cancels) {
                send(pp::Cancel{*o});
                forget_old_cancels(now);
                cancelled_.emplace(*o, now);
            }
            outstanding_bytes_ -= o->length;
            o = outstanding_.erase(o);
        } else {
            ++o;
        }
    }
    host_.picker().release(c);
    // A read into this buffer may be in flight: then end_piece erases it.
    if (reading_into_ == c.value) {
        it->second.dropped = true;
    } else {
        fetches_.erase(it);
    }
}

void PeerSession::cancel_fetch(ChunkIndex c, TimePoint now) {
    drop_fetch(c, true, now);
}

Result<PeerSession::PieceTarget> PeerSession::begin_piece(const pp::Block& b) {
    const auto o = std::find(outstanding_.begin(), outstanding_.end(), b);
    if (o == outstanding_.end()) {
        if (cancelled_.erase(b) != 0)
            return PieceTarget{.skip = true, .into = {}};  // crossed our Cancel
        return Error{
            fmt::format("sent data that was never requested (chunk {}, offset {}, length {})",
                        b.chunk.value, b.offset, b.length)};
    }
    outstanding_.erase(o);
    outstanding_bytes_ -= b.length;
    // From here until the bytes are in, a cancel only marks the fetch dropped.
    reading_into_ = b.chunk.value;
    auto& fetch = fetches_.at(b.chunk.value);  // outstanding blocks always have their fetch
    return PieceTarget{.skip = false, .into = fetch.buffer.span().subspan(b.offset, b.length)};
}

std::optional<PeerSession::Completed> PeerSession::end_piece(const pp::Block& b, TimePoint now) {
    reading_into_.reset();
    last_piece_at_ = last_block_at_ = last_received_at_ = now;
    downloaded_ += b.length;
    count_received(b.length, now);
    auto it = fetches_.find(b.chunk.value);
    if (it->second.dropped) {
        fetches_.erase(it);  // cancelled while we read: someone else delivered it
    } else if ((it->second.received += b.length) == it->second.buffer.size()) {
        Completed done{b.chunk, std::move(it->second.buffer)};
        fetches_.erase(it);
        return done;
    }
    return std::nullopt;
}

// --- the remote's messages ----------------------------------------------------

void PeerSession::join(bool spared) {
    spared_ = spared;
    host_.picker().add_peer(theirs_, spared_);
    host_.spread().add_holder(theirs_);
}

void PeerSession::handle_bitfield(pp::BitfieldMsg& bf, Events& ev) {
    const auto& seed = host_.seed();
    if (got_bitfield_) {
        ev.violation = "a second bitfield";
        return;
    }
    if (bf.have.size() != seed.chunk_count()) {
        ev.violation = fmt::format("bitfield for {}, the seed has {}",
                                   count_of(bf.have.size(), "chunk"), seed.chunk_count());
        return;
    }
    theirs_ = std::move(bf.have);
    got_bitfield_ = true;
    ev.bitfield = true;
}

void PeerSession::handle_have(const pp::Have& have, TimePoint now, Events& ev) {
    const auto& seed = host_.seed();
    if (have.chunk.value >= seed.chunk_count()) {
        ev.violation = fmt::format("have for chunk {}, past the last ({})", have.chunk.value,
                                   seed.chunk_count());
        return;
    }
    if (!got_bitfield_) {
        ev.violation = "have before bitfield";
        return;
    }
    if (theirs_.test(have.chunk)) return;
    host_.picker().peer_gained(theirs_, have.chunk, spared_);
    host_.spread().holder_gained(have.chunk);
    end_promise(have.chunk);
    begun_.erase(have.chunk.value);
    turned_away_.erase(have.chunk.value);
    theirs_.set(have.chunk);
    refused_.erase(have.chunk.value);
    // It completed the file, which we hold too: nothing to trade.
    if (theirs_.all() && host_.have().all()) {
        ev.close = "both complete";
        return;
    }
    fill_requests(now);
}

void PeerSession::handle_request(const pp::Request& req, TimePoint now, Events& ev) {
    if (auto ok = pp::check_block(host_.seed(), req.block); !ok) {
        ev.violation = ok.error().message;
        return;
    }
    // Rejects the writer has not handed to the socket yet wait too: a
    // peer asking for what we lack without reading must not grow control_.
    if (serve_queue_.size() + rejects_.size() >= limits::kMaxQueuedRequests) {
        ev.violation = fmt::format("more than {} requests queued without reading the answers",
                                   limits::kMaxQueuedRequests);
        return;
    }
    if (goodbye_sent_ || !host_.holds(req.block.chunk)) return reject(req.block);
    if (closed_) return;
    const auto c = req.block.chunk.value;
    const bool last =
        req.block.offset + req.block.length >= host_.seed().chunk_length(req.block.chunk);
    if (!promised_.contains(c) && !begun_.contains(c)) {
        // A chunk we are not serving this remote yet: the rest of one we
        // turned away is refused too; a new one waits behind what the swarm
        // has queued for everyone (UploadBacklog) and, from a rationing
        // seed, must be among the least spread (SpreadTracker).
        if (req.block.offset != 0 && turned_away_.contains(c)) return reject(req.block);
        const bool room = host_.may_queue_upload(now);
        const bool ration = room && host_.rationing_uploads();
        if (!room || (ration && !host_.spread().worth_sending(req.block.chunk, now))) {
            if (!last) remember(turned_away_, c);
            return reject(req.block);
        }
        turned_away_.erase(c);
        if (ration) {
            // One copy of each at a time; this one can come from the peers
            // that have it, or from us once the copy under way is out.
            promised_.emplace(c, Promise{});
            host_.spread().promise(req.block.chunk, now);
        } else if (!last) {
            remember(begun_, c);  // its other blocks are served without asking again
        }
    }
    if (last) begun_.erase(c);
    serve_queue_.push_back(req.block);
    queued_bytes_ += req.block.length;
    wake_();
}

void PeerSession::remember(std::set<std::uint32_t>& chunks, std::uint32_t c) {
    // Bounded: no more than the requests a remote may have queued with us.
    if (chunks.size() >= limits::kMaxQueuedRequests) chunks.erase(chunks.begin());
    chunks.insert(c);
}

void PeerSession::handle_reject(const pp::Reject& reject, TimePoint now) {
    if (std::find(outstanding_.begin(), outstanding_.end(), reject.block) == outstanding_.end()) {
        cancelled_.erase(reject.block);  // a reject crossing our cancel
        return;
    }
    refused_[reject.block.chunk.value] = now + kRefusedFor;
    drop_fetch(reject.block.chunk, true, now);
    fill_requests(now);
}

void PeerSession::handle_goodbye(TimePoint now, Events& ev) {
    remote_leaving_ = true;
    // It finishes what was requested; chunks not fully requested go elsewhere.
    std::vector<ChunkIndex> unfinished;
    for (const auto& [index, f] : fetches_)
        if (f.next_offset < f.buffer.size()) unfinished.push_back(f.chunk);
    for (auto c : unfinished)
        drop_fetch(c, true, now);
    ev.wake_fetchers = true;
    if (outstanding_.empty() && serve_queue_.empty()) ev.close = "the peer said goodbye";
}

PeerSession::Events PeerSession::handle(pp::Message& m, TimePoint now) {
    Events ev;
    if (auto* bf = std::get_if<pp::BitfieldMsg>(&m)) {
        handle_bitfield(*bf, ev);
    } else if (auto* have = std::get_if<pp::Have>(&m)) {
        handle_have(*have, now, ev);
    } else if (auto* req = std::get_if<pp::Request>(&m)) {
        handle_request(*req, now, ev);
    } else if (auto* cancel = std::get_if<pp::Cancel>(&m)) {
        // Not served, or not rejected, after all: the remote forgot it.
        auto it = std::find(serve_queue_.begin(), serve_queue_.end(), cancel->block);
        if (it != serve_queue_.end()) {
            queued_bytes_ -= it->length;
            serve_queue_.erase(it);
            // Its last block of the chunk queued: it no longer wants the
            // chunk from us (it gave up, or another peer delivered it first:
            // its Have follows).
            const auto c = cancel->block.chunk;
            if (std::none_of(serve_queue_.begin(), serve_queue_.end(),
                             [&](const pp::Block& q) { return q.chunk == c; })) {
                end_promise(c);
                begun_.erase(c.value);  // asked again, it is a new chunk
            }
        } else if (auto r = std::find(rejects_.begin(), rejects_.end(), cancel->block);
                   r != rejects_.end()) {
            rejects_.erase(r);
        }
    } else if (auto* reject = std::get_if<pp::Reject>(&m)) {
        handle_reject(*reject, now);
    } else if (auto* list = std::get_if<pp::PeerList>(&m)) {
        // Untrusted gossip: a bounded rate of messages, a bounded part of each
        // (more are ignored).
        if (!pex_in_.allow(now)) {
            ev.pex_ignored = true;
            return ev;
        }
        const auto take = [](const std::vector<pp::PeerAddress>& from) {
            std::vector<PeerAddress> out;
            for (const auto& p : from) {
                if (out.size() == limits::kPexMaxAdded) break;
                out.push_back(PeerAddress{unmapped(p.address), p.port});
            }
            return out;
        };
        ev.heard.emplace(take(list->peers), take(list->dropped));
    } else if (std::holds_alternative<pp::GetPeers>(m)) {
        ev.peers_asked = pex_answers_.allow(now);
    } else if (std::holds_alternative<pp::Goodbye>(m)) {
        handle_goodbye(now, ev);
    } else if (auto* err = std::get_if<pp::ErrorMsg>(&m)) {
        ev.remote_error = err->message;
        ev.close = fmt::format("error from peer: {}", err->message);
    } else if (std::holds_alternative<pp::Hello>(m)) {
        ev.violation = "a second Hello";
    } else if (std::holds_alternative<pp::KeepAlive>(m)) {
        // Nothing: the read itself reset the shell's idle deadline.
    }
    return ev;
}

}  // namespace seedshare
