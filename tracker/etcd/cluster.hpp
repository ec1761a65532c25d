// This tracker as a member of a cluster on etcd: it registers itself under
// "/seedshare/<cluster>/trackers/<advertised address>" with a short lease,
// and campaigns for the leadership key "/seedshare/<cluster>/leader" (a
// leased key created only when absent: one holder at a time; when the leader
// dies its lease ends and another member takes the key within the lease TTL
// plus one tick). The leader does the cluster-wide housekeeping (the sweep);
// its sweep writes are guarded by a compare on the leadership key
// (EtcdRegistry::guard_sweeps), so a deposed leader changes nothing.
//
// A thread of its own ticks every `tick` (keep-alive, membership, campaign)
// and logs when the leader or the members change. is_leader(), leader(),
// members() and etcd_reachable() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/core/log.hpp"
#include "tracker/etcd/client.hpp"

namespace seedshare::tracker::etcd {

class ClusterMember {
  public:
    struct Options {
        std::string cluster = "default";
        std::string advertise;  // HOST:PORT peers reach this tracker at
        std::chrono::seconds lease_ttl{3};
        std::chrono::milliseconds tick{500};
    };
    ClusterMember(EtcdClient& client, Options options, Logger log);
    ~ClusterMember();  // stop()
    ClusterMember(const ClusterMember&) = delete;
    ClusterMember& operator=(const ClusterMember&) = delete;

    // Registers and starts the thread. Throws EtcdError when etcd cannot be reached.
    void start();
    // Resigns (deletes its keys, revokes its lease) and joins the thread.
    void stop();

    bool is_leader() const { return leader_.load(); }
    // The leader's address as last seen (empty: none known).
    std::string leader() const;
    // False while the last tick failed to reach etcd.
    bool etcd_reachable() const { return !etcd_down_.load(); }
    // The trackers of the cluster (HOST:PORT), sorted; this one included.
    std::vector<std::string> members() const;
    // The leadership key and the value it holds while this member leads.
    std::string leader_key() const { return prefix_ + "leader"; }
    const std::string& identity() const { return options_.advertise; }

  private:
    void tick();
    void run();

    EtcdClient& client_;
    Options options_;
    Logger log_;
    std::string prefix_;
    std::int64_t lease_ = 0;
    std::atomic<bool> leader_{false};
    std::string last_leader_;
    mutable std::mutex mutex_;
    std::vector<std::string> members_;
    std::atomic<bool> etcd_down_{false};
    std::string leader_name_;  // guarded by mutex_
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace seedshare::tracker::etcd
