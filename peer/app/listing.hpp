// What `peer list` shows, decided without I/O: the answers of each tracker
// (or why it gave none), filtered and sorted by name, as a table or as one
// JSON object (keys documented in README.md), and the exit code.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/address.hpp"
#include "common/wire/tracker_protocol.hpp"

namespace seedshare {

struct TrackerListing {
    HostPort tracker;
    std::optional<std::string> error;  // set when the tracker did not answer
    std::vector<tracker_proto::FileInfo> files;
};

// Keeps the files whose name contains `filter` (all if empty), sorted by
// name (then id).
void filter_and_sort(std::vector<tracker_proto::FileInfo>& files, std::string_view filter);

// The table: NAME SIZE HOLDERS ID; a "tracker HOST:PORT:" heading before each
// tracker's rows when there are several; trackers that did not answer are
// left out (their error goes to stderr).
std::string format_table(const std::vector<TrackerListing>& listings);

// {"trackers":[{"tracker":"HOST:PORT","ok":true,"error":null,"files":[{"name":..,
// "size":..,"holders":..,"complete":..,"id":".."}]}]}, one line.
std::string format_json(const std::vector<TrackerListing>& listings);

// 0 when at least one tracker answered, else kExitTrackerUnreachable.
int list_exit_code(const std::vector<TrackerListing>& listings);

// --- peer list --channels ---

struct ChannelListing {
    HostPort tracker;
    std::optional<std::string> error;  // set when the tracker did not answer
    std::vector<tracker_proto::ChannelInfo> channels;
};

// Keeps the channels whose name contains `filter` (all if empty), sorted by
// name (then id).
void filter_and_sort(std::vector<tracker_proto::ChannelInfo>& channels, std::string_view filter);

// The table: NAME VERSION FILES SIZE SUBSCRIBERS ID, headed per tracker as
// format_table does; trackers that did not answer are left out.
std::string format_table(const std::vector<ChannelListing>& listings);

// {"trackers":[{"tracker":"HOST:PORT","ok":true,"error":null,"channels":[{"name":..,
// "version":..,"files":..,"size":..,"subscribers":..,"id":".."}]}]}, one line.
std::string format_json(const std::vector<ChannelListing>& listings);

int list_exit_code(const std::vector<ChannelListing>& listings);

}  // namespace seedshare
