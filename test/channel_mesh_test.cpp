// The channel mesh in one io_context: subscribers on 127.0.0.1 pass a new
// version on to each other, a forged manifest is refused and its sender
// banned, and nobody goes back to an older version. The manifests here are
// stand-ins: a version's body hash is the SHA-256 of its text, and the
// verifier checks exactly that (the real one checks a signed manifest).
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <map>

#include "common/crypto/sha256.hpp"
#include "common/model/seed.hpp"
#include "peer/channel/channel_mesh.hpp"
#include "peer/library/seed_maker.hpp"
#include "peer/storage/storage.hpp"
#include "peer/transfer/file_transfer.hpp"
#include "test/support/cluster.hpp"
#include "test/support/temp_dir.hpp"

namespace channel_mesh_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
using Outcome = VersionGossip::FetchOutcome;

namespace {

struct Text {
    VersionRef ref;
    std::shared_ptr<const std::string> text;
};

Text version(std::uint64_t n) {
    auto text = std::make_shared<const std::string>(fmt::format("manifest of version {}\n", n) +
                                                    std::string(n * 100'000, 'x'));
    return Text{VersionRef{n, sha256(*text), {}}, text};
}

// One member of the mesh: a peer and its ChannelMesh, with a verifier that
// accepts a text whose hash is the one asked for and that supersedes the
// held version.
struct Member {
    TestPeer peer;
    std::shared_ptr<ChannelMesh> mesh;
    std::vector<VersionRef> accepted;

    Member(asio::io_context& io, asio::thread_pool& pool, const std::string& name,
           const ChannelId& channel)
        : peer(io, pool, name) {
        ChannelMeshOptions o;
        o.tick = 50ms;
        o.fetch_timeout = 2s;
        mesh = ChannelMesh::create(
            *peer.node, channel,
            [this](VersionRef asked, std::shared_ptr<const std::string> text)
                -> net::awaitable<ChannelMesh::Verdict> {
                if (sha256(*text) != asked.body_hash)
                    co_return ChannelMesh::Verdict{Outcome::kForged, "body hash differs"};
                if (!supersedes(asked, mesh->held()))
                    co_return ChannelMesh::Verdict{Outcome::kStale, {}};
                accepted.push_back(asked);
                co_return ChannelMesh::Verdict{Outcome::kAccepted, {}};
            },
            o, peer.log);
        mesh->start();
    }
    PeerAddress address() const {
        return PeerAddress{asio::ip::make_address("127.0.0.1"), peer.node->port()};
    }
};

// A valid seed of one chunk, different for each n.
Seed seed_number(int n) {
    Seed s;
    s.name = fmt::format("file{}.bin", n);
    s.length = 1000 + static_cast<std::uint64_t>(n);
    s.chunk_size = 1 << 16;
    s.file_hash = sha256(fmt::format("content {}", n));
    s.chunk_hashes = {s.file_hash};
    s.trackers = {HostPort{"127.0.0.1", 7000}};
    return s;
}

// Serves the seed texts of `seeds`; a liar answers every id with `lie`.
ChannelMesh::SeedSource source_of(const std::map<SeedId, Seed>* seeds,
                                  std::optional<std::string> lie = std::nullopt) {
    return [seeds, lie](SeedId id) -> net::awaitable<std::optional<std::string>> {
        if (lie) co_return lie;
        const auto it = seeds->find(id);
        if (it == seeds->end()) co_return std::nullopt;
        co_return format_seed(it->second);
    };
}

ChannelId channel_named(std::string_view name) {
    ChannelId id;
    id.bytes = sha256(name).bytes;
    return id;
}

}  // namespace

TEST_CASE("channel mesh: a new version reaches every subscriber through the others") {
    asio::io_context io;
    asio::thread_pool pool(2);
    const auto channel = channel_named("mesh");
    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Member publisher(io, pool, "publisher", channel);
        Member a(io, pool, "a", channel);
        Member b(io, pool, "b", channel);
        Member c(io, pool, "c", channel);
        const auto v1 = version(1), v2 = version(2), v3 = version(3);
        publisher.mesh->hold(v2.ref, v2.text);
        a.mesh->hold(v1.ref, v1.text);
        // A chain: only a knows the publisher, b knows a, c knows b.
        a.mesh->add_candidates({publisher.address()}, PeerList::Source::kTracker);
        b.mesh->add_candidates({a.address()}, PeerList::Source::kTracker);
        c.mesh->add_candidates({b.address()}, PeerList::Source::kTracker);
        const auto all_hold = [&](const VersionRef& v) {
            return a.mesh->held() == v && b.mesh->held() == v && c.mesh->held() == v;
        };
        // Each takes versions in increasing order, each at most once (b and
        // c may take version 1 from a before a has version 2).
        const auto in_order = [](const Member& m, const VersionRef& last) {
            for (std::size_t i = 1; i < m.accepted.size(); ++i)
                if (!supersedes(m.accepted[i], m.accepted[i - 1])) return false;
            return !m.accepted.empty() && m.accepted.back() == last;
        };
        CHECK(co_await eventually([&] { return all_hold(v2.ref); }, 20s));
        CHECK(a.accepted == std::vector{v2.ref});
        CHECK(in_order(b, v2.ref));
        CHECK(in_order(c, v2.ref));

        // Published next: everyone follows, each version fetched once.
        publisher.mesh->hold(v3.ref, v3.text);
        CHECK(co_await eventually([&] { return all_hold(v3.ref); }, 20s));
        CHECK(a.accepted == std::vector{v2.ref, v3.ref});
        CHECK(in_order(b, v3.ref));
        CHECK(in_order(c, v3.ref));
        for (const auto* m : {&a, &b, &c})
            CHECK(m->mesh->stats().manifests_fetched == m->accepted.size());
        CHECK(publisher.mesh->stats().manifests_fetched == 0);
        CHECK(publisher.mesh->stats().forged == 0);

        // Never back: the publisher holding an older version changes nothing.
        publisher.mesh->hold(v1.ref, v1.text);
        CHECK(publisher.mesh->held() == v3.ref);

        co_await c.mesh->stop(1s);
        co_await b.mesh->stop(1s);
        co_await a.mesh->stop(1s);
        co_await publisher.mesh->stop(1s);
        for (auto* m : {&publisher, &a, &b, &c})
            co_await m->peer.node->stop(1s);
    });
}

