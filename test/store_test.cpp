// The tracker's store on ":memory:" (and on files for restarts), with a fake
// clock: join and token rules, exact expiry, the sweep, holdings, seeds.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <set>

#include "common/core/limits.hpp"
#include "test/support/temp_dir.hpp"
#include "tracker/sqlite/store.hpp"

using namespace seedshare;
using namespace seedshare::tracker;
namespace proto = seedshare::tracker_proto;

namespace {

constexpr std::int64_t kTtlMs = 90'000;

UserId uid(std::uint32_t n) {
    UserId u;
    u.bytes[0] = static_cast<std::uint8_t>(n * 97);  // spread over the id space
    u.bytes[1] = static_cast<std::uint8_t>(n >> 8);
    u.bytes[2] = static_cast<std::uint8_t>(n);
    u.bytes[15] = 1;
    return u;
}

SeedId sid(std::uint32_t n) {
    SeedId s;
    s.bytes[0] = static_cast<std::uint8_t>(n >> 16);
    s.bytes[1] = static_cast<std::uint8_t>(n >> 8);
    s.bytes[2] = static_cast<std::uint8_t>(n);
    s.bytes[31] = 7;
    return s;
}

asio::ip::address ip(const char* text) {
    return asio::ip::make_address(text);
}

Seed make_seed(const std::string& name, std::uint8_t salt) {
    Seed s;
    s.name = name;
    s.length = 100;
    s.chunk_size = 64;
    s.file_hash.bytes[0] = salt;
    s.trackers = {HostPort{"127.0.0.1", 7000}};
    s.chunk_hashes.resize(2);
    s.chunk_hashes[1].bytes[5] = salt;
    return s;
}

struct Clock {
    std::int64_t now = 1'700'000'000'000;
    NowMs fn() {
        return [this] { return now; };
    }
};

std::unique_ptr<Store> open_store(Clock& clock, const std::string& path = ":memory:") {
    auto s = Store::open(path, clock.fn(), std::chrono::milliseconds(kTtlMs));
    REQUIRE_MESSAGE(s.ok(), (s ? "" : s.error().message));
    return std::move(*s);
}

template <class T>
const T& ok(const Answer<T>& a) {
    if (const auto* e = std::get_if<proto::ErrorReply>(&a)) FAIL("refused: " << e->message);
    return std::get<T>(a);
}

template <class T>
proto::ErrorCode refused(const Answer<T>& a) {
    const auto* e = std::get_if<proto::ErrorReply>(&a);
    REQUIRE_MESSAGE(e != nullptr, "expected a refusal");
    return e->code;
}

Token join(Store& s, std::uint32_t n, std::uint16_t port = 4000, const Token& presented = {}) {
    return ok(s.join(uid(n), presented, ip("10.0.0.1"), port)).token;
}

proto::FileList files(const Token& t, bool replace, std::vector<proto::FileEntry> add,
                      std::vector<SeedId> remove = {}) {
    proto::FileList l;
    l.token = t;
    l.replace_all = replace;
    l.add = std::move(add);
    l.remove = std::move(remove);
    return l;
}

proto::FileEntry entry(std::uint32_t n, bool complete = true) {
    return proto::FileEntry{sid(n), "file" + std::to_string(n), 1000 + n, complete};
}

std::set<UserId> users_of(const proto::Peers& p) {
    std::set<UserId> out;
    for (const auto& e : p.peers)
        out.insert(e.user);
    return out;
}

std::optional<proto::FileInfo> find_file(const proto::Files& f, const SeedId& id) {
    for (const auto& i : f.files)
        if (i.id == id) return i;
    return std::nullopt;
}

}  // namespace

