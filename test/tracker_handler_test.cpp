// The tracker's protocol rules without sockets and without SQLite: the
// Handler on a scripted in-memory Registry. Join first, version and token
// checks, each registry refusal mapped to its wire code (and whether it ends
// the connection), a failing registry answered with Internal, and the domain
// results mapped to the wire messages.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "common/core/limits.hpp"
#include "tracker/core/handler.hpp"

namespace tracker_handler_test {

using namespace seedshare;
using namespace seedshare::tracker;
namespace proto = seedshare::tracker_proto;

namespace {

// Answers what it is told to, and records what it was asked.
class ScriptedRegistry final : public Registry {
  public:
    std::optional<RegistryError> refuse;  // the next write's refusal, if any
    bool fail = false;                    // throw RegistryFailure from every call
    Token issued;
    std::optional<bool> joined_as_backup;  // what the last join said
    std::vector<Holder> holders;
    FilePage page;
    std::optional<std::string> seed_text;
    std::vector<Follower> followers;
    ChannelPage channel_page;
    std::optional<std::string> manifest_text;
    ManifestStored stored = ManifestStored::kNewHead;
    // What the handler passed.
    std::optional<FollowChanges> follows;
    std::optional<ChannelId> channels_after;
    std::optional<ManifestSummary> put_summary;
    std::optional<std::string> put_error;  // the checker's error, when it refused
    std::optional<FileChanges> changes;
    std::optional<SeedId> after;
    std::size_t limit = 0;
    std::uint16_t numwant = 0;
    UserId asker;
    int calls = 0;
    // What it answers without waiting on I/O (handle_now).
    bool memory_reads = false;
    std::optional<RegistryResult<Done>> memory_heartbeat;

