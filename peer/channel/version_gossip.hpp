// The versions a channel's connected peers hold, and what to do about them:
// the decisions of the channel mesh (channel_mesh.*), pure. A peer says which
// version it holds in its hello and again whenever that changes (Announce);
// when one holds a version that supersedes ours, its manifest is fetched from
// it (one fetch at a time; another holder when that fails), verified by the
// owner, and once held the news is passed on, once, to every peer not known
// to hold it already. A peer whose manifest was forged is struck out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/model/manifest.hpp"
#include "common/wire/channel_protocol.hpp"

namespace seedshare {

using channel_proto::VersionRef;

// A version as the mesh names it, and back.
VersionRef ref_of(const ManifestVersion& v);
inline VersionRef ref_of(const Manifest& m) {
    return ref_of(version_of(m));
}
ManifestVersion version_of(const VersionRef& r);

// True when `a` should replace `b`: the manifests' freshness rule
// (replaces_held), with what a reference carries: a higher number, a conflict
// or a fork it wins, a hand-over past b's. "None" (number 0) is superseded by
// any version.
bool supersedes(const VersionRef& a, const VersionRef& b);

class VersionGossip {
  public:
    // A connection, as the shell numbers them.
    using PeerKey = std::uint64_t;

    enum class FetchOutcome {
        kAccepted,  // verified and now held
        kStale,     // verified, but does not supersede what the owner holds: not asked again
        kForged,    // bad signature, another channel, not the version asked for: strike it
        kFailed,    // the connection failed or timed out: try another holder
    };

    // Fetches from one peer that may fail (failed, stale or forged) before
    // nothing more is asked of it while it stays connected: a peer that
    // announces a new version for every one that failed (lying, or unable
    // to serve what it announces) cannot keep the fetching busy.
    static constexpr int kMaxFailuresPerPeer = 3;

    explicit VersionGossip(VersionRef held = {}) : held_(held) {}

    const VersionRef& held() const { return held_; }

    // `greeted`: the version our greeting told it we hold.
    void peer_joined(PeerKey peer, VersionRef theirs, VersionRef greeted);
    void peer_joined(PeerKey peer, VersionRef theirs) { peer_joined(peer, theirs, held_); }
    void peer_announced(PeerKey peer, VersionRef theirs);
    void peer_left(PeerKey peer);

    // The next manifest to ask for: the best version any connected peer holds
    // that supersedes ours, from a holder that has not failed it (the lowest
    // key: the longest connected), or none. At most one fetch at a time: none
    // while one is in flight.
    std::optional<std::pair<PeerKey, VersionRef>> next_fetch();
    bool fetching() const { return in_flight_.has_value(); }
    // What came of the fetch next_fetch() handed out.
    void fetch_done(PeerKey peer, VersionRef asked, FetchOutcome outcome);

    // We hold a version now (accepted from a peer, or published here). A
    // version that does not supersede the held one is ignored (returns false).
    bool hold(VersionRef v);

    // The peers to tell what we hold: those not known to hold it or a
    // version superseding it, each told once per version. Marks them told.
    std::vector<PeerKey> take_announcements();

    // The version a peer last said it holds.
    std::optional<VersionRef> version_of(PeerKey peer) const;
    std::size_t peers() const { return peers_.size(); }

  private:
    struct Peer {
        VersionRef theirs;
        VersionRef told;   // what we last announced to it (or greeted it with)
        int failures = 0;  // fetches from it that came to nothing
    };

    VersionRef held_;
    std::map<PeerKey, Peer> peers_;
    std::optional<std::pair<PeerKey, VersionRef>> in_flight_;
    // Holders that failed a version (fetch failed or forged), not asked for it again.
    std::set<std::pair<PeerKey, VersionRef>> failed_;
};

}  // namespace seedshare
