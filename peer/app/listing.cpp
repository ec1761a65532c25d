#include "peer/app/listing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/core/numbers.hpp"
#include "peer/app/commands.hpp"

namespace seedshare {

void filter_and_sort(std::vector<tracker_proto::FileInfo>& files, std::string_view filter) {
    if (!filter.empty())
        std::erase_if(files,
                      [&](const auto& f) { return f.name.find(filter) == std::string::npos; });
    std::sort(files.begin(), files.end(), [](const auto& a, const auto& b) {
        if (a.name != b.name) return a.name < b.name;
        return a.id < b.id;
    });
}

std::string format_table(const std::vector<TrackerListing>& listings) {
    std::string out;
    for (const auto& l : listings) {
        if (l.error) continue;
        if (listings.size() > 1) out += fmt::format("tracker {}:\n", l.tracker.str());
        if (l.files.empty()) {
            out += "no files\n";
            continue;
        }
        std::size_t width = 4;
        for (const auto& f : l.files)
            width = std::max(width, f.name.size());
        out += fmt::format("{:<{}}  {:>12}  {:>15}  {}\n", "NAME", width, "SIZE", "HOLDERS", "ID");
        for (const auto& f : l.files)
            out += fmt::format(
                "{:<{}}  {:>12}  {:>15}  {}\n", f.name, width, format_bytes(f.length),
                fmt::format("{} ({} complete)", f.holders, f.complete_holders), f.id.hex());
    }
    return out;
}

std::string format_json(const std::vector<TrackerListing>& listings) {
    using json = nlohmann::ordered_json;  // keys in the documented order
    json trackers = json::array();
    for (const auto& l : listings) {
        json files = json::array();
        for (const auto& f : l.files)
            files.push_back(json{{"name", f.name},
                                 {"size", f.length},
                                 {"holders", f.holders},
                                 {"complete", f.complete_holders},
                                 {"id", f.id.hex()}});
        trackers.push_back(json{{"tracker", l.tracker.str()},
                                {"ok", !l.error},
                                {"error", l.error ? json(*l.error) : json(nullptr)},
                                {"files", std::move(files)}});
    }
    // Names come from seeds (valid UTF-8); replace anything else rather than throw.
    return json{{"trackers", std::move(trackers)}}.dump(-1, ' ', false,
                                                        json::error_handler_t::replace) +
           "\n";
}

int list_exit_code(const std::vector<TrackerListing>& listings) {
    const bool any = std::any_of(listings.begin(), listings.end(),
                                 [](const TrackerListing& l) { return !l.error; });
    return any ? kExitOk : kExitTrackerUnreachable;
}

}  // namespace seedshare
