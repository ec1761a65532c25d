// What `peer status` says without hashing (local_status), and the names of
// copies kept aside (aside_name).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/core/limits.hpp"
#include "peer/channel/aside_name.hpp"
#include "peer/channel/local_status.hpp"
#include "test/support/sync_pictures.hpp"

namespace local_status_test {

using namespace seedshare;
using namespace seedshare::sync_pictures;

TEST_CASE("sync planner: aside names stay in their directory, free and short enough") {
    auto none = [](std::string_view) { return false; };
    CHECK(aside_path("d/e/f.txt", AsideReason::kEdited, none) == "d/e/f.txt.seedshare-edited-1");
    CHECK(aside_path("f", AsideReason::kInTheWay, none) == "f.seedshare-moved-1");
    auto first_two = [](std::string_view p) { return !p.ends_with("-3"); };
    CHECK(aside_path("f", AsideReason::kEdited, first_two) == "f.seedshare-edited-3");
    // A long name is cut at a character boundary ("é" is two bytes).
    std::string name;
    while (name.size() < limits::kMaxNameBytes)
        name += "\xc3\xa9";
    const std::string aside = aside_path("d/" + name, AsideReason::kEdited, none);
    const std::string leaf = aside.substr(2);
    CHECK(leaf.size() <= limits::kMaxNameBytes);
    CHECK(leaf.ends_with(".seedshare-edited-1"));
    CHECK(leaf.size() % 2 == std::string(".seedshare-edited-1").size() % 2);
}

TEST_CASE("sync planner: status lists what differs locally without hashing") {
    Pic pic;
    pic.applied("same", "a").applied("edited", "b").applied_gone("deleted", "c");
    pic.applied("dir", "d").applied("link/f", "e").applied("other", "f");
    pic.touch("edited").remove("dir").user_dir("dir").remove("other").symlink("other");
    pic.remove("link/f").remove("link").symlink("link").user_file("unrelated", 3);
    const auto changes = local_changes(pic.state.recorded, pic.state.local);
    REQUIRE(changes.ok());
    const std::vector<LocalDifference> want{
        {"deleted", LocalChange::kDeleted}, {"dir", LocalChange::kReplacedByDirectory},
        {"edited", LocalChange::kEdited},   {"link", LocalChange::kInTheWay},
        {"link/f", LocalChange::kDeleted},  {"other", LocalChange::kReplacedByOther},
    };
    CHECK(*changes == want);
    CHECK(local_changes(pic.state.recorded, {}).value().size() == 6);
}

TEST_CASE("aside names are recognised, and only they (a publisher never publishes them)") {
    CHECK(is_aside_path("a.txt.seedshare-edited-1"));
    CHECK(is_aside_path("d/e/a.txt.seedshare-moved-12"));
    const auto taken = [](std::string_view) { return false; };
    CHECK(is_aside_path(aside_path("docs/x", AsideReason::kEdited, taken)));
    CHECK(is_aside_path(aside_path("x", AsideReason::kInTheWay, taken)));
    CHECK_FALSE(is_aside_path("a.txt"));
    CHECK_FALSE(is_aside_path("a.txt.seedshare-edited-"));
    CHECK_FALSE(is_aside_path("a.txt.seedshare-edited-01"));
    CHECK_FALSE(is_aside_path("a.txt.seedshare-edited-1x"));
    CHECK_FALSE(is_aside_path(".seedshare-moved-1"));
    CHECK_FALSE(is_aside_path("a.seedshare-moved-1/b.txt"));
}

}  // namespace local_status_test
