#include "peer/channel/local_scan.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

#include "common/core/limits.hpp"
#include "peer/channel/channel_store.hpp"

namespace seedshare {

namespace fs = std::filesystem;

FileStamp stamp_of(const FileInfo& info) {
    return FileStamp{info.size, info.mtime_ns, info.device, info.inode};
}

Result<std::vector<LocalEntry>, ScanError> scan_local(const fs::path& dir, Env& env) {
    auto top = env.lstat(dir);
    if (!top) return ScanError{ScanError::Kind::kIo, top.error().text()};
    if (top->type != FileType::kDirectory)
        return ScanError{ScanError::Kind::kNotADirectory,
                         fmt::format("{}: not a directory", dir.string())};
    std::vector<LocalEntry> out;
    // Directories still to list (relative paths; "" is DIR), depth first.
    std::vector<std::pair<std::string, FileInfo>> pending{{"", *top}};
    while (!pending.empty()) {
        const auto [rel, info] = std::move(pending.back());
        pending.pop_back();
        const fs::path here = rel.empty() ? dir : dir / rel;
        auto listed = env.list_dir(here);
        if (!listed) {
            // Gone (or replaced by a file) since it was seen: nothing to list.
            if (listed.error().code == ENOENT || listed.error().code == ENOTDIR) continue;
            return ScanError{ScanError::Kind::kIo, listed.error().text()};
        }
        // list_dir follows a symlink: a directory swapped for one between the
        // lstat and the listing would list another place. Checked after, so
        // only a swap back and forth within the listing goes unseen.
        auto again = env.lstat(here);
        if (!again || again->type != FileType::kDirectory || again->device != info.device ||
            again->inode != info.inode)
            continue;
        std::vector<std::pair<std::string, FileInfo>> subdirs;
        for (const auto& e : *listed) {
            if (rel.empty() && e.name == ChannelStore::kStateDirName) continue;
            if (out.size() >= limits::kMaxScanEntries)
                return ScanError{ScanError::Kind::kTooManyEntries,
                                 fmt::format("{}: more than {} entries; a channel directory holds "
                                             "at most that many",
                                             dir.string(), limits::kMaxScanEntries)};
            std::string path = rel.empty() ? e.name : rel + "/" + e.name;
            auto st = env.lstat(here / e.name);
            if (!st) {
                if (st.error().code == ENOENT) continue;
                return ScanError{ScanError::Kind::kIo, st.error().text()};
            }
            LocalEntry entry;
            entry.path = path;
            entry.stamp = stamp_of(*st);
            switch (st->type) {
                case FileType::kRegular:
                    entry.kind = EntryKind::kFile;
                    break;
                case FileType::kDirectory:
                    entry.kind = EntryKind::kDirectory;
                    subdirs.emplace_back(std::move(path), *st);
                    break;
                default:
                    entry.kind = EntryKind::kOther;
                    break;
            }
            out.push_back(std::move(entry));
        }
        // Reversed onto the stack: listed in name order.
        for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it)
            pending.push_back(std::move(*it));
    }
    std::sort(out.begin(), out.end(),
              [](const LocalEntry& a, const LocalEntry& b) { return a.path < b.path; });
    return out;
}

}  // namespace seedshare
