// The etcd registry's pure parts: the local peer table (applying listings and
// watch events, answering from memory) and the watch stream's reading and
// decisions. No etcd here (test/etcd_registry_test.cpp runs the shell).
#include <doctest/doctest.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <map>
#include <set>

#include "test/registry_suite_support.hpp"
#include "tracker/etcd/client.hpp"
#include "tracker/etcd/peer_table.hpp"
#include "tracker/etcd/watch_stream.hpp"

namespace etcd_table_test {

using namespace seedshare;
using namespace seedshare::tracker;
using namespace seedshare::tracker::etcd;
using registry_test::sid;
using registry_test::uid;

namespace {

const std::string kPrefix = "/seedshare/x/";
constexpr std::int64_t kTtl = 1000;

Token token(std::uint8_t n) {
    Token t;
    t.bytes[0] = n;
    t.bytes[15] = 1;
    return t;
}

WatchEvent put(const std::string& key, const std::string& value, std::int64_t rev) {
    return WatchEvent{true, kPrefix + key, value, rev};
}
WatchEvent del(const std::string& key, std::int64_t rev) {
    return WatchEvent{false, kPrefix + key, "", rev};
}

std::string record(std::uint8_t tok, std::uint16_t port = 4000) {
    return nlohmann::json{{"t", token(tok).hex()}, {"a", "10.0.0.1"}, {"p", port}, {"l", "77"}}
        .dump();
}
std::string seen(std::int64_t ms) {
    return fmt::format("{:016d}", ms);
}

// A peer n: record, last seen, holding seed 1 (complete) at revision rev.
void add_peer(PeerTable& t, std::uint32_t n, std::int64_t rev, std::int64_t at,
              std::uint16_t port = 4000) {
    t.apply(put("u/" + uid(n).hex(), record(static_cast<std::uint8_t>(n), port), rev));
    t.apply(put("s/" + uid(n).hex(), seen(at), rev));
    t.apply(put("h/" + sid(1).hex() + "/" + uid(n).hex(), "1", rev));
    t.advance(rev);
}

std::set<UserId> users(const std::vector<Holder>& hs) {
    std::set<UserId> out;
    for (const auto& h : hs)
        out.insert(h.user);
    return out;
}

}  // namespace

TEST_CASE("peer table: holders are the live serving peers, never the asker, at most want") {
    PeerTable t(kPrefix);
    std::mt19937_64 rng(1);
    for (std::uint32_t n = 1; n <= 5; ++n)
        add_peer(t, n, static_cast<std::int64_t>(n) + 1, 10'000);
    add_peer(t, 6, 10, 10'000, 0);  // does not serve
    add_peer(t, 7, 11, 5'000);      // silent for longer than the TTL
    CHECK(users(t.holders(sid(1), uid(1), 50, 10'500, kTtl, rng)) ==
          std::set<UserId>{uid(2), uid(3), uid(4), uid(5)});
    CHECK(t.holders(sid(1), uid(1), 2, 10'500, kTtl, rng).size() == 2);
    CHECK(t.holders(sid(2), uid(1), 50, 10'500, kTtl, rng).empty());
    // Past the TTL of everyone: no one.
    CHECK(t.holders(sid(1), uid(9), 50, 11'001, kTtl, rng).empty());
    // A heartbeat answered here keeps one live (its record's revision only).
    t.touch(uid(2), t.peer(uid(2))->mod, 11'000);
    t.touch(uid(3), t.peer(uid(3))->mod + 1, 11'000);
    CHECK(users(t.holders(sid(1), uid(9), 50, 11'001, kTtl, rng)) == std::set<UserId>{uid(2)});
    const auto c = t.counts(10'500, kTtl);
    CHECK(c.users == 7);
    CHECK(c.live_users == 6);
    CHECK(c.holdings == 7);
}

TEST_CASE("peer table: deletes, stale events and a relisting") {
    PeerTable t(kPrefix);
    std::mt19937_64 rng(2);
    add_peer(t, 1, 5, 10'000);
    add_peer(t, 2, 6, 10'000);
    CHECK(t.revision() == 6);
    // Peer 1 leaves at revision 7: its holding, record and last seen go.
    t.apply(del("h/" + sid(1).hex() + "/" + uid(1).hex(), 7));
    t.apply(del("u/" + uid(1).hex(), 7));
    t.apply(del("s/" + uid(1).hex(), 7));
    t.advance(7);
    CHECK(t.peer(uid(1)) == nullptr);
    // A resumed watch repeats an event already applied: ignored.
    t.apply(put("u/" + uid(1).hex(), record(1), 5));
    CHECK(t.peer(uid(1)) == nullptr);
    CHECK(users(t.holders(sid(1), uid(9), 50, 10'000, kTtl, rng)) == std::set<UserId>{uid(2)});
    // Keys the table does not keep, and malformed values, change nothing else.
    t.apply(put("sd/" + sid(1).hex(), "=text", 8));
    t.apply(put("u/" + uid(3).hex(), "not json", 9));
    t.apply(put("s/" + uid(2).hex(), "12x", 9));
    t.advance(9);
    CHECK(t.malformed() == 2);
    CHECK(t.peer(uid(3)) == nullptr);
    CHECK(t.peer(uid(2))->seen == 10'000);
    // A relisting replaces everything, whatever the revisions in it.
    t.reset({put("u/" + uid(4).hex(), record(4), 3), put("s/" + uid(4).hex(), seen(10'000), 2),
             put("h/" + sid(1).hex() + "/" + uid(4).hex(), "0", 3)},
            20);
    CHECK(t.revision() == 20);
    const auto hs = t.holders(sid(1), uid(9), 50, 10'000, kTtl, rng);
    REQUIRE(hs.size() == 1);
    CHECK(hs[0].user == uid(4));
    CHECK_FALSE(hs[0].complete);
    CHECK(t.peer(uid(4))->token == token(4));
}

TEST_CASE("peer table: files, heads and followers, paged, with live counts") {
    PeerTable t(kPrefix);
    std::mt19937_64 rng(3);
    add_peer(t, 1, 2, 10'000);
    add_peer(t, 2, 3, 5'000);  // expired at 10'000
    t.apply(put("f/" + sid(1).hex(), R"({"n":"a","l":5,"s":true})", 4));
    t.apply(put("f/" + sid(2).hex(), R"({"n":"b","l":6,"s":false})", 4));
    ChannelId ch;
    ch.bytes[0] = 9;
    t.apply(put("c/" + ch.hex(), "{head}", 5));
    t.apply(put("fo/" + ch.hex() + "/" + uid(1).hex(), "3", 5));
    t.apply(put("fo/" + ch.hex() + "/" + uid(2).hex(), "2", 5));
    t.advance(5);
    const auto page = t.files(std::nullopt, 1, 10'000, kTtl);
    REQUIRE(page.files.size() == 1);
    CHECK(page.more);
    CHECK(page.files[0].id == sid(1));
    CHECK(page.files[0].holders == 1);
    CHECK(page.files[0].complete_holders == 1);
    const auto rest = t.files(sid(1), 10, 10'000, kTtl);
    REQUIRE(rest.files.size() == 1);
    CHECK_FALSE(rest.more);
    CHECK(rest.files[0].name == "b");
    bool more = true;
    const auto heads = t.heads(std::nullopt, 10, more, 10'000, kTtl);
    REQUIRE(heads.size() == 1);
    CHECK_FALSE(more);
    CHECK(heads[0].value == "{head}");
    CHECK(heads[0].followers == 1);
    const auto fs = t.followers(ch, uid(9), 50, 10'000, kTtl, rng);
    REQUIRE(fs.size() == 1);
    CHECK(fs[0].version == 3);
    CHECK(t.expired(10'000, kTtl, 10) == std::vector<UserId>{uid(2)});
    const auto c = t.counts(10'000, kTtl);
    CHECK(c.files == 2);
    CHECK(c.seeds == 1);
    CHECK(c.channels == 1);
    CHECK(c.follows == 2);
}

TEST_CASE("peer table: holders are drawn about equally") {
    PeerTable t(kPrefix);
    std::mt19937_64 rng(4);
    for (std::uint32_t n = 1; n <= 10; ++n)
        add_peer(t, n, n + 1, 10'000);
    std::map<UserId, int> drawn;
    for (int i = 0; i < 1000; ++i)
        for (const auto& h : t.holders(sid(1), uid(99), 1, 10'000, kTtl, rng))
            ++drawn[h.user];
    CHECK(drawn.size() == 10);
    for (const auto& [u, n] : drawn)
        CHECK(n > 50);  // 100 expected each
}

TEST_CASE("watch stream: lines are cut at newlines, bounded") {
    StreamLines lines(16);
    CHECK(lines.append("{\"a\":1}\n{\"b\""));
    CHECK(lines.next() == "{\"a\":1}");
    CHECK_FALSE(lines.next().has_value());
    CHECK(lines.append(":2}\n"));
    CHECK(lines.next() == "{\"b\":2}");
    CHECK_FALSE(lines.next().has_value());
    CHECK_FALSE(lines.append(std::string(17, 'x')));  // a line past the bound
}

TEST_CASE("watch stream: messages, events and what to do next") {
    const auto b = [](const std::string& s) { return base64(s); };
    const std::string created = R"({"result":{"header":{"revision":"7"},"created":true}})";
    auto m = parse_watch_message(created);
    REQUIRE(m);
    CHECK(m->created);
    CHECK(m->header_revision == 7);
    CHECK(next_step(*m) == WatchStep::kApply);

    const std::string events = R"({"result":{"header":{"revision":"9"},"events":[{"kv":{"key":")" +
                               b("/k/a") + R"(","mod_revision":"8","value":")" + b("v") +
                               R"("}},{"type":"DELETE","kv":{"key":")" + b("/k/b") +
                               R"(","mod_revision":"9"}}]}})";
    m = parse_watch_message(events);
    REQUIRE(m);
    REQUIRE(m->events.size() == 2);
    CHECK(m->events[0].put);
    CHECK(m->events[0].key == "/k/a");
    CHECK(m->events[0].value == "v");
    CHECK(m->events[0].mod_revision == 8);
    CHECK_FALSE(m->events[1].put);
    CHECK(m->events[1].mod_revision == 9);

    m = parse_watch_message(R"({"result":{"header":{},"canceled":true,"compact_revision":"3"}})");
    REQUIRE(m);
    CHECK(next_step(*m) == WatchStep::kRelist);
    m = parse_watch_message(R"({"result":{"header":{},"canceled":true}})");
    REQUIRE(m);
    CHECK(next_step(*m) == WatchStep::kRestart);
    m = parse_watch_message(R"({"error":{"grpc_code":14,"message":"unavailable"}})");
    REQUIRE(m);
    CHECK(next_step(*m) == WatchStep::kRestart);

    // Not a watch answer: refused, never thrown.
    CHECK_FALSE(parse_watch_message("nonsense"));
    CHECK_FALSE(parse_watch_message("[]"));
    CHECK_FALSE(parse_watch_message(R"({"result":{"events":{}}})"));
    CHECK_FALSE(parse_watch_message(R"({"result":{"events":[{"type":"NOPE","kv":{}}]}})"));
    CHECK_FALSE(parse_watch_message(R"({"result":{"events":[{"kv":{"key":"%%%"}}]}})"));
    CHECK_FALSE(parse_watch_message(R"({"result":{"events":[{"nokv":1}]}})"));
}

TEST_CASE("etcd txns: nested txns count against --max-txn-ops as etcd counts them") {
    using nlohmann::json;
    const json put = op::put("k", "v");
    const json one = op::txn(json::array({op::mod_is("k", 0)}), json::array({put}));
    const json wide = op::txn(json::array(), json::array({put, put, put}));
    const json deep = op::txn(json::array({op::mod_is("k", 0)}), json::array({wide}));
    CHECK(op::budget_of(put) == 0);
    CHECK(op::budget_of(op::del("k")) == 0);
    CHECK(op::budget_of(one) == 1);
    CHECK(op::budget_of(wide) == 3);
    CHECK(op::budget_of(deep) == 4);  // its width 1, plus the 3 its child needs
    // Plain operations: the whole budget; nested ones leave room for the widest.
    CHECK(op::ops_per_txn(128, {put, put}) == 128);
    CHECK(op::ops_per_txn(128, {put, one, put}) == 127);
    CHECK(op::ops_per_txn(128, {one, deep}) == 124);
    CHECK(op::ops_per_txn(3, {deep}) == 1);  // never 0
}

}  // namespace etcd_table_test
