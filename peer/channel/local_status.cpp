#include "peer/channel/local_status.hpp"

#include <fmt/format.h>

#include <map>
#include <set>

#include "peer/channel/local_view.hpp"

namespace seedshare {

Result<std::vector<LocalDifference>> local_changes(const std::vector<RecordedFile>& applied,
                                                   const std::vector<LocalEntry>& local) {
    auto view = LocalView::of(local);
    if (!view) return view.error();
    std::map<std::string, LocalChange, std::less<>> found;
    std::set<std::string_view> seen;
    for (const auto& r : applied) {
        if (auto ok = check_relative_path(r.path, "applied file"); !ok) return ok.error();
        if (!seen.insert(r.path).second)
            return Error{fmt::format("applied file '{}': listed twice", r.path)};
        for (auto dir : strict_prefixes(r.path))
            if (const LocalEntry* e = view->find(dir);
                e != nullptr && e->kind != EntryKind::kDirectory)
                found.emplace(dir, LocalChange::kInTheWay);
        const LocalEntry* e = view->find(r.path);
        if (e == nullptr)
            found[r.path] = LocalChange::kDeleted;
        else if (e->kind == EntryKind::kDirectory)
            found[r.path] = LocalChange::kReplacedByDirectory;
        else if (e->kind == EntryKind::kOther)
            found[r.path] = LocalChange::kReplacedByOther;
        else if (e->stamp != r.stamp)
            found[r.path] = LocalChange::kEdited;
    }
    std::vector<LocalDifference> out;
    out.reserve(found.size());
    for (auto& [path, change] : found)
        out.push_back({path, change});
    return out;
}

std::string_view describe(LocalChange change) {
    switch (change) {
        case LocalChange::kEdited:
            return "edited";
        case LocalChange::kDeleted:
            return "deleted";
        case LocalChange::kReplacedByDirectory:
            return "replaced by a directory";
        case LocalChange::kReplacedByOther:
            return "replaced by a link or special file";
        case LocalChange::kInTheWay:
            return "in the way";
    }
    return "changed";
}

}  // namespace seedshare