TEST_CASE("store: join issues a token, and a live userid is refused without it") {
    Clock clock;
    auto s = open_store(clock);
    const Token t = join(*s, 1);
    CHECK_FALSE(t.is_zero());
    CHECK(s->is_live(uid(1), t));
    CHECK(s->token_of(uid(1)) == t);

    // No token, or a wrong one: refused, and nothing changes.
    CHECK(refused(s->join(uid(1), Token{}, ip("10.6.6.6"), 1)) == proto::ErrorCode::kUserIdInUse);
    Token wrong = t;
    wrong.bytes[0] ^= 1;
    CHECK(refused(s->join(uid(1), wrong, ip("10.6.6.6"), 1)) == proto::ErrorCode::kUserIdInUse);
    CHECK(s->token_of(uid(1)) == t);
    ok(s->update_files(uid(1), files(t, true, {entry(1)})));
    const auto p = s->get_peers(sid(1), uid(9), 50);
    REQUIRE(p.peers.size() == 1);
    CHECK(p.peers[0].address == ip("10.0.0.1"));
    CHECK(p.peers[0].port == 4000);

    // The right token keeps the identity (and takes the new address and port).
    auto again = ok(s->join(uid(1), t, ip("10.0.0.2"), 4001));
    CHECK(again.kept_token);
    CHECK(again.token == t);
    const auto p2 = s->get_peers(sid(1), uid(9), 50);
    REQUIRE(p2.peers.size() == 1);
    CHECK(p2.peers[0].address == ip("10.0.0.2"));
    CHECK(p2.peers[0].port == 4001);

    // A different userid gets a different token.
    CHECK(join(*s, 2) != t);
}

TEST_CASE("store: an expired userid can be taken, without its old holdings") {
    Clock clock;
    auto s = open_store(clock);
    const Token t = join(*s, 1);
    ok(s->update_files(uid(1), files(t, true, {entry(1)})));
    clock.now += kTtlMs;  // silent exactly the TTL: still live
    CHECK(refused(s->join(uid(1), Token{}, ip("10.0.0.9"), 1)) == proto::ErrorCode::kUserIdInUse);
    clock.now += 1;  // longer than the TTL: expired
    const auto taken = ok(s->join(uid(1), Token{}, ip("10.0.0.9"), 1));
    CHECK_FALSE(taken.kept_token);
    CHECK(taken.token != t);
    CHECK(s->get_peers(sid(1), uid(9), 50).peers.empty());
    CHECK(s->list_files(std::nullopt, 100).files.empty());  // the orphaned file is gone
    CHECK(refused(s->heartbeat(uid(1), t)) == proto::ErrorCode::kUnknownPeer);
}

TEST_CASE("store: an expired userid presenting its token keeps it") {
    Clock clock;
    auto s = open_store(clock);
    const Token t = join(*s, 1);
    clock.now += 10 * kTtlMs;
    CHECK_FALSE(s->is_live(uid(1), t));
    const auto back = ok(s->join(uid(1), t, ip("10.0.0.1"), 4000));
    CHECK(back.kept_token);
    CHECK(back.token == t);
    CHECK(s->is_live(uid(1), t));
}

TEST_CASE("store: heartbeat needs the token and a live entry") {
    Clock clock;
    auto s = open_store(clock);
    const Token t = join(*s, 1);
    Token wrong = t;
    wrong.bytes[3] ^= 0x40;
    CHECK(refused(s->heartbeat(uid(1), wrong)) == proto::ErrorCode::kUnknownPeer);
    CHECK(refused(s->heartbeat(uid(2), t)) == proto::ErrorCode::kUnknownPeer);
    clock.now += kTtlMs - 1;
    ok(s->heartbeat(uid(1), t));  // renews
    clock.now += kTtlMs;
    ok(s->heartbeat(uid(1), t));
    CHECK(s->is_live(uid(1), t));
    clock.now += kTtlMs + 1;
    CHECK(refused(s->heartbeat(uid(1), t)) == proto::ErrorCode::kUnknownPeer);
    CHECK(refused(s->update_files(uid(1), files(t, true, {entry(1)}))) ==
          proto::ErrorCode::kUnknownPeer);
}

