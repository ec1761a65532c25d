#include "peer/discovery/peer_list.hpp"

#include <algorithm>

#include "common/core/limits.hpp"

namespace seedshare {

PeerList::Clock::duration PeerList::backoff(std::uint32_t failures) {
    const auto ms = std::min<std::int64_t>(30000, 500LL << std::min<std::uint32_t>(failures, 6));
    return std::chrono::milliseconds(ms);
}

PeerList::Clock::duration PeerList::busy_rest(std::uint32_t busy) {
    const auto ms = std::min<std::int64_t>(std::chrono::milliseconds(kMaxBusyRest).count(),
                                           1000LL << std::min<std::uint32_t>(busy, 4));
    return std::chrono::milliseconds(ms);
}

PeerList::Entry* PeerList::at(const PeerAddress& a) {
    const auto it = entries_.find(a);
    return it == entries_.end() ? nullptr : &it->second;
}

const PeerList::Entry* PeerList::find(const PeerAddress& a) const {
    const auto it = entries_.find(a);
    return it == entries_.end() ? nullptr : &it->second;
}

bool PeerList::make_room() {
    if (entries_.size() < max_size_) return true;
    // Only idle entries that failed: untried addresses, live connections and
    // the bans and self entries (which stop redials) are worth more.
    auto victim = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        if (it->second.state != State::kIdle || it->second.failures == 0) continue;
        if (victim == entries_.end() || it->second.forgotten > victim->second.forgotten ||
            (it->second.forgotten == victim->second.forgotten &&
             it->second.failures > victim->second.failures))
            victim = it;
    }
    if (victim == entries_.end()) return false;
    entries_.erase(victim);
    return true;
}

bool PeerList::add(const PeerAddress& a, Source source, const std::optional<PeerAddress>& origin) {
    if (a.port == 0 || a.address.is_unspecified() || a.address.is_multicast()) return false;
    if (origin && a.address.is_loopback() && !origin->address.is_loopback()) return false;
    if (auto* e = at(a)) {
        e->sources |= static_cast<std::uint8_t>(source);
        if (origin && e->origin && *origin != *e->origin) e->corroborated = true;
        // A tracker lists only peers that registered within its expiry: one
        // we forgot after failed dials may have come back. It is dialled once
        // more when its backoff has passed; its failures are kept, so the
        // next failure forgets it again (gossip never revives an address).
        if (e->forgotten && source == Source::kTracker) e->forgotten = false;
        return false;
    }
    std::size_t* counted = nullptr;
    if (origin) {
        auto it = by_origin_.find(*origin);
        if (it == by_origin_.end()) {
            if (by_origin_.size() >= max_size_) {
                ++refused_for_cap_;
                return false;
            }
            it = by_origin_.emplace(*origin, 0).first;
        }
        if (it->second >= limits::kMaxCandidatesPerSource) {
            ++refused_for_cap_;
            return false;
        }
        counted = &it->second;
    }
    if (!make_room()) return false;
    entries_.emplace(a, Entry{.sources = static_cast<std::uint8_t>(source), .origin = origin});
    if (counted != nullptr) ++*counted;
    return true;
}

bool PeerList::retract(const PeerAddress& a, const PeerAddress& origin) {
    const auto it = entries_.find(a);
    if (it == entries_.end()) return false;
    const Entry& e = it->second;
    if (!e.hearsay() || *e.origin != origin || e.corroborated || e.state != State::kIdle ||
        e.failures != 0 || e.forgotten || e.connections != 0)
        return false;
    entries_.erase(it);
    return true;
}

std::uint32_t PeerList::hearsay_failures(const asio::ip::address& ip) const {
    const auto it = hearsay_ips_.find(ip);
    return it == hearsay_ips_.end() ? 0 : it->second.failures;
}

void PeerList::hearsay_failed(const asio::ip::address& ip, TimePoint now) {
    auto it = hearsay_ips_.find(ip);
    if (it == hearsay_ips_.end()) {
        if (hearsay_ips_.size() >= max_size_) {
            const auto fewest = std::min_element(
                hearsay_ips_.begin(), hearsay_ips_.end(),
                [](const auto& x, const auto& y) { return x.second.failures < y.second.failures; });
            hearsay_ips_.erase(fewest);
        }
        it = hearsay_ips_.emplace(ip, IpRest{}).first;
    }
    auto& rest = it->second;
    ++rest.failures;
    if (rest.failures >= kHearsayFailuresPerIp)
        rest.retry_at = now + backoff(rest.failures - kHearsayFailuresPerIp);
}

std::size_t PeerList::added_by(const PeerAddress& origin) const {
    const auto it = by_origin_.find(origin);
    return it == by_origin_.end() ? 0 : it->second;
}