TEST_CASE("channel mesh: a forged manifest is refused, its sender banned, the real one taken") {
    asio::io_context io;
    asio::thread_pool pool(2);
    const auto channel = channel_named("forged");
    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Member honest(io, pool, "honest", channel);
        Member liar(io, pool, "liar", channel);
        Member subscriber(io, pool, "subscriber", channel);
        const auto v5 = version(5);
        honest.mesh->hold(v5.ref, v5.text);
        // The liar announces a version 9 whose text does not hash to what it
        // announced: its verifier is bypassed by holding it directly.
        const auto v9 = version(9);
        liar.mesh->hold(VersionRef{9, sha256(std::string_view("not this text")), {}}, v9.text);
        subscriber.mesh->add_candidates({liar.address()}, PeerList::Source::kTracker);
        CHECK(co_await eventually([&] { return subscriber.mesh->stats().forged == 1; }, 20s));
        CHECK(subscriber.mesh->held().none());
        // The liar is gone and not dialled again; the honest version comes in.
        subscriber.mesh->add_candidates({honest.address()}, PeerList::Source::kTracker);
        CHECK(co_await eventually([&] { return subscriber.mesh->held() == v5.ref; }, 20s));
        CHECK(subscriber.mesh->stats().forged == 1);
        CHECK(subscriber.accepted == std::vector{v5.ref});
        for (auto* m : {&honest, &liar, &subscriber}) {
            co_await m->mesh->stop(1s);
            co_await m->peer.node->stop(1s);
        }
    });
}

