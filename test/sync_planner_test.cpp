#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/core/limits.hpp"
#include "peer/channel/aside_name.hpp"
#include "peer/channel/local_status.hpp"
#include "peer/channel/sync_planner.hpp"
#include "test/support/sync_pictures.hpp"

namespace sync_planner_test {

using namespace seedshare;
using namespace seedshare::sync_pictures;

namespace {

const char* reason(AsideReason r) {
    switch (r) {
        case AsideReason::kEdited:
            return "edited";
        case AsideReason::kInTheWay:
            return "in-the-way";
        case AsideReason::kObsolete:
            return "obsolete";
    }
    return "?";
}

const char* change(LocalChange c) {
    switch (c) {
        case LocalChange::kEdited:
            return "edited";
        case LocalChange::kDeleted:
            return "deleted";
        case LocalChange::kReplacedByDirectory:
            return "dir";
        case LocalChange::kReplacedByOther:
            return "other";
        case LocalChange::kInTheWay:
            return "in-the-way";
    }
    return "?";
}

// "L" a chunk copied from a local file, "E" from an earlier chunk of the same
// file, "N" downloaded.
std::string chunk_picture(const SyncStep& s) {
    std::string out;
    for (const auto& c : s.chunks)
        out += c.kind == ChunkFrom::Kind::kLocal     ? 'L'
               : c.kind == ChunkFrom::Kind::kEarlier ? 'E'
                                                     : 'N';
    return out;
}

// The plan as one line, e.g. "keep a; fetch b[LLN]; install b; delete c".
std::string picture(const SyncPlan& plan) {
    std::string out;
    for (const SyncStep& s : plan.steps) {
        if (!out.empty()) out += "; ";
        switch (s.action) {
            case SyncAction::kKeep:
                out += "keep " + s.path;
                break;
            case SyncAction::kHash:
                out += "hash " + s.path;
                break;
            case SyncAction::kMoveAside:
                out += "aside " + s.path + ">" + s.aside + "(" + reason(s.aside_reason) + ")";
                break;
            case SyncAction::kFetch:
                out += "fetch " + s.path + "[" + chunk_picture(s) + "]";
                break;
            case SyncAction::kRestore:
                out += "restore " + s.path + "(" + change(s.change) + ")[" + chunk_picture(s) + "]";
                break;
            case SyncAction::kInstall:
                out += "install " + s.path;
                break;
            case SyncAction::kDelete:
                out += "delete " + s.path;
                break;
            case SyncAction::kRemoveDirectory:
                out += "rmdir " + s.path;
                break;
        }
    }
    return out;
}

const SyncStep& step(const SyncPlan& plan, SyncAction action, const std::string& path) {
    auto it = std::find_if(plan.steps.begin(), plan.steps.end(),
                           [&](const SyncStep& s) { return s.action == action && s.path == path; });
    REQUIRE(it != plan.steps.end());
    return *it;
}

// Moves, then builds, then installs, then deletes, then directories.
bool in_safe_order(const SyncPlan& plan) {
    auto rank = [](SyncAction a) {
        switch (a) {
            case SyncAction::kKeep:
            case SyncAction::kHash:
                return 0;
            case SyncAction::kMoveAside:
                return 1;
            case SyncAction::kFetch:
            case SyncAction::kRestore:
                return 2;
            case SyncAction::kInstall:
                return 3;
            case SyncAction::kDelete:
                return 4;
            case SyncAction::kRemoveDirectory:
                return 5;
        }
        return 9;
    };
    return std::is_sorted(
        plan.steps.begin(), plan.steps.end(),
        [&](const SyncStep& a, const SyncStep& b) { return rank(a.action) < rank(b.action); });
}

}  // namespace

TEST_CASE("sync planner: first sync into an empty directory downloads everything") {
    Pic pic;
    pic.target("a", "ab").target("sub/b", "c", 1);
    const auto plan = pic.plan();
    CHECK(picture(plan) == "fetch a[NN]; fetch sub/b[N]; install a; install sub/b");
    CHECK(step(plan, SyncAction::kInstall, "a").expected == std::nullopt);
    CHECK(plan.summary.fetched == 2);
    CHECK(plan.summary.network_chunks == 3);
    CHECK(plan.summary.network_bytes == 9);
    CHECK(plan.summary.local_bytes == 0);
    CHECK_FALSE(plan.done());
}

TEST_CASE("sync planner: nothing changed: everything kept, nothing hashed") {
    Pic pic;
    pic.applied("a", "abcd").applied("d/b", "ef", 3).target("a", "abcd").target("d/b", "ef", 3);
    const auto plan = pic.plan();
    CHECK(picture(plan) == "keep a; keep d/b");
    CHECK_FALSE(plan.needs_hashing());
    CHECK(plan.done());
    CHECK(plan.summary.kept == 2);
}

TEST_CASE("sync planner: a one-chunk edit in a four-chunk file moves one chunk") {
    Pic pic;
    pic.applied("a", "abcd").target("a", "abxd");
    const auto plan = pic.plan();
    CHECK(picture(plan) == "fetch a[LLNL]; install a");
    const SyncStep& f = step(plan, SyncAction::kFetch, "a");
    CHECK(f.sources == std::vector<std::string>{"a"});
    CHECK(f.chunks[0] == ChunkFrom{ChunkFrom::Kind::kLocal, 0, 0, {}});
    CHECK(f.chunks[3].offset == 3 * kChunk);
    CHECK(f.local_chunks == 3);
    CHECK(f.network_chunks == 1);
    // The old version is replaced only if it is still the file that was planned on.
    CHECK(step(plan, SyncAction::kInstall, "a").expected == pic.entry("a").stamp);
    CHECK(plan.summary.local_bytes == 3 * kChunk);
    CHECK(plan.summary.network_bytes == kChunk);
}

TEST_CASE("sync planner: the file's own previous bytes are its first source") {
    Pic pic;
    pic.applied("0copy", "abcd").applied("a", "abcd").target("0copy", "abcd");
    pic.target("a", "xbcd").target("b", "abxy");
    const auto plan = pic.plan();
    CHECK(picture(plan) == "keep 0copy; fetch a[NLLL]; fetch b[LLNN]; install a; install b");
    CHECK(step(plan, SyncAction::kFetch, "a").sources == std::vector<std::string>{"a"});
    CHECK(step(plan, SyncAction::kFetch, "b").sources == std::vector<std::string>{"0copy"});
}

TEST_CASE("sync planner: a renamed or copied file costs nothing") {
    SUBCASE("renamed by the publisher") {
        Pic pic;
        pic.applied("a", "abcd").target("b", "abcd");
        const auto plan = pic.plan();
        CHECK(picture(plan) == "fetch b[LLLL]; install b; delete a");
        CHECK(plan.summary.network_chunks == 0);
        CHECK(step(plan, SyncAction::kFetch, "b").sources == std::vector<std::string>{"a"});
    }
    SUBCASE("copied by the publisher") {
        Pic pic;
        pic.applied("a", "abcd").target("a", "abcd").target("c/copy", "abcd");
        const auto plan = pic.plan();
        CHECK(picture(plan) == "keep a; fetch c/copy[LLLL]; install c/copy");
        CHECK(plan.summary.network_chunks == 0);
    }
    SUBCASE("renamed by the user: recognised by its stamp, used, never deleted") {
        Pic pic;
        pic.applied("a", "abcd").rename("a", "mine/a").target("a", "abcd");
        const auto plan = pic.plan();
        CHECK(picture(plan) == "restore a(deleted)[LLLL]; install a");
        CHECK(step(plan, SyncAction::kRestore, "a").sources == std::vector<std::string>{"mine/a"});
    }
    SUBCASE("two files swap names: both built before either is replaced") {
        Pic pic;
        pic.applied("a", "abcd").applied("b", "efgh").target("a", "efgh").target("b", "abcd");
        const auto plan = pic.plan();
        CHECK(picture(plan) == "fetch a[LLLL]; fetch b[LLLL]; install a; install b");
        CHECK(step(plan, SyncAction::kFetch, "a").sources == std::vector<std::string>{"b"});
        CHECK(step(plan, SyncAction::kFetch, "b").sources == std::vector<std::string>{"a"});
    }
}

TEST_CASE("sync planner: a published file removed from the version is deleted, its directory too") {
    Pic pic;
    pic.applied("a", "ab").applied("d/x", "c").applied("d/e/y", "d").target("a", "ab");
    const auto plan = pic.plan();
    CHECK(picture(plan) == "keep a; delete d/e/y; delete d/x; rmdir d/e; rmdir d");
    CHECK(step(plan, SyncAction::kDelete, "d/x").expected == pic.entry("d/x").stamp);
    CHECK(plan.summary.deleted == 2);
    CHECK(plan.summary.directories_removed == 2);
}

TEST_CASE("sync planner: local data not in the version is left alone") {
    Pic pic;
    pic.applied("a", "ab").applied("d/x", "c").user_file("notes.txt", 7).user_file("d/mine", 3);
    pic.user_dir("empty").symlink("link").target("a", "ab");
    const auto plan = pic.plan();
    // d/x goes, d stays: the user's file is in it.
    CHECK(picture(plan) == "keep a; delete d/x");
}

TEST_CASE("sync planner: a published file the user edited is hashed, kept aside, restored") {
    Pic pic;
    pic.applied("a", "abcd").target("a", "abcd").user_file("a.seedshare-edited-1", 1);
    pic.touch("a");
    auto plan = pic.plan();
    CHECK(picture(plan) == "hash a");
    CHECK(plan.needs_hashing());
    CHECK(step(plan, SyncAction::kHash, "a").chunk_size == kChunk);

    SUBCASE("only touched: the same content is kept") {
        pic.hashed("a", "abcd");
        CHECK(picture(pic.plan()) == "keep a");
    }
    SUBCASE("edited: moved aside under a free name, restored from what is left of it") {
        pic.hashed("a", "abzd");
        plan = pic.plan();
        CHECK(picture(plan) ==
              "aside a>a.seedshare-edited-2(edited); restore a(edited)[LLNL]; install a");
        CHECK(step(plan, SyncAction::kRestore, "a").sources ==
              std::vector<std::string>{"a.seedshare-edited-2"});
        CHECK(step(plan, SyncAction::kMoveAside, "a").expected == pic.entry("a").stamp);
        CHECK(step(plan, SyncAction::kInstall, "a").expected == std::nullopt);
        CHECK(plan.summary.moved_aside == 1);
        CHECK(plan.summary.restored == 1);
    }
    SUBCASE("changed again while hashed: not asked again, kept aside, not a source") {
        pic.hashed("a", "abzd");
        pic.touch("a");
        plan = pic.plan();
        CHECK(picture(plan) ==
              "aside a>a.seedshare-edited-2(edited); restore a(edited)[NNNN]; install a");
    }
}

TEST_CASE("sync planner: a published file the user deleted or replaced is restored") {
    SUBCASE("deleted") {
        Pic pic;
        pic.applied_gone("a", "abcd").target("a", "abcd");
        const auto plan = pic.plan();
        CHECK(picture(plan) == "restore a(deleted)[NNNN]; install a");
        CHECK(plan.summary.restored == 1);
    }
    SUBCASE("replaced by a directory") {
        Pic pic;
        pic.applied_gone("a", "ab");
        pic.user_file("a/inside", 2).target("a", "ab");
        CHECK(picture(pic.plan()) ==
              "aside a>a.seedshare-moved-1(in-the-way); restore a(dir)[NN]; install a");
    }
    SUBCASE("replaced by a symlink") {
        Pic pic;
        pic.applied_gone("a", "ab");
        pic.symlink("a").target("a", "ab");
        CHECK(picture(pic.plan()) ==
              "aside a>a.seedshare-moved-1(in-the-way); restore a(other)[NN]; install a");
    }
    SUBCASE("a modified file the publisher removed is kept aside, never deleted") {
        Pic pic;
        pic.applied("old", "ab").touch("old").hashed("old", "xy");
        CHECK(picture(pic.plan()) == "aside old>old.seedshare-edited-1(edited)");
    }
}

TEST_CASE("sync planner: what is in the way of a target path is moved aside, never deleted") {
    SUBCASE("a file where a target directory goes") {
        Pic pic;
        pic.user_file("a", 3).target("a/b", "c");
        const auto plan = pic.plan();
        CHECK(picture(plan) ==
              "aside a>a.seedshare-moved-1(in-the-way); fetch a/b[N]; install a/b");
        CHECK(plan.summary.moved_aside == 1);
    }
    SUBCASE("a directory of the user's where a target file goes") {
        Pic pic;
        pic.user_file("x/notes", 5).target("x", "ab");
        CHECK(picture(pic.plan()) ==
              "aside x>x.seedshare-moved-1(in-the-way); fetch x[NN]; install x");
    }
    SUBCASE("a symlink on the way: nothing is written through it") {
        Pic pic;
        pic.symlink("s").target("s/deep/f", "a");
        CHECK(picture(pic.plan()) ==
              "aside s>s.seedshare-moved-1(in-the-way); fetch s/deep/f[N]; install s/deep/f");
    }
    SUBCASE("entries listed under a symlink are not trusted") {
        Pic pic;
        pic.symlink("s").target("s/f", "a");
        pic.state.local.push_back({"s/f", EntryKind::kFile, FileStamp{4, 1, 1, 7}});
        CHECK(picture(pic.plan()) ==
              "aside s>s.seedshare-moved-1(in-the-way); fetch s/f[N]; install s/f");
    }
    SUBCASE("an unrecorded file of another length where a target file goes") {
        Pic pic;
        pic.user_file("a", 3).target("a", "ab");
        CHECK(picture(pic.plan()) ==
              "aside a>a.seedshare-moved-1(in-the-way); fetch a[NN]; install a");
    }
    SUBCASE("an unrecorded file of the right length is hashed first") {
        Pic pic;
        pic.user_file("a", 8).target("a", "ab");
        CHECK(picture(pic.plan()) == "hash a");
        SUBCASE("the target already") {
            pic.hashed("a", "ab");
            CHECK(picture(pic.plan()) == "keep a");
        }
        SUBCASE("something else, whose chunks still serve") {
            pic.hashed("a", "xb");
            CHECK(picture(pic.plan()) ==
                  "aside a>a.seedshare-moved-1(in-the-way); fetch a[NL]; install a");
        }
    }
    SUBCASE("the previous version's directory where the new version has a file") {
        Pic pic;
        pic.applied("x/y", "ab").applied("x/z/w", "c").target("x", "abc");
        const auto plan = pic.plan();
        CHECK(picture(plan) ==
              "aside x>x.seedshare-moved-1(obsolete); fetch x[LLL]; install x; "
              "delete x.seedshare-moved-1/y; delete x.seedshare-moved-1/z/w; "
              "rmdir x.seedshare-moved-1/z; rmdir x.seedshare-moved-1");
        CHECK(step(plan, SyncAction::kFetch, "x").sources ==
              std::vector<std::string>{"x.seedshare-moved-1/y", "x.seedshare-moved-1/z/w"});
        CHECK(plan.summary.moved_aside == 0);
    }
    SUBCASE("the same, with a file of the user's in it: that stays aside") {
        Pic pic;
        pic.applied("x/y", "ab").user_file("x/mine", 1).target("x", "ab");
        CHECK(picture(pic.plan()) ==
              "aside x>x.seedshare-moved-1(in-the-way); fetch x[LL]; install x; "
              "delete x.seedshare-moved-1/y");
    }
    SUBCASE("the previous version's file where the new version has a directory") {
        Pic pic;
        pic.applied("a", "ab").target("a/b", "ab");
        CHECK(picture(pic.plan()) ==
              "aside a>a.seedshare-moved-1(obsolete); fetch a/b[LL]; install a/b; "
              "delete a.seedshare-moved-1");
    }
}

TEST_CASE("sync planner: planning again after a crash gives only what remains") {
    Pic pic;
    pic.applied("a", "abcd").applied("b", "efgh").applied("c", "ijkl");
    pic.target("a", "abxd").target("b", "efgy");
    CHECK(picture(pic.plan()) == "fetch a[LLNL]; fetch b[LLLN]; install a; install b; delete c");

    SUBCASE("a installed, not recorded: hashed once, then kept") {
        pic.installed("a", "abxd", false);
        CHECK(picture(pic.plan()) == "hash a");
        pic.hashed("a", "abxd");
        CHECK(picture(pic.plan()) == "keep a; fetch b[LLLN]; install b; delete c");
    }
    SUBCASE("a installed and recorded: kept without hashing") {
        pic.installed("a", "abxd", true);
        CHECK(picture(pic.plan()) == "keep a; fetch b[LLLN]; install b; delete c");
        SUBCASE("then the rest done: nothing left") {
            pic.installed("b", "efgy", true).remove("c");
            CHECK(pic.plan().done());
        }
    }
    SUBCASE("an edited copy moved aside before the crash stays aside, untouched") {
        Pic edited;
        edited.applied("a", "abcd").target("a", "abcd").touch("a").hashed("a", "abzd");
        CHECK(picture(edited.plan()) ==
              "aside a>a.seedshare-edited-1(edited); restore a(edited)[LLNL]; install a");
        edited.rename("a", "a.seedshare-edited-1");
        edited.state.hashed.clear();
        CHECK(picture(edited.plan()) == "restore a(deleted)[NNNN]; install a");
    }
}

TEST_CASE("sync planner: a chunk is reused only when its hash and its length match") {
    Pic pic;
    pic.applied("z", "abc");        // chunk c: 4 bytes
    pic.target("short", "abc", 2);  // chunk c: 2 bytes, same hash
    pic.target("z", "abc").target("full", "abc");
    const auto plan = pic.plan();
    CHECK(picture(plan) ==
          "keep z; fetch full[LLL]; fetch short[LLN]; install full; install short");
}

TEST_CASE("sync planner: a chunk repeated within the target file is downloaded once") {
    SUBCASE("nothing local") {
        Pic pic;
        pic.target("a", "aaba");
        const auto plan = pic.plan();
        CHECK(picture(plan) == "fetch a[NENE]; install a");
        const SyncStep& f = step(plan, SyncAction::kFetch, "a");
        CHECK(f.chunks[1].earlier.value == 0);
        CHECK(f.chunks[3].earlier.value == 0);
        CHECK(f.network_chunks == 2);
    }
    SUBCASE("held locally: every copy from there") {
        Pic pic;
        pic.applied("src", "a").target("a", "aaba");
        const auto plan = pic.plan();
        CHECK(picture(plan) == "fetch a[LLNL]; install a; delete src");
        CHECK(step(plan, SyncAction::kFetch, "a").chunks[3].offset == 0);
    }
}

TEST_CASE("sync planner: empty files") {
    SUBCASE("fetched with no chunk") {
        Pic pic;
        pic.target("e", "");
        const auto plan = pic.plan();
        CHECK(picture(plan) == "fetch e[]; install e");
        CHECK(plan.summary.network_chunks == 0);
    }
    SUBCASE("kept") {
        Pic pic;
        pic.applied("e", "").target("e", "");
        CHECK(picture(pic.plan()) == "keep e");
    }
    SUBCASE("an unrecorded empty file where an empty target goes: kept without hashing") {
        Pic pic;
        pic.user_file("e", 0).target("e", "");
        CHECK(picture(pic.plan()) == "keep e");
    }
    SUBCASE("a published empty file touched, then removed from the version: deleted") {
        Pic pic;
        pic.applied("e", "").touch("e");
        CHECK(picture(pic.plan()) == "delete e");
    }
    SUBCASE("a published empty file the user wrote to: hashed") {
        Pic pic;
        pic.applied("e", "").target("e", "");
        pic.entry("e").stamp.size = 3;
        CHECK(picture(pic.plan()) == "hash e");
    }
}

TEST_CASE("sync planner: a busy plan keeps the safe order") {
    Pic pic;
    pic.applied("keep", "k").applied("edit", "abcd").applied("gone", "efgh").applied("old/x", "ij");
    pic.user_file("in", 1).touch("edit").hashed("edit", "abzz");
    pic.target("keep", "k").target("edit", "abcd").target("in/f", "efgh").target("new", "ij");
    const auto plan = pic.plan();
    CHECK(picture(plan) ==
          "keep keep; aside edit>edit.seedshare-edited-1(edited); "
          "aside in>in.seedshare-moved-1(in-the-way); restore edit(edited)[LLNN]; "
          "fetch in/f[LLLL]; fetch new[LL]; install edit; install in/f; install new; "
          "delete gone; delete old/x; rmdir old");
    CHECK(in_safe_order(plan));
    const SyncSummary want{0, 1, 2, 1, 2, 2, 1, 8, 2, 32, 8};
    CHECK(plan.summary == want);
}

TEST_CASE("sync planner: a state it cannot trust is refused") {
    auto refused = [](const Pic& pic) { return !plan_sync(pic.state).ok(); };
    CHECK(refused(Pic{}.target("a", "x").target("a", "y")));
    CHECK(refused(Pic{}.target("a", "x").target("a/b", "y")));
    CHECK(refused(Pic{}.target("../a", "x")));
    CHECK(refused(Pic{}.target("/a", "x")));
    CHECK(refused(Pic{}.target("a//b", "x")));
    CHECK(refused(Pic{}.target("a/", "x")));
    Pic bad_seed;
    bad_seed.target("a", "xy");
    bad_seed.state.target[0].seed.chunk_hashes.pop_back();
    CHECK(refused(bad_seed));
    Pic bad_hash;
    bad_hash.user_file("a", 8).target("a", "ab").hashed("a", "ab");
    bad_hash.state.hashed[0].chunk_hashes.pop_back();
    CHECK(refused(bad_hash));
}

}  // namespace sync_planner_test