std::vector<PeerAddress> PeerList::take_candidates(std::size_t limit, TimePoint now) {
    std::vector<PeerAddress> out;
    // Hearsay dials in flight per IP (counted only when some hearsay is idle).
    std::map<asio::ip::address, std::size_t> dialling;
    bool counted = false;
    // Two passes: first what something beyond one gossiper vouches for, then
    // what a single gossiper alone named. So a real peer at an IP where a
    // hostile gossiper named many dead ports, also named by another peer,
    // goes ahead of those ports in the IP's throttle.
    for (const bool lone_hearsay : {false, true}) {
        for (auto& [where, e] : entries_) {
            if (out.size() >= limit) return out;
            if (e.state != State::kIdle || e.retry_at > now || e.forgotten) continue;
            if (lone_hearsay != (e.hearsay() && !e.corroborated)) continue;
            if (e.hearsay()) {
                if (!counted) {
                    for (const auto& [w, other] : entries_)
                        if (other.state == State::kConnecting && other.hearsay())
                            ++dialling[w.address];
                    counted = true;
                }
                std::size_t at_once = kMaxHearsayDialsPerIp;
                if (const auto ip = hearsay_ips_.find(where.address); ip != hearsay_ips_.end()) {
                    if (ip->second.retry_at > now) continue;
                    if (ip->second.failures >= kHearsayFailuresPerIp) at_once = 1;
                }
                auto& n = dialling[where.address];
                if (n >= at_once) continue;
                ++n;
            }
            e.state = State::kConnecting;
            out.push_back(where);
        }
    }
    return out;
}

void PeerList::connect_succeeded(const PeerAddress& a) {
    hearsay_ips_.erase(a.address);  // a peer lives there: its failures were ports
    if (auto* e = at(a)) {
        ++e->connections;
        if (e->state == State::kBanned) return;
        e->state = State::kConnected;
        e->failures = 0;
        e->busy = 0;
    }
}

void PeerList::connect_duplicate(const PeerAddress& a, TimePoint now) {
    auto* e = at(a);
    if (e == nullptr || e->state == State::kBanned) return;
    if (e->connections > 0) {
        e->state = State::kConnected;
        return;
    }
    e->state = State::kIdle;
    e->retry_at = now + kGoodbyeRest;
}

void PeerList::connect_refused(const PeerAddress& a) {
    if (auto* e = at(a); e && e->state != State::kBanned)
        e->state = e->connections > 0 ? State::kConnected : State::kIdle;
}

void PeerList::connect_busy(const PeerAddress& a, TimePoint now) {
    if (auto* e = at(a); e && e->state != State::kBanned) {
        if (e->connections > 0) {
            e->state = State::kConnected;
            return;
        }
        e->state = State::kIdle;
        e->retry_at = now + busy_rest(e->busy++);
    }
}

void PeerList::connect_failed(const PeerAddress& a, TimePoint now) {
    if (auto* e = at(a); e && e->state != State::kBanned) {
        // Its own connection to us came up while we dialled: that is no failure.
        if (e->connections > 0) {
            e->state = State::kConnected;
            return;
        }
        e->state = State::kIdle;
        e->retry_at = now + backoff(e->failures++);
        if (e->failures >= limits::kForgetAfterFailures && !e->from(Source::kBootstrap))
            e->forgotten = true;
        if (e->hearsay()) hearsay_failed(a.address, now);
    }
}

void PeerList::connect_reached_self(const PeerAddress& a) {
    if (auto* e = at(a); e && e->state != State::kBanned) e->state = State::kSelf;
}

void PeerList::connected(const PeerAddress& a, Source source) {
    auto* e = at(a);
    if (e == nullptr) {
        if (a.port == 0 || a.address.is_unspecified() || !make_room()) return;
        e = &entries_
                 .emplace(
                     a, Entry{.sources = static_cast<std::uint8_t>(source), .origin = std::nullopt})
                 .first->second;
    }
    ++e->connections;
    e->forgotten = false;
    hearsay_ips_.erase(a.address);
    if (e->state != State::kBanned) e->state = State::kConnected;
}

void PeerList::disconnected(const PeerAddress& a, bool goodbye, TimePoint now) {
    auto* e = at(a);
    if (e == nullptr) return;
    if (e->connections > 0) --e->connections;
    if (e->connections > 0 || e->state == State::kBanned || e->state == State::kSelf) return;
    e->state = State::kIdle;
    e->retry_at = now + (goodbye ? Clock::duration(kGoodbyeRest) : backoff(e->failures++));
}

void PeerList::ban(const PeerAddress& a) {
    entries_[a].state = State::kBanned;
}

std::size_t PeerList::count(State s) const {
    return static_cast<std::size_t>(std::count_if(
        entries_.begin(), entries_.end(), [s](const auto& e) { return e.second.state == s; }));
}

std::size_t PeerList::count_from(Source s) const {
    return static_cast<std::size_t>(std::count_if(entries_.begin(), entries_.end(),
                                                  [s](const auto& e) { return e.second.from(s); }));
}

}  // namespace seedshare