TEST_CASE("channel mesh: a peer of another channel is refused") {
    asio::io_context io;
    asio::thread_pool pool(2);
    run_within(io, 30s, [&]() -> net::awaitable<void> {
        Member one(io, pool, "one", channel_named("one"));
        Member other(io, pool, "other", channel_named("other"));
        one.mesh->hold(version(1).ref, version(1).text);
        other.mesh->add_candidates({one.address()}, PeerList::Source::kTracker);
        // It dials, is refused (unknown channel): a failure on record, no
        // connection, nothing learnt.
        CHECK(co_await eventually(
            [&] {
                const auto* e = other.mesh->candidates().find(one.address());
                return e != nullptr && e->failures >= 1;
            },
            10s));
        CHECK(one.mesh->connection_count() == 0);
        CHECK(other.mesh->held().none());
        for (auto* m : {&one, &other}) {
            co_await m->mesh->stop(1s);
            co_await m->peer.node->stop(1s);
        }
    });
}

TEST_CASE("channel mesh: another protocol version is refused, saying both versions") {
    asio::io_context io;
    asio::thread_pool pool(2);
    const auto channel = channel_named("versions");
    run_within(io, 30s, [&]() -> net::awaitable<void> {
        Member member(io, pool, "member", channel);
        // A peer from the future dials it: the answer names both versions.
        const HostPort where{"127.0.0.1", member.peer.node->port()};
        auto socket = co_await net::connect(where, 5s);
        Bytes hello = channel_proto::encode(
            channel_proto::ChannelHello{channel_proto::kVersion, channel, random_user_id(), 0, {}});
        hello[limits::kFrameHeaderBytes + 4 + 1] = 9;  // version 9 (u16 after the magic)
        co_await asio::async_write(socket, asio::buffer(hello), asio::use_awaitable);
        net::FrameStream stream(std::move(socket), limits::kMaxPeerFrameBytes, {});
        const auto h = co_await stream.read_header();
        const auto payload = co_await stream.read_payload(h);
        auto m = channel_proto::decode(h.type, payload);
        REQUIRE(m);
        const auto* err = std::get_if<channel_proto::ErrorMsg>(&*m);
        REQUIRE(err != nullptr);
        CHECK(err->code == channel_proto::ErrorCode::kVersionMismatch);
        CHECK(err->message.find("speaks " + std::to_string(channel_proto::kVersion)) !=
              std::string::npos);
        CHECK(err->message.find("you speak 9") != std::string::npos);
        CHECK(member.mesh->connection_count() == 0);

        // The member dials a peer that answers with version 9: no connection,
        // a failure on record (and a warning in its log).
        net::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
        member.mesh->add_candidates(
            {PeerAddress{asio::ip::make_address("127.0.0.1"), acceptor.local_endpoint().port()}},
            PeerList::Source::kTracker);
        auto peer = co_await acceptor.async_accept(asio::use_awaitable);
        net::FrameStream in(std::move(peer), limits::kMaxPeerFrameBytes, {});
        const auto h2 = co_await in.read_header();
        CHECK(h2.type == static_cast<std::uint8_t>(channel_proto::Type::kChannelHello));
        (void)co_await in.read_payload(h2);
        Bytes answer = channel_proto::encode(
            channel_proto::ChannelHello{channel_proto::kVersion, channel, random_user_id(), 1, {}});
        answer[limits::kFrameHeaderBytes + 4 + 1] = 9;
        co_await asio::async_write(in.socket(), asio::buffer(answer), asio::use_awaitable);
        const PeerAddress future{asio::ip::make_address("127.0.0.1"),
                                 acceptor.local_endpoint().port()};
        CHECK(co_await eventually(
            [&] {
                const auto* e = member.mesh->candidates().find(future);
                return e != nullptr && e->failures >= 1;
            },
            10s));
        CHECK(member.mesh->peer_versions().empty());
        co_await member.mesh->stop(1s);
        co_await member.peer.node->stop(1s);
    });
}

