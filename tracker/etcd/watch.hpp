// The local peer table (peer_table.hpp) kept up to date by an etcd watch:
// the shell around it. start() lists the table's keys at one revision; a
// thread of its own then streams POST /v3/watch (the v3 JSON gateway, one
// long HTTP response on libcurl's multi interface, so stop() wakes it at
// once) from the next revision and applies every change. A broken stream is
// resumed from the last revision applied, on the next endpoint, after a
// backoff; a stream told its revision was compacted lists everything again.
//
// Writers of the registry wait (wait_for) until the table has the revision
// of their own write, so a tracker reads its own writes; other trackers'
// writes arrive within the watch's delay (docs/BENCHMARKS.md).
//
// Thread-safe: reads take a shared lock, the watch thread a unique one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "tracker/etcd/client.hpp"
#include "tracker/etcd/peer_table.hpp"
#include "tracker/etcd/watch_stream.hpp"

namespace seedshare::tracker::etcd {

class WatchedTable {
  public:
    struct Options {
        std::chrono::milliseconds backoff{100};       // after a broken stream, doubling
        std::chrono::milliseconds max_backoff{2000};  // up to this
        std::int64_t page = 5000;                     // keys per range while listing
    };
    WatchedTable(EtcdClient& client, std::string prefix, Options options);
    ~WatchedTable();  // stop()
    WatchedTable(const WatchedTable&) = delete;
    WatchedTable& operator=(const WatchedTable&) = delete;

    // Lists the table now (throws EtcdError when etcd cannot be reached),
    // then starts the watch thread.
    void start();
    void stop();

    // Runs `f(const PeerTable&)` under the shared lock.
    template <class F>
    auto read(F&& f) const {
        std::shared_lock lock(mutex_);
        return f(table_);
    }
    void touch(const UserId& user, std::int64_t mod, std::int64_t seen);
    // Until the table has applied `revision`, at most `limit`; at once when
    // the stream is broken (etcd away). False when it has not.
    bool wait_for(std::int64_t revision, std::chrono::milliseconds limit);

    bool streaming() const { return streaming_.load(); }
    std::uint64_t relists() const { return relists_.load(); }
    std::uint64_t restarts() const { return restarts_.load(); }

  private:
    friend struct WatchContext;
    void list();
    void run();
    WatchStep stream(const std::string& endpoint, bool& created);
    void deliver(const WatchMessage& m);

    EtcdClient& client_;
    std::string prefix_;
    Options options_;
    mutable std::shared_mutex mutex_;  // table_
    PeerTable table_;
    std::mutex wait_mutex_;
    std::condition_variable applied_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> streaming_{false};
    // The last stream failed and no new one is up yet (writers do not wait).
    std::atomic<bool> broken_{false};
    std::atomic<std::uint64_t> relists_{0}, restarts_{0};
    void* multi_ = nullptr;  // CURLM*, woken by stop()
    std::mutex stop_mutex_;
    std::condition_variable stop_cv_;
    std::thread thread_;
};

}  // namespace seedshare::tracker::etcd
