// peer subscribe CHANNEL DIR: the process around a Subscriber: the Node,
// signals, what is printed per version, exit codes.
#include <fmt/format.h>

#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"
#include "peer/app/commands.hpp"
#include "peer/app/interrupts.hpp"
#include "peer/app/metrics.hpp"
#include "peer/app/run_command.hpp"
#include "peer/channel/subscriber.hpp"
#include "peer/library/library.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

net::awaitable<int> subscribe_main(const SubscribeCommand& cmd, const ChannelId& channel,
                                   asio::io_context& io, asio::thread_pool& pool) {
    auto ex = io.get_executor();
    Logger log("peer", cmd.net.log_level);
    NetworkOptions net = cmd.net;
    if (!cmd.no_state) net.book_dir = cmd.state_dir ? cmd.state_dir : default_state_dir();
    Node node(ex, pool, node_options(net), log);
    node.listen();
    Trackers trackers(ex, node.user(), node.port(), log);

    SubscriberOptions options;
    options.channel = channel;
    options.dir = cmd.dir;
    options.trackers = cmd.net.trackers;
    options.once = cmd.once;
    options.rescan = cmd.rescan;
    Subscriber subscriber(node, trackers, options, log);
    PeerMetrics::Channels versions = [&subscriber, channel] {
        const auto& a = subscriber.applied();
        return std::vector<ChannelVersion>{
            {channel, a ? a->name : std::string(), a ? a->version : 0}};
    };
    const auto metrics = start_metrics(cmd.net.metrics, ex, node, "subscribe", std::move(versions));

    // A version half applied is resumed by the next run.
    const Interrupts interrupts(
        ex, log, [&] { subscriber.stop(); }, "a rerun resumes");
    // A std::function, named: one made inside a co_await is destroyed twice (GCC 12).
    const std::function<void(const Manifest&, const SyncReport&)> said = [&](const Manifest& m,
                                                                             const SyncReport& r) {
        // One line per version applied (scripts read it).
        fmt::print(
            "version {} applied: {}; {} fetched, {} restored, {} deleted; {} chunks "
            "copied locally, {} from the network ({})\n",
            m.version, count_of(m.files.size(), "file"), r.fetched, r.restored, r.deleted,
            r.local_chunks, r.network_chunks, format_bytes(r.network_bytes));
        std::fflush(stdout);
    };
    const auto outcome = co_await subscriber.run(said);
    log.info("leaving: finishing uploads in flight");
    co_await node.stop(kGoodbyeGrace);
    co_await trackers.leave();
    using O = Subscriber::Outcome;
    switch (outcome) {
        case O::kUpToDate:
            fmt::print("{} is at version {}\n", cmd.dir.string(),
                       subscriber.applied() ? subscriber.applied()->version : 0);
            co_return kExitOk;
        case O::kStopped:
            co_return interrupts.interrupted() && cmd.once ? kExitInterrupted : kExitOk;
        case O::kNoVersion:
            fmt::print(stderr, "peer: {}\n", subscriber.message());
            co_return kExitTrackerUnreachable;
        case O::kBusy:
        case O::kOtherChannel:
        case O::kFailed:
            fmt::print(stderr, "peer: {}\n", subscriber.message());
            co_return kExitFailure;
    }
    co_return kExitFailure;
}

}  // namespace

int run_subscribe(const SubscribeCommand& cmd) {
    const auto channel = ChannelId::from_hex_string(cmd.channel);
    if (!channel) {
        fmt::print(stderr, "peer: CHANNEL '{}' is not a channel id (64 hex digits)\n", cmd.channel);
        return kExitUsage;
    }
    std::error_code ec;
    if (fs::exists(cmd.dir, ec) && !fs::is_directory(cmd.dir, ec)) {
        fmt::print(stderr, "peer: {}: not a directory\n", cmd.dir.string());
        return kExitUsage;
    }
    fs::create_directories(cmd.dir, ec);
    if (ec) {
        fmt::print(stderr, "peer: cannot make {}: {}\n", cmd.dir.string(), ec.message());
        return kExitFailure;
    }
    return run_command([&](asio::io_context& io, asio::thread_pool& pool) {
        return subscribe_main(cmd, *channel, io, pool);
    });
}

}  // namespace seedshare