TEST_CASE("store: expiry is exact, before any sweep") {
    Clock clock;
    auto s = open_store(clock);
    const Token a = join(*s, 1);
    const Token b = join(*s, 2);
    ok(s->update_files(uid(1), files(a, true, {entry(1, true)})));
    ok(s->update_files(uid(2), files(b, true, {entry(1, false)})));
    {
        const auto p = s->get_peers(sid(1), uid(3), 50);
        CHECK(users_of(p) == std::set<UserId>{uid(1), uid(2)});
        const auto f = find_file(s->list_files(std::nullopt, 100), sid(1));
        REQUIRE(f);
        CHECK(f->holders == 2);
        CHECK(f->complete_holders == 1);
    }
    clock.now += kTtlMs - 10;
    ok(s->heartbeat(uid(2), b));
    clock.now += 11;  // uid(1) silent for TTL + 1 ms
    {
        const auto p = s->get_peers(sid(1), uid(3), 50);
        CHECK(users_of(p) == std::set<UserId>{uid(2)});
        const auto f = find_file(s->list_files(std::nullopt, 100), sid(1));
        REQUIRE(f);
        CHECK(f->holders == 1);
        CHECK(f->complete_holders == 0);
    }
    CHECK(s->stats().users == 2);  // still there: only the sweep deletes
    CHECK(s->stats().live_users == 1);
}

TEST_CASE("store: the sweep deletes expired peers, their holdings and unheld files") {
    Clock clock;
    auto s = open_store(clock);
    const Token a = join(*s, 1);
    const Token b = join(*s, 2);
    ok(s->update_files(uid(1), files(a, true, {entry(1), entry(2)})));
    ok(s->update_files(uid(2), files(b, true, {entry(2)})));
    CHECK(s->sweep().users == 0);
    clock.now += kTtlMs / 2;
    ok(s->heartbeat(uid(2), b));
    clock.now += kTtlMs / 2 + 1;
    const auto r = s->sweep();
    CHECK(r.users == 1);
    CHECK(r.holdings == 2);
    CHECK(r.files == 1);  // file 1 had only uid(1); file 2 is still held by uid(2)
    const auto st = s->stats();
    CHECK(st.users == 1);
    CHECK(st.holdings == 1);
    CHECK(st.files == 1);
    CHECK_FALSE(s->token_of(uid(1)));
    // Swept in steps.
    for (std::uint32_t n = 10; n < 35; ++n)
        join(*s, n);
    clock.now += kTtlMs + 1;
    CHECK(s->sweep(10).users == 10);
    CHECK(s->sweep(10).users == 10);
    CHECK(s->sweep(10).users == 6);  // the last 5 and uid(2)
    CHECK(s->sweep(10).users == 0);
    CHECK(s->stats().files == 0);
}

TEST_CASE("store: holdings, in full and as changes") {
    Clock clock;
    auto s = open_store(clock);
    const Token t = join(*s, 1);
    auto r = ok(s->update_files(uid(1), files(t, true, {entry(1), entry(2, false), entry(3)})));
    CHECK(r.need_seed == std::vector<SeedId>{sid(1), sid(2), sid(3)});
    CHECK(s->stats().holdings == 3);
    // A change: 2 becomes complete, 3 goes, 4 comes.
    r = ok(s->update_files(uid(1), files(t, false, {entry(2, true), entry(4)}, {sid(3)})));
    CHECK(r.need_seed == std::vector<SeedId>{sid(2), sid(4)});
    auto listed = s->list_files(std::nullopt, 100);
    CHECK(listed.files.size() == 3);  // 3 had no other holder: gone
    CHECK_FALSE(find_file(listed, sid(3)));
    CHECK(find_file(listed, sid(2))->complete_holders == 1);
    // Removing something not held is harmless.
    ok(s->update_files(uid(1), files(t, false, {}, {sid(99)})));
    // The full list replaces everything.
    ok(s->update_files(uid(1), files(t, true, {entry(5)})));
    listed = s->list_files(std::nullopt, 100);
    REQUIRE(listed.files.size() == 1);
    CHECK(listed.files[0].id == sid(5));
    CHECK(listed.files[0].name == "file5");
    CHECK(listed.files[0].length == 1005);
    CHECK(s->stats().holdings == 1);
    // An empty full list.
    ok(s->update_files(uid(1), files(t, true, {})));
    CHECK(s->stats().files == 0);
}

