#include "peer/channel/version_gossip.hpp"

#include "common/model/manifest.hpp"

namespace seedshare {

VersionRef ref_of(const ManifestVersion& v) {
    return VersionRef{v.number, v.body_hash, v.chain};
}

ManifestVersion version_of(const VersionRef& r) {
    return ManifestVersion{r.number, r.body_hash, r.chain};
}

bool supersedes(const VersionRef& a, const VersionRef& b) {
    if (a.none()) return false;
    // The manifests' freshness rule, so the mesh, the subscriber and the
    // tracker settle every case the same way.
    return replaces_held(version_of(a), b.none() ? std::nullopt : std::optional(version_of(b)));
}

void VersionGossip::peer_joined(PeerKey peer, VersionRef theirs, VersionRef greeted) {
    // The greeting carried what we held then: it counts as told.
    peers_[peer] = Peer{theirs, greeted, 0};
}

void VersionGossip::peer_announced(PeerKey peer, VersionRef theirs) {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return;
    it->second.theirs = theirs;
}

void VersionGossip::peer_left(PeerKey peer) {
    peers_.erase(peer);
    if (in_flight_ && in_flight_->first == peer) in_flight_.reset();
    for (auto it = failed_.begin(); it != failed_.end();)
        it = it->first == peer ? failed_.erase(it) : std::next(it);
}

std::optional<std::pair<VersionGossip::PeerKey, VersionRef>> VersionGossip::next_fetch() {
    if (in_flight_) return std::nullopt;
    std::optional<std::pair<PeerKey, VersionRef>> best;
    for (const auto& [key, p] : peers_) {
        if (!supersedes(p.theirs, held_) || failed_.contains({key, p.theirs}) ||
            p.failures >= kMaxFailuresPerPeer)
            continue;
        // The best version; among its holders the first (lowest key).
        if (!best || supersedes(p.theirs, best->second)) best = std::pair{key, p.theirs};
    }
    in_flight_ = best;
    return best;
}

void VersionGossip::fetch_done(PeerKey peer, VersionRef asked, FetchOutcome outcome) {
    if (in_flight_ && *in_flight_ == std::pair{peer, asked}) in_flight_.reset();
    switch (outcome) {
        case FetchOutcome::kAccepted:
            hold(asked);
            break;
        case FetchOutcome::kStale:  // not asked again of this peer (hold() forgets it once moot)
        case FetchOutcome::kForged:
        case FetchOutcome::kFailed:
            if (auto it = peers_.find(peer); it != peers_.end()) {
                failed_.insert({peer, asked});
                ++it->second.failures;
            }
            break;
    }
}

bool VersionGossip::hold(VersionRef v) {
    if (!supersedes(v, held_)) return false;
    held_ = v;
    // What peers failed for older versions no longer matters.
    for (auto it = failed_.begin(); it != failed_.end();)
        it = supersedes(it->second, held_) ? std::next(it) : failed_.erase(it);
    return true;
}

std::vector<VersionGossip::PeerKey> VersionGossip::take_announcements() {
    std::vector<PeerKey> out;
    if (held_.none()) return out;
    for (auto& [key, p] : peers_) {
        if (p.told == held_) continue;
        if (p.theirs == held_ || supersedes(p.theirs, held_)) continue;
        p.told = held_;
        out.push_back(key);
    }
    return out;
}

std::optional<VersionRef> VersionGossip::version_of(PeerKey peer) const {
    auto it = peers_.find(peer);
    if (it == peers_.end()) return std::nullopt;
    return it->second.theirs;
}

}  // namespace seedshare
