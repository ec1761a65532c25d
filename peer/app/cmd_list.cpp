// peer list --tracker HOST:PORT: what the trackers know (peer/listing.* decides
// what is shown).
#include <fmt/format.h>

#include "peer/app/commands.hpp"
#include "peer/app/listing.hpp"
#include "peer/app/run_command.hpp"
#include "peer/discovery/tracker_client.hpp"

namespace seedshare {

namespace {

net::awaitable<int> list_main(const ListCommand& cmd) {
    auto ex = co_await asio::this_coro::executor;
    Logger log("peer", cmd.log_level);
    const UserId me = random_user_id();
    std::vector<TrackerListing> listings;
    for (const auto& where : cmd.trackers) {
        TrackerClient::Options o;
        o.tracker = where;
        o.user = me;
        TrackerClient client(ex, o, log.sub(where.str()));
        TrackerListing l{where, std::nullopt, {}};
        try {
            co_await client.connect();
            l.files = co_await client.list_files();
            co_await client.leave();
        } catch (const TrackerError& e) {
            l.error = describe(e);
        } catch (const std::exception& e) {
            l.error = fmt::format("cannot reach {}", e.what());  // what() names the tracker
        }
        client.stop();
        if (l.error) {
            l.files.clear();
            fmt::print(stderr, "peer: {}\n", *l.error);
        }
        filter_and_sort(l.files, cmd.filter);
        listings.push_back(std::move(l));
    }
    fmt::print("{}", cmd.json ? format_json(listings) : format_table(listings));
    std::fflush(stdout);
    co_return list_exit_code(listings);
}

}  // namespace

int run_list(const ListCommand& cmd) {
    return run_command([&](asio::io_context&, asio::thread_pool&) { return list_main(cmd); });
}

}  // namespace seedshare