TEST_CASE("store: a peer may hold at most kMaxFilesPerPeer files") {
    Clock clock;
    auto s = open_store(clock);
    const Token t = join(*s, 1);
    std::vector<proto::FileEntry> all;
    for (std::uint32_t n = 0; n < limits::kMaxFilesPerPeer; ++n)
        all.push_back(entry(n));
    ok(s->update_files(uid(1), files(t, true, all)));
    CHECK(s->stats().holdings == limits::kMaxFilesPerPeer);
    const auto over = s->update_files(uid(1), files(t, false, {entry(70000)}, {}));
    CHECK(refused(over) == proto::ErrorCode::kLimit);
    CHECK(s->stats().holdings == limits::kMaxFilesPerPeer);  // nothing changed
    CHECK_FALSE(find_file(s->list_files(sid(69999), 10), sid(70000)));
    // Swapping one for another is fine.
    ok(s->update_files(uid(1), files(t, false, {entry(70000)}, {sid(0)})));
}

TEST_CASE("store: seed texts are checked against the holdings and served by id") {
    Clock clock;
    auto s = open_store(clock);
    const Seed seed = make_seed("movie.mkv", 3);
    const std::string text = format_seed(seed);
    const SeedId id = seed.id();
    const Token t = join(*s, 1);
    // Claimed with another name and length: the seed text will win.
    auto r = ok(s->update_files(uid(1), files(t, true, {{id, "wrong-name", 5, true}})));
    CHECK(r.need_seed == std::vector<SeedId>{id});
    CHECK_FALSE(s->get_seed(id));

    CHECK(refused(s->put_seed(uid(1), t, "not a seed\n")) == proto::ErrorCode::kSeedMismatch);
    CHECK(refused(s->put_seed(uid(1), t, format_seed(make_seed("other", 4)))) ==
          proto::ErrorCode::kSeedMismatch);  // parses, but is not held
    Token wrong = t;
    wrong.bytes[0] ^= 1;
    CHECK(refused(s->put_seed(uid(1), wrong, text)) == proto::ErrorCode::kUnknownPeer);
    CHECK_FALSE(s->get_seed(id));

    ok(s->put_seed(uid(1), t, text));
    REQUIRE(s->get_seed(id));
    CHECK(*s->get_seed(id) == text);
    const auto f = find_file(s->list_files(std::nullopt, 10), id);
    REQUIRE(f);
    CHECK(f->name == "movie.mkv");
    CHECK(f->length == 100);

    // Another holder is not asked for it again.
    const Token t2 = join(*s, 2);
    CHECK(ok(s->update_files(uid(2), files(t2, true, {{id, "movie.mkv", 100, false}})))
              .need_seed.empty());
    // The first text stays.
    ok(s->put_seed(uid(2), t2, text));
    CHECK(*s->get_seed(id) == text);
    CHECK_FALSE(s->get_seed(sid(42)));
}

