// Names for entries moved aside, so that nothing of the user's is lost.
//
// An entry `DIR/.../NAME` moved aside keeps its directory and gets the name
// `NAME.seedshare-edited-N` (a published file the user edited) or
// `NAME.seedshare-moved-N` (anything else in the way), N the smallest number
// from 1 whose path is free: not listed by the scan, not a target path or a
// directory a target path needs, not chosen before for another entry. NAME is
// cut (at a UTF-8 character boundary) when the result would pass
// limits::kMaxNameBytes. Pure.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "peer/channel/sync_planner.hpp"

namespace seedshare {

// `taken(path)` says whether a candidate path is in use.
std::string aside_path(std::string_view path, AsideReason reason,
                       const std::function<bool(std::string_view)>& taken);

// Whether the last component of `path` is such a name: it ends in
// `.seedshare-edited-N` or `.seedshare-moved-N` (N decimal, from 1). A
// publisher never publishes these (what a recovery moved aside is the
// user's, not the channel's).
bool is_aside_path(std::string_view path);

}  // namespace seedshare
