#include "peer/channel/local_view.hpp"

#include <fmt/format.h>

namespace seedshare {

Status check_relative_path(std::string_view path, std::string_view what) {
    if (path.empty()) return Error{fmt::format("{}: an empty path", what)};
    if (path.front() == '/') return Error{fmt::format("{} '{}': an absolute path", what, path)};
    if (path.find('\0') != std::string_view::npos)
        return Error{fmt::format("{} '{}': a NUL byte in the path", what, path)};
    std::size_t start = 0;
    while (start <= path.size()) {
        const std::size_t end = std::min(path.find('/', start), path.size());
        const std::string_view part = path.substr(start, end - start);
        if (part.empty() || part == "." || part == "..")
            return Error{fmt::format("{} '{}': an empty, '.' or '..' component", what, path)};
        start = end + 1;
    }
    return Ok{};
}

std::string_view parent_path(std::string_view path) {
    const auto slash = path.rfind('/');
    return slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
}

std::vector<std::string_view> strict_prefixes(std::string_view path) {
    std::vector<std::string_view> out;
    for (std::size_t i = path.find('/'); i != std::string_view::npos; i = path.find('/', i + 1))
        out.push_back(path.substr(0, i));
    return out;
}

bool is_within(std::string_view path, std::string_view dir) {
    return path.starts_with(dir) && (path.size() == dir.size() || path[dir.size()] == '/');
}

Result<LocalView> LocalView::of(const std::vector<LocalEntry>& scan) {
    LocalView view;
    for (const auto& e : scan) {
        if (auto ok = check_relative_path(e.path, "local entry"); !ok) return ok.error();
        if (!view.listed_.emplace(e.path, &e).second)
            return Error{fmt::format("local entry '{}': listed twice", e.path)};
    }
    // In path order a directory comes before what it holds, so each entry's
    // parent is decided before it.
    for (const auto& [path, e] : view.listed_) {
        const auto parent = parent_path(path);
        if (!parent.empty()) {
            const LocalEntry* p = view.find(parent);
            if (p == nullptr || p->kind != EntryKind::kDirectory) continue;
        }
        view.entries_.emplace(path, e);
    }
    return view;
}

const LocalEntry* LocalView::find(std::string_view path) const {
    const auto it = entries_.find(path);
    return it == entries_.end() ? nullptr : it->second;
}

bool LocalView::listed(std::string_view path) const {
    return listed_.contains(path);
}

}  // namespace seedshare
