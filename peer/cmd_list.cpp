// peer list --tracker HOST:PORT: what the tracker knows.
#include <fmt/format.h>

#include "common/numbers.hpp"
#include "peer/commands.hpp"
#include "peer/run_command.hpp"
#include "peer/tracker_client.hpp"

namespace seedshare {

namespace {

net::awaitable<int> list_main(const ListCommand& cmd) {
    auto ex = co_await asio::this_coro::executor;
    Logger log("peer", cmd.log_level);
    const UserId me = random_user_id();
    int code = kExitOk;
    for (const auto& where : cmd.trackers) {
        TrackerClient::Options o;
        o.tracker = where;
        o.user = me;
        TrackerClient client(ex, o, log.sub(where.str()));
        std::vector<tracker_proto::FileInfo> files;
        try {
            co_await client.connect();
            files = co_await client.list_files();
            co_await client.leave();
        } catch (const std::exception& e) {
            fmt::print(stderr, "peer: cannot reach {}\n", e.what());  // what() names the tracker
            client.stop();
            code = kExitTrackerUnreachable;
            continue;
        }
        client.stop();
        if (cmd.trackers.size() > 1) fmt::print("tracker {}:\n", where.str());
        if (files.empty()) {
            fmt::print("no files\n");
            continue;
        }
        std::size_t width = 4;
        for (const auto& f : files)
            width = std::max(width, f.name.size());
        fmt::print("{:<{}}  {:>12}  {:>15}  {}\n", "NAME", width, "SIZE", "HOLDERS", "ID");
        for (const auto& f : files)
            fmt::print("{:<{}}  {:>12}  {:>15}  {}\n", f.name, width, format_bytes(f.length),
                       fmt::format("{} ({} complete)", f.holders, f.complete_holders), f.id.hex());
    }
    co_return code;
}

}  // namespace

int run_list(const ListCommand& cmd) {
    return run_command([&](asio::io_context&, asio::thread_pool&) { return list_main(cmd); });
}

}  // namespace seedshare
