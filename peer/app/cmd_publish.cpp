// peer publish DIR --key FILE: the process around a Publisher: the key, the
// Node, signals, goodbye.
#include <fmt/format.h>

#include "common/core/plural.hpp"
#include "peer/app/commands.hpp"
#include "peer/app/interrupts.hpp"
#include "peer/app/metrics.hpp"
#include "peer/app/run_command.hpp"
#include "peer/channel/publisher.hpp"
#include "peer/storage/channel_key_file.hpp"

namespace seedshare {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

net::awaitable<int> publish_main(const PublishCommand& cmd, ChannelKey key,
                                 std::optional<HandoverRecord> handover, asio::io_context& io,
                                 asio::thread_pool& pool) {
    auto ex = io.get_executor();
    Logger log("peer", cmd.net.log_level);
    NodeOptions node_opts = node_options(cmd.net);
    node_opts.spare_upload = true;  // getters take from each other first
    Node node(ex, pool, node_opts, log);
    node.listen();
    Trackers trackers(ex, node.user(), node.port(), log);

    PublisherOptions options{cmd.dir, std::move(key), {}, {}, {}, {}, {}, {}};
    options.handover = std::move(handover);
    options.name = cmd.name;
    if (options.name.empty()) options.name = fs::absolute(cmd.dir).lexically_normal().filename();
    if (options.name.empty()) options.name = "channel";
    options.trackers = cmd.net.trackers;
    if (!cmd.no_state) options.seed_cache = cmd.state_dir ? cmd.state_dir : default_state_dir();
    options.rescan = cmd.rescan;
    if (auto ok = validate_channel_name(options.name); !ok) {
        fmt::print(stderr, "peer: --name: {}\n", ok.error().message);
        co_return kExitUsage;
    }
    Publisher publisher(node, trackers, std::move(options), log);
    PeerMetrics::Channels versions = [&publisher] {
        const auto& p = publisher.published();
        return std::vector<ChannelVersion>{
            {publisher.channel(), p ? p->name : std::string(), p ? p->version : 0}};
    };
    const auto metrics = start_metrics(cmd.net.metrics, ex, node, "publish", std::move(versions));

    const Interrupts interrupts(
        ex, log, [&] { publisher.stop(); }, "");
    fmt::print("channel {}\n", publisher.channel().hex());
    std::fflush(stdout);
    try {
        // Named: a std::function made inside a co_await is destroyed twice (GCC 12).
        const std::function<void()> ready = [&] {
            fmt::print("publishing {} on port {}\n", cmd.dir.string(), node.port());
            std::fflush(stdout);
        };
        co_await publisher.run(ready);
    } catch (const std::runtime_error& e) {
        fmt::print(stderr, "peer: {}\n", e.what());
        node.abort();
        trackers.abandon();
        co_return kExitFailure;
    }
    log.info("leaving: finishing uploads in flight");
    co_await node.stop(kGoodbyeGrace);
    co_await trackers.leave();
    // What the publisher sent, every version's files together, exact bytes
    // (scripts read it: scripts/bench/channel).
    const auto up = node.uploads();
    fmt::print("uploaded {} to {}\n", count_of(up.bytes, "byte"),
               count_of(up.peers.size(), "peer"));
    std::fflush(stdout);
    co_return kExitOk;
}

}  // namespace

int run_publish(const PublishCommand& cmd) {
    std::error_code ec;
    if (!fs::is_directory(cmd.dir, ec)) {
        fmt::print(stderr, "peer: {}: not a directory\n", cmd.dir.string());
        return kExitUsage;
    }
    auto key = read_channel_key(cmd.key);
    if (!key) {
        fmt::print(stderr, "peer: {}\n", key.error().message);
        return kExitUsage;
    }
    std::optional<HandoverRecord> handover;
    if (cmd.handover) {
        auto r = read_handover_record(*cmd.handover);
        if (!r) {
            fmt::print(stderr, "peer: --handover: {}\n", r.error().message);
            return kExitUsage;
        }
        if (r->to != key->public_key()) {
            fmt::print(stderr, "peer: --handover: the record hands over to key {}, not to {}\n",
                       r->to.hex(), key->public_key().hex());
            return kExitUsage;
        }
        handover = *r;
    }
    return run_command([&](asio::io_context& io, asio::thread_pool& pool) {
        return publish_main(cmd, *key, handover, io, pool);
    });
}

}  // namespace seedshare