TEST_CASE("store: get_peers is a random subset of live serving holders, never the asker") {
    Clock clock;
    auto s = open_store(clock);
    constexpr std::uint32_t kHolders = 300;
    for (std::uint32_t n = 0; n < kHolders; ++n) {
        const Token t = join(*s, n, static_cast<std::uint16_t>(n == 7 ? 0 : 5000 + n));
        ok(s->update_files(uid(n), files(t, true, {entry(1, n % 2 == 0)})));
    }
    std::set<UserId> seen;
    for (int round = 0; round < 200; ++round) {
        const auto p = s->get_peers(sid(1), uid(3), 50);
        CHECK(p.id == sid(1));
        REQUIRE(p.peers.size() == 50);
        const auto users = users_of(p);
        CHECK(users.size() == 50);  // distinct
        CHECK(users.count(uid(3)) == 0);
        CHECK(users.count(uid(7)) == 0);  // port 0: does not serve
        for (const auto& e : p.peers) {
            CHECK(e.port != 0);
            CHECK(e.complete == (e.user.bytes[2] % 2 == 0));
        }
        seen.insert(users.begin(), users.end());
    }
    CHECK(seen.size() == kHolders - 2);  // every other holder shows up sometime
    // Asking for more than there are gives all of them.
    CHECK(s->get_peers(sid(1), uid(3), 200).peers.size() == 200);
    CHECK(s->get_peers(sid(2), uid(3), 50).peers.empty());
    const Token lone = join(*s, 1000);
    ok(s->update_files(uid(1000), files(lone, true, {entry(9)})));
    CHECK(s->get_peers(sid(9), uid(1000), 50).peers.empty());  // only the asker holds it
    CHECK(s->get_peers(sid(9), uid(1), 50).peers.size() == 1);
}

TEST_CASE("store: leave forgets the peer at once") {
    Clock clock;
    auto s = open_store(clock);
    const Token t = join(*s, 1);
    ok(s->update_files(uid(1), files(t, true, {entry(1)})));
    Token wrong = t;
    wrong.bytes[9] ^= 2;
    CHECK(refused(s->leave(uid(1), wrong)) == proto::ErrorCode::kUnknownPeer);
    CHECK(s->get_peers(sid(1), uid(2), 50).peers.size() == 1);
    ok(s->leave(uid(1), t));
    CHECK(s->get_peers(sid(1), uid(2), 50).peers.empty());
    CHECK(s->stats().users == 0);
    CHECK(s->stats().files == 0);
    CHECK(refused(s->heartbeat(uid(1), t)) == proto::ErrorCode::kUnknownPeer);
    CHECK(ok(s->join(uid(1), Token{}, ip("10.0.0.1"), 1)).token != t);
}

TEST_CASE("store: list_files pages in id order") {
    Clock clock;
    auto s = open_store(clock);
    const Token t = join(*s, 1);
    std::vector<proto::FileEntry> all;
    for (std::uint32_t n = 0; n < 2500; ++n)
        all.push_back(entry(n));
    ok(s->update_files(uid(1), files(t, true, all)));
    std::vector<SeedId> ids;
    std::optional<SeedId> after;
    int pages = 0;
    while (true) {
        const auto page = s->list_files(after, limits::kMaxListFilesPage);
        ++pages;
        for (const auto& f : page.files)
            ids.push_back(f.id);
        if (!page.more) break;
        REQUIRE(pages < 10);
        after = page.files.back().id;
    }
    CHECK(pages == 3);
    CHECK(ids.size() == 2500);
    CHECK(std::is_sorted(ids.begin(), ids.end()));
    CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
    CHECK(s->list_files(std::nullopt, 1000).more);
    CHECK_FALSE(s->list_files(ids[1499], 1000).more);  // exactly the last 1000
}

TEST_CASE("store: writes are batched until flush") {
    Clock clock;
    auto s = open_store(clock);
    CHECK_FALSE(s->has_pending());
    const Token t = join(*s, 1);
    CHECK(s->has_pending());
    CHECK(s->is_live(uid(1), t));  // readable before the commit
    s->flush();
    CHECK_FALSE(s->has_pending());
    s->flush();  // harmless when nothing is pending
}

