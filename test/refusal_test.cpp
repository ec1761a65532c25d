// A holder that refuses each chunk the first time it is asked for it (as a
// seed rationing its upload does) and serves it when asked again. The getter
// must not ask again at once (that was a request/reject storm), and must ask
// again once the refusals expire, even though nothing else happens on the
// connection (that was a download waiting forever).
#include <doctest/doctest.h>

#include <map>

#include "peer/transfer/download.hpp"
#include "test/support/cluster.hpp"
#include "test/support/hostile.hpp"
#include "test/support/temp_dir.hpp"

namespace refusal_test {

using namespace seedshare;
using namespace seedshare::test;
using namespace std::chrono_literals;
namespace pp = seedshare::peer_proto;

namespace {

struct RefusingHolder {
    Seed seed;
    std::string data;
    net::tcp::acceptor acceptor;
    std::unique_ptr<Trackers> trackers;
    std::map<std::uint32_t, std::chrono::steady_clock::time_point> refused;  // when
    int rejects = 0;
    int pieces = 0;
    std::chrono::steady_clock::duration shortest_gap = std::chrono::hours(1);

    RefusingHolder(asio::io_context& io, Seed s, std::string d)
        : seed(std::move(s)),
          data(std::move(d)),
          acceptor(io, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}
    std::uint16_t port() const { return acceptor.local_endpoint().port(); }

    net::awaitable<void> serve(net::tcp::socket socket) {
        RawPeer peer(std::move(socket));
        try {
            const auto hello = co_await peer.recv_message(5s);
            REQUIRE(std::holds_alternative<pp::Hello>(hello));
            const pp::Message mine = pp::Hello{pp::kVersion, seed.id(), random_user_id(), port()};
            co_await peer.send_message(mine);
            const pp::Message bitfield = pp::BitfieldMsg{Bitfield(seed.chunk_count(), true)};
            co_await peer.send_message(bitfield);
            for (int i = 0; i < 100000; ++i) {
                const auto m = co_await peer.recv_message(20s);
                const auto* req = std::get_if<pp::Request>(&m);
                if (req == nullptr) continue;
                const pp::Block b = req->block;
                const auto now = std::chrono::steady_clock::now();
                if (refused.emplace(b.chunk.value, now).second) {
                    ++rejects;
                    const pp::Message no = pp::Reject{b};
                    co_await peer.send_message(no);
                    continue;
                }
                ++pieces;
                shortest_gap = std::min(shortest_gap, now - refused[b.chunk.value]);
                Bytes frame = pp::encode_piece_header(b.chunk, b.offset, b.length);
                const auto at = static_cast<std::ptrdiff_t>(seed.chunk_offset(b.chunk) + b.offset);
                frame.insert(frame.end(), data.begin() + at, data.begin() + at + b.length);
                co_await peer.send(frame);
            }
        } catch (const std::exception&) {
            // The getter hung up: done.
        }
    }
    net::awaitable<void> accept_loop() {
        for (int i = 0; i < 20; ++i) {
            asio::error_code ec;
            auto socket =
                co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
            if (ec) co_return;
            net::spawn(acceptor.get_executor(), serve(std::move(socket)),
                       Logger("holder", LogLevel::kOff), "refusing holder");
        }
    }
};

}  // namespace

TEST_CASE("refusals: a chunk refused is asked for again later, not at once and not never") {
    TempDir src, out;
    asio::io_context io;
    asio::thread_pool pool(2);
    TestTracker tracker(io);
    write_file(src / "data.bin", pattern_bytes(512 * 1024, 0x5eed));
    SeedMakerOptions so;
    so.chunk_size = 64 * 1024;
    so.trackers = {tracker.address};
    const auto made = make_seed(src / "data.bin", so);
    REQUIRE(made);
    const Seed seed = *made;

    run_within(io, 40s, [&]() -> net::awaitable<void> {
        RefusingHolder holder(io, seed, read_file(src / "data.bin"));
        net::spawn(io.get_executor(), holder.accept_loop(), Logger("test"), "holder");
        holder.trackers = std::make_unique<Trackers>(
            io.get_executor(), random_user_id(), holder.port(), Logger("holder", LogLevel::kOff));
        const std::vector<HostPort> where{tracker.address};
        CHECK((co_await holder.trackers->connect(where)).empty());
        holder.trackers->hold(seed, where, true);

        BackgroundGet get(io, pool, seed, out.path());
        get.start(io);
        const bool done = co_await get.ended_within(20000ms);
        CHECK_MESSAGE(done, "the download did not finish: " << holder.rejects << " refusals, "
                                                            << holder.pieces << " pieces served");
        co_await get.stop(10000ms);
        CHECK(get.outcome == Download::Outcome::kComplete);
        CHECK(read_file(out / "data.bin") == read_file(src / "data.bin"));
        // Each chunk was refused once, and asked for again only after a
        // while (the refusal lasts 2 s; the first re-asks come with the 1 s
        // wake after that): a bound from below, which load only lengthens.
        CHECK(holder.rejects == static_cast<int>(seed.chunk_count()));
        CHECK(holder.shortest_gap >= 1500ms);
        co_await holder.trackers->leave();
    });
}

}  // namespace refusal_test
