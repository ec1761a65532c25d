// DIR as the sync planner sees it: the scan's entries by path, with the ones
// that cannot be there dropped (an entry whose parent is not a directory of
// the scan: the scan never follows a symlink, so nothing can lie under one),
// and the path rules the planner relies on. Pure.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.hpp"
#include "peer/channel/sync_state.hpp"

namespace seedshare {

// Ok when `path` is relative and clean: non-empty, no leading or trailing '/',
// no empty, "." or ".." component, no NUL. `what` names it in the error.
Status check_relative_path(std::string_view path, std::string_view what);

// "a/b/c" -> "a/b"; "c" -> "" (DIR itself).
std::string_view parent_path(std::string_view path);
// "a/b/c" -> {"a", "a/b"}: the directories the path needs.
std::vector<std::string_view> strict_prefixes(std::string_view path);
// True when `path` is `dir` or lies under it.
bool is_within(std::string_view path, std::string_view dir);

class LocalView {
  public:
    // Fails on a path that is not clean or listed twice.
    static Result<LocalView> of(const std::vector<LocalEntry>& scan);

    // nullptr when nothing (usable) is there.
    const LocalEntry* find(std::string_view path) const;
    // Usable entries, sorted by path (a directory before what it holds).
    const std::map<std::string, const LocalEntry*, std::less<>>& entries() const {
        return entries_;
    }
    // Every path the scan listed, usable or not: names an aside must avoid.
    bool listed(std::string_view path) const;

  private:
    std::map<std::string, const LocalEntry*, std::less<>> entries_;
    std::map<std::string, const LocalEntry*, std::less<>> listed_;
};

}  // namespace seedshare
