// Channels in one io_context: a subscriber and a publisher run as the
// commands run them, and what the tests compare (the files of a directory).
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "peer/channel/publisher.hpp"
#include "peer/channel/subscriber.hpp"
#include "test/support/cluster.hpp"
#include "test/support/temp_dir.hpp"

namespace seedshare::test {

using namespace std::chrono_literals;

inline ChannelKey test_key(std::uint8_t n) {
    std::array<std::uint8_t, 32> seed{};
    seed.fill(n);
    return ChannelKey::from_seed(seed);
}

// The files under `dir` (not .seedshare, not asides) and their contents.
inline std::map<std::string, std::string> tree(const std::filesystem::path& dir) {
    std::map<std::string, std::string> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
        const auto rel = e.path().lexically_relative(dir).generic_string();
        if (rel.starts_with(".seedshare") || rel.find(".seedshare-") != std::string::npos) continue;
        if (e.is_regular_file()) out[rel] = read_file(e.path());
    }
    return out;
}

struct Applied {
    std::uint64_t version;
    SyncReport report;
};

struct TestSubscriber {
    TestPeer peer;
    std::unique_ptr<Subscriber> subscriber;
    std::vector<Applied> applied;
    bool done = false;
    Subscriber::Outcome outcome = Subscriber::Outcome::kStopped;

    TestSubscriber(asio::io_context& io, asio::thread_pool& pool, const std::string& name,
                   const ChannelId& channel, const std::filesystem::path& dir,
                   const HostPort& tracker, bool once = false)
        : TestSubscriber(io, pool, name, channel, dir, std::vector<HostPort>{tracker}, once) {}

    TestSubscriber(asio::io_context& io, asio::thread_pool& pool, const std::string& name,
                   const ChannelId& channel, const std::filesystem::path& dir,
                   std::vector<HostPort> trackers, bool once = false)
        : TestSubscriber(io, pool, name, channel, dir, std::move(trackers), once, NodeOptions{}) {}

    // With the process's options (rate limits, swarm timeouts).
    TestSubscriber(asio::io_context& io, asio::thread_pool& pool, const std::string& name,
                   const ChannelId& channel, const std::filesystem::path& dir,
                   std::vector<HostPort> trackers, bool once, NodeOptions node)
        : peer(io, pool, Logger(name, LogLevel::kWarn), std::move(node)) {
        SubscriberOptions o;
        o.channel = channel;
        o.dir = dir;
        o.trackers = std::move(trackers);
        o.once = once;
        o.rescan = 100ms;
        o.tracker_poll = 500ms;
        o.mesh.tick = 50ms;
        subscriber = std::make_unique<Subscriber>(*peer.node, *peer.trackers, o, peer.log);
        net::spawn(io.get_executor(), run(), Logger("test"), "subscriber");
    }
    net::awaitable<void> run() {
        const std::function<void(const Manifest&, const SyncReport&)> said =
            [this](const Manifest& m, const SyncReport& r) {
                applied.push_back(Applied{m.version, r});
            };
        outcome = co_await subscriber->run(said);
        done = true;
    }
    std::uint64_t version() const { return applied.empty() ? 0 : applied.back().version; }
    // Returns once the subscriber has made `n` more passes of its loop and
    // asked its trackers once more (required; a bounded wait): whatever it
    // could have heard by now from its peers or trackers, it has acted on.
    net::awaitable<void> more_rounds(std::size_t n = 2) {
        // The trackers' answer first, then passes that began after it.
        const auto polls = subscriber->tracker_polls() + 1;
        const std::function<bool()> asked = [this, polls] {
            return subscriber->tracker_polls() >= polls;
        };
        REQUIRE(co_await eventually(asked, std::chrono::seconds(30)));
        const auto rounds = subscriber->rounds() + n;
        const std::function<bool()> passed = [this, rounds] {
            return subscriber->rounds() >= rounds;
        };
        REQUIRE(co_await eventually(passed, std::chrono::seconds(30)));
    }
    net::awaitable<void> stop() {
        subscriber->stop();
        co_await eventually([this] { return done; }, 10s);
        co_await peer.node->stop(1s);
        co_await peer.trackers->leave();
    }
    // As if the process were SIGKILLed: no goodbye to peers or trackers.
    void kill() {
        peer.node->abort();
        peer.trackers->abandon();
        subscriber->stop();
    }
};

// A publisher run as `peer publish` runs it, on its own peer.
struct TestPublisher {
    TestPeer peer;
    std::unique_ptr<Publisher> publisher;
    bool ready = false;
    bool done = false;
    std::string error;  // what run() threw

    // `handover`: publishing was handed to `key` by this record.
    TestPublisher(asio::io_context& io, asio::thread_pool& pool, const std::string& name,
                  const std::filesystem::path& dir, const ChannelKey& key, const HostPort& tracker,
                  std::optional<HandoverRecord> handover = std::nullopt)
        : TestPublisher(io, pool, name, dir, key, std::vector<HostPort>{tracker},
                        std::move(handover)) {}
    TestPublisher(asio::io_context& io, asio::thread_pool& pool, const std::string& name,
                  const std::filesystem::path& dir, const ChannelKey& key,
                  std::vector<HostPort> trackers,
                  std::optional<HandoverRecord> handover = std::nullopt)
        : peer(io, pool, name) {
        PublisherOptions po{dir, key,   "site", std::move(trackers),
                            {},  100ms, {},     std::move(handover)};
        po.mesh.tick = 50ms;
        publisher = std::make_unique<Publisher>(*peer.node, *peer.trackers, po, peer.log);
        net::spawn(io.get_executor(), run(), Logger("test"), "publisher");
    }
    net::awaitable<void> run() {
        const std::function<void()> on_ready = [this] { ready = true; };
        try {
            co_await publisher->run(on_ready);
        } catch (const std::exception& e) {
            error = e.what();
        }
        done = true;
    }
    std::uint64_t version() const {
        return publisher->published() ? publisher->published()->version : 0;
    }
    // Published its first version: the channel's id.
    net::awaitable<ChannelId> published() {
        const std::function<bool()> is_ready = [this] { return ready; };
        REQUIRE(co_await eventually(is_ready, 20s));
        REQUIRE(publisher->published());
        co_return publisher->channel();
    }
    // It ends within 10 s, having thrown nothing.
    net::awaitable<void> stop() {
        publisher->stop();
        CHECK(co_await eventually([this] { return done; }, 10s));
        CHECK_MESSAGE(error.empty(), error);
        co_await peer.node->stop(1s);
        co_await peer.trackers->leave();
    }
    // As if the process were SIGKILLed: no goodbye to peers or trackers.
    void kill() {
        peer.node->abort();
        peer.trackers->abandon();
        publisher->stop();
    }
};

}  // namespace seedshare::test
