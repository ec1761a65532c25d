#include "peer/app/listing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/core/numbers.hpp"
#include "peer/app/commands.hpp"

namespace seedshare {

namespace {

using json = nlohmann::ordered_json;  // keys in the documented order

const SeedId& id_of(const tracker_proto::FileInfo& f) {
    return f.id;
}
const ChannelId& id_of(const tracker_proto::ChannelInfo& c) {
    return c.channel;
}

template <class Info>
void filter_and_sort_by_name(std::vector<Info>& list, std::string_view filter) {
    if (!filter.empty())
        std::erase_if(list,
                      [&](const auto& i) { return i.name.find(filter) == std::string::npos; });
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
        if (a.name != b.name) return a.name < b.name;
        return id_of(a) < id_of(b);
    });
}

template <class Listing>
int exit_code_of(const std::vector<Listing>& listings) {
    const bool any =
        std::any_of(listings.begin(), listings.end(), [](const Listing& l) { return !l.error; });
    return any ? kExitOk : kExitTrackerUnreachable;
}

// One tracker's entry in the JSON document; `items` under `key`.
template <class Listing>
json tracker_json(const Listing& l, const char* key, json items) {
    return json{{"tracker", l.tracker.str()},
                {"ok", !l.error},
                {"error", l.error ? json(*l.error) : json(nullptr)},
                {key, std::move(items)}};
}

std::string dump(json trackers) {
    // Names come from seeds and manifests (valid UTF-8); replace anything
    // else rather than throw.
    return json{{"trackers", std::move(trackers)}}.dump(-1, ' ', false,
                                                        json::error_handler_t::replace) +
           "\n";
}

}  // namespace

void filter_and_sort(std::vector<tracker_proto::FileInfo>& files, std::string_view filter) {
    filter_and_sort_by_name(files, filter);
}

void filter_and_sort(std::vector<tracker_proto::ChannelInfo>& channels, std::string_view filter) {
    filter_and_sort_by_name(channels, filter);
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
    json trackers = json::array();
    for (const auto& l : listings) {
        json files = json::array();
        for (const auto& f : l.files)
            files.push_back(json{{"name", f.name},
                                 {"size", f.length},
                                 {"holders", f.holders},
                                 {"complete", f.complete_holders},
                                 {"id", f.id.hex()}});
        trackers.push_back(tracker_json(l, "files", std::move(files)));
    }
    return dump(std::move(trackers));
}

int list_exit_code(const std::vector<TrackerListing>& listings) {
    return exit_code_of(listings);
}

std::string format_table(const std::vector<ChannelListing>& listings) {
    std::string out;
    for (const auto& l : listings) {
        if (l.error) continue;
        if (listings.size() > 1) out += fmt::format("tracker {}:\n", l.tracker.str());
        if (l.channels.empty()) {
            out += "no channels\n";
            continue;
        }
        std::size_t width = 4;
        for (const auto& c : l.channels)
            width = std::max(width, c.name.size());
        out += fmt::format("{:<{}}  {:>8}  {:>7}  {:>12}  {:>11}  {}\n", "NAME", width, "VERSION",
                           "FILES", "SIZE", "SUBSCRIBERS", "ID");
        for (const auto& c : l.channels)
            out +=
                fmt::format("{:<{}}  {:>8}  {:>7}  {:>12}  {:>11}  {}\n", c.name, width, c.version,
                            c.files, format_bytes(c.size), c.followers, c.channel.hex());
    }
    return out;
}

std::string format_json(const std::vector<ChannelListing>& listings) {
    json trackers = json::array();
    for (const auto& l : listings) {
        json channels = json::array();
        for (const auto& c : l.channels)
            channels.push_back(json{{"name", c.name},
                                    {"version", c.version},
                                    {"files", c.files},
                                    {"size", c.size},
                                    {"subscribers", c.followers},
                                    {"id", c.channel.hex()}});
        trackers.push_back(tracker_json(l, "channels", std::move(channels)));
    }
    return dump(std::move(trackers));
}

int list_exit_code(const std::vector<ChannelListing>& listings) {
    return exit_code_of(listings);
}

}  // namespace seedshare