TEST_CASE("store: a restart answers from the database and keeps tokens") {
    test::TempDir dir;
    const std::string path = (dir / "tracker.db").string();
    Clock clock;
    const Seed seed = make_seed("kept.bin", 9);
    Token t1;
    Token t2;
    {
        auto s = open_store(clock, path);
        t1 = join(*s, 1);
        t2 = join(*s, 2);
        ok(s->update_files(uid(1), files(t1, true, {{seed.id(), "kept.bin", 100, true}})));
        ok(s->put_seed(uid(1), t1, format_seed(seed)));
        // No flush: closing the store commits the batch.
    }
    clock.now += 1000;
    {
        auto s = open_store(clock, path);
        CHECK(s->is_live(uid(1), t1));
        const auto p = s->get_peers(seed.id(), uid(2), 50);
        REQUIRE(p.peers.size() == 1);
        CHECK(p.peers[0].user == uid(1));
        CHECK(*s->get_seed(seed.id()) == format_seed(seed));
        // Peers that come back with their token keep it.
        const auto back = ok(s->join(uid(2), t2, ip("10.0.0.2"), 4000));
        CHECK(back.kept_token);
        CHECK(back.token == t2);
        ok(s->heartbeat(uid(1), t1));
        s->flush();
    }
    // Long after: everyone expired, but tokens presented are still honoured
    // until the sweep.
    clock.now += 5 * kTtlMs;
    {
        auto s = open_store(clock, path);
        CHECK(s->get_peers(seed.id(), uid(2), 50).peers.empty());
        CHECK(s->list_files(std::nullopt, 10).files.at(0).holders == 0);
        CHECK(ok(s->join(uid(1), t1, ip("10.0.0.1"), 4000)).token == t1);
        CHECK(s->sweep().users == 1);  // uid(2)
    }
}

TEST_CASE("store: heartbeats are kept in memory and reach the table by close") {
    test::TempDir dir;
    const std::string path = (dir / "hb.db").string();
    Clock clock;
    Token t;
    {
        auto s = open_store(clock, path);
        t = join(*s, 1);
        s->flush();
        clock.now += kTtlMs / 2;
        ok(s->heartbeat(uid(1), t));
        CHECK_FALSE(s->has_pending());  // no SQL for a heartbeat
    }                                   // closing writes every last_seen
    clock.now += kTtlMs / 2 + 10;       // past the join's TTL, within the heartbeat's
    auto s = open_store(clock, path);
    CHECK(s->is_live(uid(1), t));
    CHECK(s->sweep().users == 0);
    clock.now += kTtlMs;
    CHECK_FALSE(s->is_live(uid(1), t));
    CHECK(s->sweep().users == 1);
    CHECK_FALSE(s->token_of(uid(1)));
}

TEST_CASE("store: refuses foreign, newer and busy databases") {
    test::TempDir dir;
    Clock clock;
    const auto open_error = [&](const std::string& path) {
        auto s = Store::open(path, clock.fn(), std::chrono::milliseconds(kTtlMs));
        REQUIRE_FALSE(s);
        return s.error().message;
    };
    test::write_file(dir / "text", "hello, I am not a database\n");
    CHECK(open_error((dir / "text").string()).find("not a database") != std::string::npos);

    {  // a SQLite database of something else
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open((dir / "other.db").string().c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db, "CREATE TABLE t (x)", nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    CHECK(open_error((dir / "other.db").string()).find("not a seedshare tracker database") !=
          std::string::npos);

    const std::string path = (dir / "t.db").string();
    { open_store(clock, path); }
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
        REQUIRE(sqlite3_exec(db, "PRAGMA user_version = 2", nullptr, nullptr, nullptr) ==
                SQLITE_OK);
        sqlite3_close(db);
    }
    const auto newer = open_error(path);
    CHECK(newer.find("schema version 2, newer than this tracker's 1") != std::string::npos);

    const std::string busy = (dir / "busy.db").string();
    auto first = open_store(clock, busy);
    CHECK(open_error(busy).find("locked") != std::string::npos);
    CHECK(open_error((dir / "no" / "such" / "dir.db").string()).find("cannot open") !=
          std::string::npos);
}