TEST_CASE("channel mesh: a version's seeds come from the peers that hold it, each checked") {
    asio::io_context io;
    asio::thread_pool pool(2);
    const auto channel = channel_named("seeds");
    std::map<SeedId, Seed> seeds;
    std::vector<SeedId> ids;
    for (int i = 0; i < 60; ++i) {
        const Seed s = seed_number(i);
        seeds.emplace(s.id(), s);
        ids.push_back(s.id());
    }
    std::map<SeedId, Seed> half;  // b holds the first half only
    for (std::size_t i = 0; i < ids.size() / 2; ++i)
        half.emplace(ids[i], seeds.at(ids[i]));
    const SeedId nobody = seed_number(1000).id();  // held by no one
    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Member a(io, pool, "a", channel);
        Member b(io, pool, "b", channel);
        Member liar(io, pool, "liar", channel);
        Member subscriber(io, pool, "subscriber", channel);
        const auto v1 = version(1);
        for (auto* m : {&a, &b, &liar})
            m->mesh->hold(v1.ref, v1.text);
        a.mesh->set_seed_source(source_of(&seeds));
        b.mesh->set_seed_source(source_of(&half));
        // The liar answers with a real seed's text, but never the one asked.
        liar.mesh->set_seed_source(source_of(&seeds, format_seed(seed_number(2000))));
        subscriber.mesh->add_candidates({a.address(), b.address(), liar.address()},
                                        PeerList::Source::kTracker);
        CHECK(co_await eventually([&] { return subscriber.mesh->held() == v1.ref; }, 20s));
        CHECK(
            co_await eventually([&] { return subscriber.mesh->peer_versions().size() == 3; }, 20s));

        auto wanted = ids;
        wanted.push_back(nobody);
        const auto got = co_await subscriber.mesh->fetch_seeds(wanted, 10s);
        CHECK(got.size() == ids.size());
        for (const auto& id : ids) {
            const auto it = got.find(id);
            REQUIRE(it != got.end());
            CHECK(it->second == seeds.at(id));
        }
        CHECK_FALSE(got.contains(nobody));
        // The liar was asked (every peer holding the version is), sent a seed
        // that is not the one asked for, and was dropped and banned.
        CHECK(subscriber.mesh->stats().forged == 1);
        CHECK(subscriber.mesh->stats().seeds_fetched == ids.size());
        const auto* banned = subscriber.mesh->candidates().find(liar.address());
        REQUIRE(banned != nullptr);
        CHECK(banned->state == PeerList::State::kBanned);
        CHECK(a.mesh->stats().seeds_served + b.mesh->stats().seeds_served == ids.size());
        CHECK(b.mesh->stats().seeds_served <= half.size());

        // Nothing held by anyone: the answer is empty, and another fetch may follow.
        const std::vector<SeedId> lost{nobody};
        CHECK((co_await subscriber.mesh->fetch_seeds(lost, 10s)).empty());
        for (auto* m : {&a, &b, &liar, &subscriber}) {
            co_await m->mesh->stop(1s);
            co_await m->peer.node->stop(1s);
        }
    });
}

// Serves `path` (complete) from `member`'s Node, as a publisher or a
// subscriber that applied a version does.
void share_file(Member& member, const Seed& seed, const std::filesystem::path& path) {
    auto storage = FileStorage::open_read(path);
    REQUIRE(storage);
    auto transfer =
        FileTransfer::share(*member.peer.node, *member.peer.trackers, {}, seed,
                            std::shared_ptr<Storage>(std::move(*storage)), member.peer.log);
    transfer->start(false);
    member.peer.shared.push_back(std::move(transfer));
}

