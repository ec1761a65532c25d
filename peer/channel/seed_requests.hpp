// Which channel peer to ask for which seed (pure: no I/O, no clock).
//
// A subscriber about to apply a version needs the seed of every file it
// names. The peers of the channel that hold that version hold those seeds
// (a publisher shares them, a subscriber keeps them in DIR/.seedshare/seeds),
// so they are asked first, through the mesh, and the trackers only for what
// no peer had. SeedRequests decides the asking: every wanted seed is asked of
// one peer at a time, each peer has at most `per_link` requests outstanding,
// a seed a peer said it lacks (or that it never answered before leaving) is
// asked of another, and never of the same peer twice. It is finished when
// every seed arrived, or no peer is left that could still have one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/core/ids.hpp"

namespace seedshare {

class SeedRequests {
  public:
    using LinkKey = std::uint64_t;

    SeedRequests(const std::vector<SeedId>& wanted, std::size_t per_link);

    // A peer that may be asked (connected, holds a version).
    void link_up(LinkKey link);
    // The peer is gone: what it was asked is asked of others.
    void link_down(LinkKey link);

    // The seeds to ask `link` for now (at most per_link outstanding in all);
    // each is then outstanding at that link until answered.
    std::vector<SeedId> assign(LinkKey link);

    // True when `id` is outstanding at `link` (an answer for anything else is
    // late, or unasked: ignored).
    bool outstanding(LinkKey link, const SeedId& id) const;

    enum class Answer : std::uint8_t {
        kReceived,  // a text that parsed and hashed to `id`: done
        kUnknown,   // the peer does not hold it: ask another
        kForged,    // a text that does not check: the peer is dropped (link_down)
    };
    void answered(LinkKey link, const SeedId& id, Answer answer);

    // Every seed arrived, or none missing can be asked of anyone now.
    bool finished() const;
    std::size_t received() const { return received_; }
    // The seeds not received (all of them until answered).
    std::vector<SeedId> missing() const;

  private:
    struct Want {
        std::optional<LinkKey> at;  // outstanding there
        std::set<LinkKey> tried;    // answered kUnknown, or left without answering
    };
    std::size_t per_link_;
    std::map<SeedId, Want> wanted_;         // not yet received
    std::set<SeedId> pending_;              // of wanted_, those outstanding nowhere
    std::map<LinkKey, std::size_t> links_;  // live links and their outstanding count
    std::size_t outstanding_ = 0;
    std::size_t received_ = 0;
};

}  // namespace seedshare
