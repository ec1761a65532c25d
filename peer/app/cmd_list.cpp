// peer list [--channels] --tracker HOST:PORT: the files (or the channels) the
// trackers know (peer/app/listing.* decides what is shown).
#include <fmt/format.h>

#include "peer/app/commands.hpp"
#include "peer/app/listing.hpp"
#include "peer/app/run_command.hpp"
#include "peer/discovery/tracker_client.hpp"

namespace seedshare {

namespace {

// The files or the channels of one tracker.
net::awaitable<std::vector<tracker_proto::FileInfo>> ask(TrackerClient& client,
                                                         std::vector<tracker_proto::FileInfo>*) {
    co_return co_await client.list_files();
}
net::awaitable<std::vector<tracker_proto::ChannelInfo>> ask(
    TrackerClient& client, std::vector<tracker_proto::ChannelInfo>*) {
    co_return co_await client.list_channels();
}
std::vector<tracker_proto::FileInfo>& items(TrackerListing& l) {
    return l.files;
}
std::vector<tracker_proto::ChannelInfo>& items(ChannelListing& l) {
    return l.channels;
}

template <class Listing>
net::awaitable<int> list_main(const ListCommand& cmd) {
    auto ex = co_await asio::this_coro::executor;
    Logger log("peer", cmd.log_level);
    const UserId me = random_user_id();
    std::vector<Listing> listings;
    for (const auto& where : cmd.trackers) {
        TrackerClient::Options o;
        o.tracker = where;
        o.user = me;
        TrackerClient client(ex, o, log.sub(where.str()));
        Listing l{where, std::nullopt, {}};
        try {
            co_await client.connect();
            items(l) = co_await ask(client, &items(l));
            co_await client.leave();
        } catch (const TrackerError& e) {
            l.error = describe(e);
        } catch (const std::exception& e) {
            l.error = fmt::format("cannot reach {}", e.what());  // what() names the tracker
        }
        client.stop();
        if (l.error) {
            items(l).clear();
            fmt::print(stderr, "peer: {}\n", *l.error);
        }
        filter_and_sort(items(l), cmd.filter);
        listings.push_back(std::move(l));
    }
    fmt::print("{}", cmd.json ? format_json(listings) : format_table(listings));
    std::fflush(stdout);
    co_return list_exit_code(listings);
}

}  // namespace

int run_list(const ListCommand& cmd) {
    return run_command([&](asio::io_context&, asio::thread_pool&) {
        return cmd.channels ? list_main<ChannelListing>(cmd) : list_main<TrackerListing>(cmd);
    });
}

}  // namespace seedshare
