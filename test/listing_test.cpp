// What `peer list` prints, decided without I/O: filtering, order, JSON keys,
// exit codes.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "common/core/plural.hpp"
#include "peer/app/commands.hpp"
#include "peer/app/listing.hpp"

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
    CHECK(list_exit_code({}) == kExitTrackerUnreachable);
}

TEST_CASE("plural: a count and its noun") {
    CHECK(count_of(0, "peer") == "0 peers");
    CHECK(count_of(1, "peer") == "1 peer");
    CHECK(count_of(2, "chunk") == "2 chunks");
    CHECK(count_of(1, "byte") == "1 byte");
    CHECK(count_of(3, "entry", "entries") == "3 entries");
}