    std::chrono::milliseconds ttl() const override { return std::chrono::milliseconds(90'000); }
    void set_ttl(std::chrono::milliseconds) override {}

    RegistryResult<JoinResult> join(const UserId&, const Token&, const asio::ip::address&,
                                    std::uint16_t, bool backup = false) override {
        step();
        joined_as_backup = backup;
        if (refuse) return *refuse;
        return JoinResult{issued, false};
    }
    RegistryResult<Done> heartbeat(const UserId&, const Token&) override { return done(); }
    RegistryResult<FilesUpdated> update_files(const UserId&, const Token&,
                                              const FileChanges& c) override {
        step();
        changes = c;
        if (refuse) return *refuse;
        FilesUpdated out;
        for (const auto& f : c.add)
            out.need_seed.push_back(f.id);
        return out;
    }
    using Registry::put_seed;
    RegistryResult<Done> put_seed(const UserId&, const Token&, std::string_view,
                                  const Result<ParsedSeed>&) override {
        return done();
    }
    RegistryResult<Done> leave(const UserId&, const Token&) override { return done(); }
    std::vector<Holder> get_peers(const SeedId&, const UserId& a, std::uint16_t n) override {
        step();
        asker = a;
        numwant = n;
        return holders;
    }
    FilePage list_files(const std::optional<SeedId>& a, std::size_t l) override {
        step();
        after = a;
        limit = l;
        return page;
    }
    std::optional<std::string> get_seed(const SeedId&) override {
        step();
        return seed_text;
    }
    RegistryResult<Done> follow_channels(const UserId&, const Token&,
                                         const FollowChanges& c) override {
        follows = c;
        return done();
    }
    using Registry::put_manifest;
    RegistryResult<ManifestStored> put_manifest(const UserId&, const Token&, std::string_view,
                                                const Result<ManifestSummary>& checked) override {
        step();
        if (checked)
            put_summary = *checked;
        else
            put_error = checked.error().message;
        if (refuse) return *refuse;
        return stored;
    }
    std::optional<std::string> get_manifest(const ChannelId&) override {
        step();
        return manifest_text;
    }
    std::vector<Follower> channel_peers(const ChannelId&, const UserId& a,
                                        std::uint16_t n) override {
        step();
        asker = a;
        numwant = n;
        return followers;
    }
    ChannelPage list_channels(const std::optional<ChannelId>& a, std::size_t l) override {
        step();
        channels_after = a;
        limit = l;
        return channel_page;
    }
    bool is_live(const UserId&, const Token&) override { return true; }
    std::optional<Token> token_of(const UserId&) override { return issued; }
    SweepResult sweep(std::size_t) override { return {}; }
    void flush() override {}
    void close() override {}
    RegistryStats stats() override { return {}; }
    bool reads_from_memory() const override { return memory_reads; }
    std::optional<RegistryResult<Done>> heartbeat_from_memory(const UserId&,
                                                              const Token&) override {
        if (memory_heartbeat) step();
        return memory_heartbeat;
    }

  private:
    void step() {
        ++calls;
        if (fail) throw RegistryFailure("disk I/O error");
    }
    RegistryResult<Done> done() {
        step();
        if (refuse) return *refuse;
        return Done{};
    }
};

UserId user_id(std::uint8_t n) {
    UserId u;
    u.bytes[0] = n;
    u.bytes[15] = 1;
    return u;
}

SeedId seed_id(std::uint8_t n) {
    SeedId s;
    s.bytes[0] = n;
    return s;
}

ChannelId channel_id(std::uint8_t n) {
    ChannelId c;
    c.bytes[0] = n;
    c.bytes[31] = 5;
    return c;
}

struct Fixture {
    ScriptedRegistry registry;
    Handler handler{registry};
    Connection conn{asio::ip::make_address("10.1.2.3"), std::nullopt, Token{}};

    Fixture() { registry.issued.bytes[3] = 42; }

    Outcome join() {
        proto::Join j;
        j.user = user_id(1);
        j.port = 4000;
        auto out = handler.handle(conn, j);
        REQUIRE(std::holds_alternative<proto::Joined>(out.response));
        return out;
    }
};

const proto::ErrorReply& error_of(const Outcome& o) {
    const auto* e = std::get_if<proto::ErrorReply>(&o.response);
    REQUIRE_MESSAGE(e != nullptr, "expected an error reply");
    return *e;
}

}  // namespace

TEST_CASE("handler: a request before Join is refused and ends the connection") {
    Fixture f;
    const auto out = f.handler.handle(f.conn, proto::Heartbeat{});
    CHECK(error_of(out).code == proto::ErrorCode::kJoinFirst);
    CHECK(out.close);
    CHECK(f.registry.calls == 0);
}

TEST_CASE("handler: Join with another version is refused before the registry is asked") {
    Fixture f;
    proto::Join j;
    j.version = proto::kVersion + 1;
    const auto out = f.handler.handle(f.conn, j);
    CHECK(error_of(out).code == proto::ErrorCode::kVersionMismatch);
    CHECK(out.close);
    CHECK(f.registry.calls == 0);
    CHECK_FALSE(f.conn.joined());
}

TEST_CASE("handler: Join answers the registry's token, the intervals and the observed address") {
    Fixture f;
    const auto out = f.join();
    CHECK_FALSE(out.close);
    const auto& joined = std::get<proto::Joined>(out.response);
    CHECK(joined.token == f.registry.issued);
    CHECK(joined.ttl_ms == 90'000);
    CHECK(joined.heartbeat_ms == 30'000);
    CHECK(joined.observed == asio::ip::make_address("10.1.2.3"));
    CHECK(f.conn.joined());
    CHECK(f.conn.token == f.registry.issued);

    SUBCASE("a second Join is malformed") {
        const auto again = f.handler.handle(f.conn, proto::Join{});
        CHECK(error_of(again).code == proto::ErrorCode::kMalformed);
        CHECK(again.close);
    }
    SUBCASE("a request with another token is refused and ends the connection") {
        proto::Heartbeat h;
        h.token = f.registry.issued;
        h.token.bytes[0] ^= 1;
        const auto bad = f.handler.handle(f.conn, h);
        CHECK(error_of(bad).code == proto::ErrorCode::kBadToken);
        CHECK(bad.close);
    }
}

TEST_CASE("handler: a Join's backup flag reaches the registry") {
    Fixture f;
    f.join();
    CHECK(f.registry.joined_as_backup == false);
    Fixture b;
    proto::Join j;
    j.user = user_id(2);
    j.port = 4000;
    j.backup = true;
    const auto out = b.handler.handle(b.conn, j);
    REQUIRE(std::holds_alternative<proto::Joined>(out.response));
    CHECK(b.registry.joined_as_backup == true);
}

TEST_CASE("handler: GetPeers marks backup peers only for a peer that joined reading roles") {
    const auto ask = [](bool reads_roles) {
        Fixture f;
        f.registry.holders = {
            Holder{asio::ip::make_address("10.0.0.7"), 7000, user_id(7), true, false},
            Holder{asio::ip::make_address("10.0.0.8"), 7001, user_id(8), true, true}};
        proto::Join j;
        j.user = user_id(1);
        j.port = 4000;
        j.reads_roles = reads_roles;
        const auto joined = f.handler.handle(f.conn, j);
        const auto t = std::get<proto::Joined>(joined.response).token;
        const auto out = f.handler.handle(f.conn, proto::GetPeers{t, seed_id(5), 12});
        const auto& p = std::get<proto::Peers>(out.response);
        REQUIRE(p.peers.size() == 2);
        CHECK_FALSE(p.peers[0].backup);
        return p.peers[1].backup;
    };
    CHECK(ask(true));
    // A peer that predates the flag refuses a Peers entry flags byte of 3.
    CHECK_FALSE(ask(false));
}

TEST_CASE("handler: a refused Join names the userid and leaves the connection unjoined") {
    Fixture f;
    f.registry.refuse = RegistryError::of(RegistryErrc::kUserIdInUse);
    proto::Join j;
    j.user = user_id(1);
    const auto out = f.handler.handle(f.conn, j);
    CHECK(error_of(out).code == proto::ErrorCode::kUserIdInUse);
    CHECK(error_of(out).message.find(uuid_string(j.user)) != std::string::npos);
    CHECK(out.close);
    CHECK_FALSE(f.conn.joined());
}

TEST_CASE("handler: each registry refusal has its wire code") {
    struct Case {
        RegistryError error;
        proto::Request request;
        proto::ErrorCode code;
        bool close;
        std::string says;
    };
    const Case cases[] = {
        {RegistryError::of(RegistryErrc::kUnknownPeer), proto::Heartbeat{},
         proto::ErrorCode::kUnknownPeer, true, "join again"},
        {RegistryError::too_many_files(70'001), proto::FileList{}, proto::ErrorCode::kLimit, false,
         "70001 files"},
        {RegistryError::seed_unparsable("line 1: no name"), proto::PutSeed{},
         proto::ErrorCode::kSeedMismatch, false, "line 1: no name"},
        {RegistryError::seed_not_held(seed_id(9)), proto::PutSeed{},
         proto::ErrorCode::kSeedMismatch, false, seed_id(9).hex()},
        {RegistryError::of(RegistryErrc::kUnknownPeer), proto::Leave{},
         proto::ErrorCode::kUnknownPeer, true, "join again"},
        {RegistryError::too_many_channels(1001), proto::FollowChannels{}, proto::ErrorCode::kLimit,
         false, "1001 channels"},
        {RegistryError::of(RegistryErrc::kUnknownPeer), proto::FollowChannels{},
         proto::ErrorCode::kUnknownPeer, true, "join again"},
        {RegistryError::manifest_invalid("line 3: bad signature"), proto::PutManifest{},
         proto::ErrorCode::kManifestRefused, false, "line 3: bad signature"},
        {RegistryError::about_manifest(RegistryErrc::kChannelNotFollowed, channel_id(4), 2),
         proto::PutManifest{}, proto::ErrorCode::kManifestRefused, false, channel_id(4).hex()},
        {RegistryError::about_manifest(RegistryErrc::kManifestStale, channel_id(4), 2, 5),
         proto::PutManifest{}, proto::ErrorCode::kManifestStale, false,
         "version 2 of channel " + channel_id(4).hex() + " is older than the tracker's 5"},
        {RegistryError::about_manifest(RegistryErrc::kManifestConflict, channel_id(4), 5, 5),
         proto::PutManifest{}, proto::ErrorCode::kManifestConflict, false, "tie-break"},
        {RegistryError::of(RegistryErrc::kUnknownPeer), proto::PutManifest{},
         proto::ErrorCode::kUnknownPeer, true, "join again"},
    };
    for (const auto& c : cases) {
        Fixture f;
        f.join();
        f.registry.refuse = c.error;
        proto::Request r = c.request;
        std::visit([&](auto& m) { m.token = f.registry.issued; }, r);
        const auto out = f.handler.handle(f.conn, r);
        CAPTURE(static_cast<int>(c.error.code));
        CHECK(error_of(out).code == c.code);
        CHECK(out.close == c.close);
        CHECK(error_of(out).message.find(c.says) != std::string::npos);
    }
}

TEST_CASE("handler: a failing registry is an Internal error that keeps the connection") {
    Fixture f;
    f.join();
    f.registry.fail = true;
    proto::GetPeers g;
    g.token = f.registry.issued;
    const auto out = f.handler.handle(f.conn, g);
    CHECK(error_of(out).code == proto::ErrorCode::kInternal);
    CHECK(error_of(out).message.find("disk I/O error") != std::string::npos);
    CHECK_FALSE(out.close);
    CHECK(f.conn.joined());
}

TEST_CASE("handler: domain results become wire messages") {
    Fixture f;
    f.join();
    const Token t = f.registry.issued;

    SUBCASE("FileList: the changes reach the registry, need_seed comes back") {
        proto::FileList l;
        l.token = t;
        l.replace_all = true;
        l.add = {proto::FileEntry{seed_id(1), "a.bin", 10, true},
                 proto::FileEntry{seed_id(2), "b.bin", 20, false}};
        l.remove = {seed_id(3)};
        const auto out = f.handler.handle(f.conn, l);
        REQUIRE(f.registry.changes.has_value());
        CHECK(f.registry.changes->replace_all);
        REQUIRE(f.registry.changes->add.size() == 2);
        CHECK(f.registry.changes->add[1].name == "b.bin");
        CHECK(f.registry.changes->add[1].length == 20);
        CHECK_FALSE(f.registry.changes->add[1].complete);
        CHECK(f.registry.changes->remove == std::vector<SeedId>{seed_id(3)});
        CHECK(std::get<proto::FileListOk>(out.response).need_seed ==
              std::vector<SeedId>{seed_id(1), seed_id(2)});
    }
    SUBCASE("GetPeers: the holders, under the asked id, never asked for by someone else") {
        f.registry.holders = {Holder{asio::ip::make_address("10.0.0.7"), 7000, user_id(7), true}};
        const auto out = f.handler.handle(f.conn, proto::GetPeers{t, seed_id(5), 12});
        CHECK(f.registry.asker == user_id(1));
        CHECK(f.registry.numwant == 12);
        const auto& p = std::get<proto::Peers>(out.response);
        CHECK(p.id == seed_id(5));
        CHECK(p.peers == std::vector<proto::PeerEntry>{proto::PeerEntry{
                             asio::ip::make_address("10.0.0.7"), 7000, user_id(7), true}});
    }
    SUBCASE("ListFiles: from the start, or after an id; the page comes back") {
        f.registry.page.files = {FileSummary{seed_id(2), "x", 5, 3, 1}};
        f.registry.page.more = true;
        auto out = f.handler.handle(f.conn, proto::ListFiles{t, true, seed_id(9), 10});
        CHECK_FALSE(f.registry.after.has_value());
        CHECK(f.registry.limit == 10);
        const auto& files = std::get<proto::Files>(out.response);
        CHECK(files.more);
        CHECK(files.files ==
              std::vector<proto::FileInfo>{proto::FileInfo{seed_id(2), "x", 5, 3, 1}});
        out = f.handler.handle(f.conn, proto::ListFiles{t, false, seed_id(9), 10});
        CHECK(f.registry.after == seed_id(9));
    }
    SUBCASE("GetSeed: the text, or UnknownSeed") {
        auto out = f.handler.handle(f.conn, proto::GetSeed{t, seed_id(4)});
        CHECK(error_of(out).code == proto::ErrorCode::kUnknownSeed);
        CHECK_FALSE(out.close);
        f.registry.seed_text = "seed text";
        out = f.handler.handle(f.conn, proto::GetSeed{t, seed_id(4)});
        CHECK(std::get<proto::SeedText>(out.response) == proto::SeedText{seed_id(4), "seed text"});
    }
    SUBCASE("Leave: Ok, then the connection ends unjoined") {
        const auto out = f.handler.handle(f.conn, proto::Leave{t});
        CHECK(std::holds_alternative<proto::OkReply>(out.response));
        CHECK(out.close);
        CHECK_FALSE(f.conn.joined());
    }
}

TEST_CASE("handler: handle_now answers only what needs no registry call that may wait") {
    Fixture f;
    SUBCASE("before Join: the rules refuse at once; a Join is left to handle()") {
        const auto early = f.handler.handle_now(f.conn, proto::Heartbeat{});
        REQUIRE(early.has_value());
        CHECK(error_of(*early).code == proto::ErrorCode::kJoinFirst);
        CHECK_FALSE(f.handler.handle_now(f.conn, proto::Join{}).has_value());
        CHECK(f.registry.calls == 0);
    }
    f.join();
    const Token t = f.registry.issued;
    const int joined_calls = f.registry.calls;
    SUBCASE("a registry that reads from disk or the network: nothing is answered now") {
        CHECK_FALSE(f.handler.handle_now(f.conn, proto::GetPeers{t, seed_id(5), 12}).has_value());
        CHECK_FALSE(f.handler.handle_now(f.conn, proto::ListFiles{t, true, {}, 10}).has_value());
        CHECK_FALSE(f.handler.handle_now(f.conn, proto::Heartbeat{t}).has_value());
        CHECK(f.registry.calls == joined_calls);
    }
    SUBCASE("a registry that reads from memory: reads now, writes and texts later") {
        f.registry.memory_reads = true;
        f.registry.holders = {Holder{asio::ip::make_address("10.0.0.7"), 7000, user_id(7), true}};
        const auto peers = f.handler.handle_now(f.conn, proto::GetPeers{t, seed_id(5), 12});
        REQUIRE(peers.has_value());
        CHECK(std::get<proto::Peers>(peers->response).peers.size() == 1);
        CHECK(f.registry.asker == user_id(1));
        CHECK(f.handler.handle_now(f.conn, proto::ListFiles{t, true, {}, 10}).has_value());
        CHECK(
            f.handler.handle_now(f.conn, proto::GetChannelPeers{t, channel_id(1), 5}).has_value());
        CHECK(f.handler.handle_now(f.conn, proto::ListChannels{t, true, {}, 5}).has_value());
        const int reads = f.registry.calls;
        CHECK_FALSE(f.handler.handle_now(f.conn, proto::GetSeed{t, seed_id(4)}).has_value());
        CHECK_FALSE(f.handler.handle_now(f.conn, proto::GetManifest{t, channel_id(1)}).has_value());
        proto::FileList l;
        l.token = t;
        CHECK_FALSE(f.handler.handle_now(f.conn, l).has_value());
        CHECK_FALSE(f.handler.handle_now(f.conn, proto::Leave{t}).has_value());
        CHECK(f.registry.calls == reads);
        CHECK(f.conn.joined());
    }
    SUBCASE("a heartbeat: now when the registry answers it from memory, its refusal too") {
        CHECK_FALSE(f.handler.handle_now(f.conn, proto::Heartbeat{t}).has_value());
        f.registry.memory_heartbeat = RegistryResult<Done>(Done{});
        auto out = f.handler.handle_now(f.conn, proto::Heartbeat{t});
        REQUIRE(out.has_value());
        CHECK(std::holds_alternative<proto::OkReply>(out->response));
        f.registry.memory_heartbeat =
            RegistryResult<Done>(RegistryError::of(RegistryErrc::kUnknownPeer));
        out = f.handler.handle_now(f.conn, proto::Heartbeat{t});
        REQUIRE(out.has_value());
        CHECK(error_of(*out).code == proto::ErrorCode::kUnknownPeer);
    }
    SUBCASE("another token: refused now, before any registry call") {
        f.registry.memory_reads = true;
        Token other = t;
        other.bytes[0] ^= 1;
        const auto bad = f.handler.handle_now(f.conn, proto::GetPeers{other, seed_id(5), 12});
        REQUIRE(bad.has_value());
        CHECK(error_of(*bad).code == proto::ErrorCode::kBadToken);
        CHECK(f.registry.calls == joined_calls);
    }
}

TEST_CASE("handler: channel requests reach the registry and come back as wire messages") {
    Fixture f;
    f.join();
    const Token t = f.registry.issued;

    SUBCASE("FollowChannels: the changes reach the registry; Ok") {
        proto::FollowChannels m;
        m.token = t;
        m.add = {{channel_id(1), 3}, {channel_id(2), 0}};
        m.remove = {channel_id(3)};
        const auto out = f.handler.handle(f.conn, m);
        CHECK(std::holds_alternative<proto::OkReply>(out.response));
        REQUIRE(f.registry.follows);
        CHECK_FALSE(f.registry.follows->replace_all);
        REQUIRE(f.registry.follows->add.size() == 2);
        CHECK(f.registry.follows->add[0].channel == channel_id(1));
        CHECK(f.registry.follows->add[0].version == 3);
        CHECK(f.registry.follows->remove == std::vector<ChannelId>{channel_id(3)});
    }
    SUBCASE("PutManifest: checked here, or the check made off the I/O thread; Ok") {
        auto out = f.handler.handle(f.conn, proto::PutManifest{t, "not a manifest"});
        CHECK(std::holds_alternative<proto::OkReply>(out.response));  // (scripted: no refusal)
        CHECK(f.registry.put_error);                                  // checked by the handler
        ManifestSummary m;
        m.channel = channel_id(8);
        m.version = 4;
        const Result<ManifestSummary> checked(m);
        f.registry.stored = ManifestStored::kAlreadyHead;
        out = f.handler.handle(f.conn, proto::PutManifest{t, "text"}, nullptr, &checked);
        CHECK(std::holds_alternative<proto::OkReply>(out.response));
        CHECK(f.registry.put_summary == m);
    }
    SUBCASE("GetManifest: the text under its channel, or UnknownChannel") {
        auto out = f.handler.handle(f.conn, proto::GetManifest{t, channel_id(4)});
        CHECK(error_of(out).code == proto::ErrorCode::kUnknownChannel);
        CHECK(error_of(out).message.find(channel_id(4).hex()) != std::string::npos);
        CHECK_FALSE(out.close);
        f.registry.manifest_text = "manifest";
        out = f.handler.handle(f.conn, proto::GetManifest{t, channel_id(4)});
        CHECK(std::get<proto::ManifestText>(out.response) ==
              proto::ManifestText{channel_id(4), "manifest"});
    }
    SUBCASE("GetChannelPeers: the followers and the versions they hold") {
        f.registry.followers = {Follower{asio::ip::make_address("10.0.0.7"), 7000, user_id(7), 12}};
        const auto out = f.handler.handle(f.conn, proto::GetChannelPeers{t, channel_id(5), 9});
        CHECK(f.registry.asker == user_id(1));
        CHECK(f.registry.numwant == 9);
        const auto& p = std::get<proto::ChannelPeers>(out.response);
        CHECK(p.channel == channel_id(5));
        CHECK(p.peers == std::vector<proto::ChannelPeerEntry>{proto::ChannelPeerEntry{
                             asio::ip::make_address("10.0.0.7"), 7000, user_id(7), 12}});
    }
    SUBCASE("ListChannels: from the start, or after an id; the page comes back") {
        ManifestSummary head;
        head.channel = channel_id(2);
        head.version = 6;
        head.name = "site";
        head.files = 3;
        head.size = 4096;
        f.registry.channel_page.channels = {ChannelSummary{head, 4}};
        f.registry.channel_page.more = true;
        auto out = f.handler.handle(f.conn, proto::ListChannels{t, true, channel_id(9), 10});
        CHECK_FALSE(f.registry.channels_after);
        CHECK(f.registry.limit == 10);
        const auto& c = std::get<proto::Channels>(out.response);
        CHECK(c.more);
        CHECK(c.channels == std::vector<proto::ChannelInfo>{
                                proto::ChannelInfo{channel_id(2), "site", 6, 3, 4096, 4}});
        out = f.handler.handle(f.conn, proto::ListChannels{t, false, channel_id(9), 10});
        CHECK(f.registry.channels_after == channel_id(9));
    }
}

TEST_CASE("registry rules: what a checked manifest does to the channel's head") {
    const auto v = [](std::uint64_t n, std::uint8_t body) {
        ManifestVersion m;
        m.number = n;
        m.body_hash.bytes[0] = body;
        return m;
    };
    CHECK(change_of_head(std::nullopt, v(1, 1)) == HeadChange::kReplace);
    CHECK(change_of_head(v(4, 1), v(5, 9)) == HeadChange::kReplace);
    CHECK(change_of_head(v(4, 1), v(4, 1)) == HeadChange::kAlreadyHead);
    CHECK(change_of_head(v(4, 1), v(3, 0)) == HeadChange::kStale);
    // One number, two bodies: the lower body hash wins, whichever came first.
    CHECK(change_of_head(v(4, 2), v(4, 1)) == HeadChange::kReplace);
    CHECK(change_of_head(v(4, 1), v(4, 2)) == HeadChange::kConflictLost);
    // A head known by its last chain id only (b, after a): a candidate that
    // extends it (a, b, c) is newer, not a fork decided at a against b.
    Digest a, b, c;
    a.bytes.fill(9);
    b.bytes.fill(1);
    c.bytes.fill(5);
    ManifestVersion partial = v(4, 1);
    partial.chain = {b};
    ManifestVersion extends = v(2, 3);
    extends.chain = {a, b, c};
    CHECK(change_of_head(partial, extends) == HeadChange::kReplace);
    ManifestVersion same_chain = v(5, 3);
    same_chain.chain = {a, b};
    CHECK(change_of_head(partial, same_chain) == HeadChange::kReplace);
    CHECK(change_of_head(partial, v(9, 3)) == HeadChange::kHandedOver);
}

}  // namespace tracker_handler_test
