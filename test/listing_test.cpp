// What `peer list` prints, decided without I/O: filtering, order, JSON keys,
// exit codes.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "common/core/plural.hpp"
#include "peer/app/commands.hpp"
#include "peer/app/listing.hpp"

namespace listing_test {

using namespace seedshare;
namespace proto = seedshare::tracker_proto;

namespace {
proto::FileInfo file(std::string name, std::uint8_t id, std::uint64_t size = 10) {
    proto::FileInfo f;
    f.name = std::move(name);
    f.id.bytes[0] = id;
    f.length = size;
    f.holders = 2;
    f.complete_holders = 1;
    return f;
}
}  // namespace

TEST_CASE("listing: filtered by a substring, sorted by name then id") {
    std::vector<proto::FileInfo> files{file("zeta.bin", 1), file("alpha.txt", 2),
                                       file("beta.bin", 3), file("alpha.txt", 0)};
    filter_and_sort(files, "");
    REQUIRE(files.size() == 4);
    CHECK(files[0].name == "alpha.txt");
    CHECK(files[0].id.bytes[0] == 0);
    CHECK(files[1].id.bytes[0] == 2);
    CHECK(files[2].name == "beta.bin");
    CHECK(files[3].name == "zeta.bin");
    filter_and_sort(files, ".bin");
    REQUIRE(files.size() == 2);
    CHECK(files[0].name == "beta.bin");
}

TEST_CASE("listing: JSON has stable keys, errors as strings, null when fine") {
    std::vector<TrackerListing> l{
        {HostPort{"127.0.0.1", 7000}, std::nullopt, {file("a \"quoted\"\\name", 1, 1234)}},
        {HostPort{"::1", 7001}, std::string("cannot reach tracker [::1]:7001: refused"), {}}};
    const auto text = format_json(l);
    CHECK(text.back() == '\n');
    const auto j = nlohmann::json::parse(text);
    REQUIRE(j["trackers"].size() == 2);
    CHECK(j["trackers"][0]["tracker"] == "127.0.0.1:7000");
    CHECK(j["trackers"][0]["ok"] == true);
    CHECK(j["trackers"][0]["error"].is_null());
    const auto& f = j["trackers"][0]["files"][0];
    CHECK(f["name"] == "a \"quoted\"\\name");
    CHECK(f["size"] == 1234);
    CHECK(f["holders"] == 2);
    CHECK(f["complete"] == 1);
    CHECK(f["id"].get<std::string>().size() == 64);
    CHECK(j["trackers"][1]["tracker"] == "[::1]:7001");
    CHECK(j["trackers"][1]["ok"] == false);
    CHECK(j["trackers"][1]["error"] == "cannot reach tracker [::1]:7001: refused");
    CHECK(j["trackers"][1]["files"].empty());
}

TEST_CASE("listing: the table leaves out trackers that did not answer, and the exit code") {
    std::vector<TrackerListing> l{{HostPort{"127.0.0.1", 7000}, std::nullopt, {file("a", 1)}},
                                  {HostPort{"127.0.0.1", 7001}, std::string("down"), {}}};
    const auto table = format_table(l);
    CHECK(table.find("tracker 127.0.0.1:7000:") != std::string::npos);
    CHECK(table.find("7001") == std::string::npos);
    CHECK(list_exit_code(l) == kExitOk);
    l[0].error = "down too";
    CHECK(list_exit_code(l) == kExitTrackerUnreachable);
    CHECK(list_exit_code(std::vector<TrackerListing>{}) == kExitTrackerUnreachable);
}

namespace {
proto::ChannelInfo channel(std::string name, std::uint8_t id, std::uint64_t version = 3) {
    proto::ChannelInfo c;
    c.channel.bytes[0] = id;
    c.name = std::move(name);
    c.version = version;
    c.files = 12;
    c.size = 3 * 1024 * 1024;
    c.followers = 4;
    return c;
}
}  // namespace

TEST_CASE("listing --channels: filtered, sorted by name then id") {
    std::vector<proto::ChannelInfo> c{channel("site", 2), channel("datasets", 1),
                                      channel("site", 0), channel("builds", 3)};
    filter_and_sort(c, "");
    REQUIRE(c.size() == 4);
    CHECK(c[0].name == "builds");
    CHECK(c[1].name == "datasets");
    CHECK(c[2].channel.bytes[0] == 0);
    CHECK(c[3].channel.bytes[0] == 2);
    filter_and_sort(c, "it");
    REQUIRE(c.size() == 2);
    CHECK(c[0].name == "site");
}

TEST_CASE("listing --channels: the table has a column each, and says when there are none") {
    std::vector<ChannelListing> l{
        {HostPort{"127.0.0.1", 7000}, std::nullopt, {channel("nightly builds", 1, 41)}}};
    const auto table = format_table(l);
    CHECK(table.starts_with("NAME"));
    for (const char* column : {"VERSION", "FILES", "SIZE", "SUBSCRIBERS", "ID"})
        CHECK(table.find(column) != std::string::npos);
    const auto row = table.substr(table.find('\n') + 1);
    CHECK(row.starts_with("nightly builds"));
    CHECK(row.find(" 41 ") != std::string::npos);
    CHECK(row.find(" 12 ") != std::string::npos);
    CHECK(row.find("3.00 MiB") != std::string::npos);
    CHECK(row.find(" 4 ") != std::string::npos);
    CHECK(row.find(l[0].channels[0].channel.hex()) != std::string::npos);
    l[0].channels.clear();
    CHECK(format_table(l) == "no channels\n");
    l.push_back({HostPort{"127.0.0.1", 7001}, std::string("down"), {}});
    CHECK(format_table(l) == "tracker 127.0.0.1:7000:\nno channels\n");
    CHECK(list_exit_code(l) == kExitOk);
    l[0].error = "down too";
    CHECK(list_exit_code(l) == kExitTrackerUnreachable);
}

TEST_CASE("listing --channels: JSON has stable keys") {
    std::vector<ChannelListing> l{
        {HostPort{"127.0.0.1", 7000}, std::nullopt, {channel("site \"a\"", 1, 9)}},
        {HostPort{"::1", 7001}, std::string("cannot reach tracker [::1]:7001: refused"), {}}};
    const auto j = nlohmann::json::parse(format_json(l));
    REQUIRE(j["trackers"].size() == 2);
    CHECK(j["trackers"][0]["ok"] == true);
    CHECK(j["trackers"][0]["error"].is_null());
    const auto& c = j["trackers"][0]["channels"][0];
    CHECK(c["name"] == "site \"a\"");
    CHECK(c["version"] == 9);
    CHECK(c["files"] == 12);
    CHECK(c["size"] == 3 * 1024 * 1024);
    CHECK(c["subscribers"] == 4);
    CHECK(c["id"] == l[0].channels[0].channel.hex());
    CHECK(j["trackers"][1]["ok"] == false);
    CHECK(j["trackers"][1]["channels"].empty());
}

TEST_CASE("plural: a count and its noun") {
    CHECK(count_of(0, "peer") == "0 peers");
    CHECK(count_of(1, "peer") == "1 peer");
    CHECK(count_of(2, "chunk") == "2 chunks");
    CHECK(count_of(1, "byte") == "1 byte");
    CHECK(count_of(3, "entry", "entries") == "3 entries");
}

}  // namespace listing_test