TEST_CASE("channel mesh: small files come whole from the peers that hold them, each checked") {
    asio::io_context io;
    asio::thread_pool pool(2);
    const auto channel = channel_named("files");
    TempDir dir;
    // 80 small files (5 peers x 16 requests: every peer is asked), one too
    // large to cross the mesh, one nobody holds.
    std::vector<Seed> small;
    std::map<SeedId, std::string> content;
    for (int i = 0; i < 80; ++i) {
        const auto path = dir / fmt::format("f{}", i);
        const std::string bytes = pattern_bytes(1 + static_cast<std::size_t>(i) * 37, i + 1);
        write_file(path, bytes);
        auto seed = make_seed(path, {});
        REQUIRE(seed);
        content.emplace(seed->id(), bytes);
        small.push_back(*seed);
    }
    write_file(dir / "large", pattern_bytes(limits::kMaxMeshFileBytes + 1, 7));
    auto large = make_seed(dir / "large", {});
    REQUIRE(large);
    write_file(dir / "gone", "nobody holds this");
    auto gone = make_seed(dir / "gone", {});
    REQUIRE(gone);

    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Member a(io, pool, "a", channel);
        Member b(io, pool, "b", channel);
        Member c(io, pool, "c", channel);  // holds the version, shares no file
        Member subscriber(io, pool, "subscriber", channel);
        const auto v1 = version(1);
        for (auto* m : {&a, &b, &c})
            m->mesh->hold(v1.ref, v1.text);
        for (std::size_t i = 0; i < small.size(); ++i) {
            share_file(a, small[i], dir / fmt::format("f{}", i));
            if (i < small.size() / 2) share_file(b, small[i], dir / fmt::format("f{}", i));
        }
        share_file(a, *large, dir / "large");
        // f0 (shared by a and b from the same path) changes on disk: both
        // answer FileUnknown (a storage refuses a file changed since it was
        // shared), so it comes from nobody, and nothing else is sent for it.
        write_file(dir / "f0", "changed");
        subscriber.mesh->add_candidates({a.address(), b.address(), c.address()},
                                        PeerList::Source::kTracker);

        // Two liars connect to the subscriber and say they hold the version:
        // one answers every FileRequest with the right length of wrong bytes,
        // the other with one byte more than the file has.
        const HostPort where{"127.0.0.1", subscriber.peer.node->port()};
        std::array<std::size_t, 2> lies{0, 0};
        auto lie = [&](std::size_t which) -> net::awaitable<void> {
            try {
                auto socket = co_await net::connect(where, 5s);
                const Bytes hello = channel_proto::encode(channel_proto::ChannelHello{
                    channel_proto::kVersion, channel, random_user_id(), 0, v1.ref});
                co_await asio::async_write(socket, asio::buffer(hello), asio::use_awaitable);
                net::FrameStream liar(std::move(socket), limits::kMaxPeerFrameBytes,
                                      net::FrameStream::Timeouts{});
                for (;;) {
                    const auto h = co_await liar.read_header();
                    const auto payload = co_await liar.read_payload(h);
                    auto m = channel_proto::decode(h.type, payload);
                    if (!m) break;
                    const auto* ask = std::get_if<channel_proto::FileRequest>(&*m);
                    if (ask == nullptr) continue;
                    const auto it = content.find(ask->id);
                    if (it == content.end()) continue;
                    const Bytes wrong(it->second.size() + which, std::uint8_t{'?'});
                    const Bytes part = channel_proto::encode(channel_proto::FilePart{
                        ask->id, static_cast<std::uint32_t>(wrong.size()), 0, wrong});
                    co_await liar.write(part);
                    ++lies[which];
                }
            } catch (const std::exception&) {
                // closed by the subscriber: what a banned peer gets
            }
        };
        CHECK(
            co_await eventually([&] { return subscriber.mesh->peer_versions().size() == 3; }, 20s));
        for (std::size_t which : {0u, 1u})
            net::spawn(io.get_executor(), lie(which), subscriber.peer.log, "liar");
        CHECK(
            co_await eventually([&] { return subscriber.mesh->peer_versions().size() == 5; }, 20s));

        std::map<SeedId, ChannelMesh::FileCheck> wanted;
        for (const auto* s : {&*large, &*gone})
            wanted.emplace(s->id(), ChannelMesh::FileCheck{static_cast<std::uint32_t>(s->length),
                                                           s->file_hash});
        for (const auto& s : small)
            wanted.emplace(
                s.id(), ChannelMesh::FileCheck{static_cast<std::uint32_t>(s.length), s.file_hash});
        const auto got = co_await subscriber.mesh->fetch_files(wanted, 10s);
        CHECK(got.size() == small.size() - 1);
        for (std::size_t i = 1; i < small.size(); ++i) {
            const auto it = got.find(small[i].id());
            REQUIRE(it != got.end());
            CHECK(std::string(it->second.begin(), it->second.end()) == content.at(small[i].id()));
        }
        CHECK_FALSE(got.contains(small[0].id()));
        CHECK_FALSE(got.contains(large->id()));  // never asked: too large
        CHECK_FALSE(got.contains(gone->id()));
        // Both liars were asked (5 peers x 16 requests cover the 80 files),
        // lied, and were dropped and banned at their first lie.
        CHECK(lies[0] >= 1);
        CHECK(lies[1] >= 1);
        CHECK(subscriber.mesh->stats().forged == 2);
        CHECK(subscriber.mesh->peer_versions().size() == 3);
        CHECK(subscriber.mesh->stats().files_fetched == small.size() - 1);
        CHECK(a.mesh->stats().files_served + b.mesh->stats().files_served == small.size() - 1);
        CHECK(b.mesh->stats().files_served <= small.size() / 2);
        CHECK(c.mesh->stats().files_served == 0);
        // What a served is counted as its upload, as a swarm's is.
        CHECK(a.peer.node->uploads().bytes == a.mesh->stats().file_bytes_served);
        CHECK(a.mesh->stats().file_bytes_served + b.mesh->stats().file_bytes_served ==
              subscriber.mesh->stats().file_bytes_fetched);
        for (auto* m : {&a, &b, &c, &subscriber}) {
            co_await m->mesh->stop(1s);
            for (auto& t : m->peer.shared)
                co_await t->leave(1s);
            co_await m->peer.node->stop(1s);
        }
    });
}

TEST_CASE("channel mesh: a silent peer is not asked again, and a cancel ends a file fetch") {
    asio::io_context io;
    asio::thread_pool pool(2);
    const auto channel = channel_named("mute");
    TempDir dir;
    std::vector<Seed> files;
    for (int i = 0; i < 40; ++i) {
        const auto path = dir / fmt::format("f{}", i);
        write_file(path, pattern_bytes(500 + static_cast<std::size_t>(i), i + 1));
        auto seed = make_seed(path, {});
        REQUIRE(seed);
        files.push_back(*seed);
    }
    auto checks_of = [](const std::vector<Seed>& seeds) {
        std::map<SeedId, ChannelMesh::FileCheck> out;
        for (const auto& s : seeds)
            out.emplace(s.id(),
                        ChannelMesh::FileCheck{static_cast<std::uint32_t>(s.length), s.file_hash});
        return out;
    };
    run_within(io, 60s, [&]() -> net::awaitable<void> {
        Member a(io, pool, "a", channel);
        Member subscriber(io, pool, "subscriber", channel);
        const auto v1 = version(1);
        a.mesh->hold(v1.ref, v1.text);
        for (std::size_t i = 0; i < files.size(); ++i)
            share_file(a, files[i], dir / fmt::format("f{}", i));
        // A peer that says it holds the version and then reads without ever
        // answering; it connects first, so it is asked first.
        std::size_t asked = 0;
        bool mute_done = false;
        auto mute = [&]() -> net::awaitable<void> {
            try {
                // (Named: GCC 12 frees a braced temporary in a co_await twice.)
                const HostPort where{"127.0.0.1", subscriber.peer.node->port()};
                auto socket = co_await net::connect(where, 5s);
                const Bytes hello = channel_proto::encode(channel_proto::ChannelHello{
                    channel_proto::kVersion, channel, random_user_id(), 0, v1.ref});
                co_await asio::async_write(socket, asio::buffer(hello), asio::use_awaitable);
                net::FrameStream in(std::move(socket), limits::kMaxPeerFrameBytes,
                                    net::FrameStream::Timeouts{});
                for (;;) {
                    const auto h = co_await in.read_header();
                    const auto payload = co_await in.read_payload(h);
                    auto m = channel_proto::decode(h.type, payload);
                    if (m && std::holds_alternative<channel_proto::FileRequest>(*m)) ++asked;
                }
            } catch (const std::exception&) {
                // closed by the subscriber at the end of the test
            }
            mute_done = true;
        };
        net::spawn(io.get_executor(), mute(), subscriber.peer.log, "mute");
        CHECK(
            co_await eventually([&] { return subscriber.mesh->peer_versions().size() == 1; }, 20s));
        subscriber.mesh->add_candidates({a.address()}, PeerList::Source::kTracker);
        CHECK(
            co_await eventually([&] { return subscriber.mesh->peer_versions().size() == 2; }, 20s));

        // The first fetch asks the mute peer for 16 files and would wait for
        // them for an hour: a cancel ends it, with what a sent.
        std::atomic<bool> cancel{false};
        asio::steady_timer soon(io);
        soon.expires_after(500ms);
        soon.async_wait([&](const asio::error_code&) { cancel = true; });
        const auto first = co_await subscriber.mesh->fetch_files(checks_of(files), 3600s, &cancel);
        CHECK(cancel.load());
        CHECK(first.size() <= files.size() - 16);
        CHECK(asked == 16);
        // The next asks a for the rest: the mute peer still owes 16 answers.
        std::vector<Seed> rest;
        for (const auto& f : files)
            if (!first.contains(f.id())) rest.push_back(f);
        const auto second = co_await subscriber.mesh->fetch_files(checks_of(rest), 10s);
        CHECK(second.size() == rest.size());
        CHECK(asked == 16);
        CHECK(a.mesh->stats().files_served == files.size());
        co_await subscriber.mesh->stop(1s);
        // (It must end before the test does: it refers to the test's state.)
        CHECK(co_await eventually([&] { return mute_done; }, 10s));
        for (auto* m : {&a, &subscriber}) {
            co_await m->mesh->stop(1s);
            for (auto& t : m->peer.shared)
                co_await t->leave(1s);
            co_await m->peer.node->stop(1s);
        }
    });
}

TEST_CASE("channel mesh: with no peer holding a version, a seed fetch ends at once, empty") {
    asio::io_context io;
    asio::thread_pool pool(2);
    const auto channel = channel_named("lonely");
    run_within(io, 30s, [&]() -> net::awaitable<void> {
        Member empty(io, pool, "empty", channel);  // holds no version
        Member subscriber(io, pool, "subscriber", channel);
        subscriber.mesh->add_candidates({empty.address()}, PeerList::Source::kTracker);
        CHECK(
            co_await eventually([&] { return subscriber.mesh->peer_versions().size() == 1; }, 20s));
        const std::vector<SeedId> ids{seed_number(1).id(), seed_number(2).id()};
        // A patience far beyond the test's limit: it must end without it.
        CHECK((co_await subscriber.mesh->fetch_seeds(ids, 3600s)).empty());
        CHECK(empty.mesh->stats().seeds_served == 0);
        for (auto* m : {&empty, &subscriber}) {
            co_await m->mesh->stop(1s);
            co_await m->peer.node->stop(1s);
        }
    });
}

}  // namespace channel_mesh_test
