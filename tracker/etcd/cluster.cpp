#include "tracker/etcd/cluster.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace seedshare::tracker::etcd {

using nlohmann::json;

ClusterMember::ClusterMember(EtcdClient& client, Options options, Logger log)
    : client_(client),
      options_(std::move(options)),
      log_(std::move(log)),
      prefix_("/seedshare/" + options_.cluster + "/") {}

ClusterMember::~ClusterMember() {
    stop();
}

void ClusterMember::start() {
    lease_ = client_.grant(options_.lease_ttl);
    client_.txn(json::array(),
                json::array({op::put(prefix_ + "trackers/" + options_.advertise, "", lease_)}));
    tick();
    thread_ = std::thread([this] { run(); });
}

void ClusterMember::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (lease_ != 0) {
        try {
            client_.revoke(lease_);  // its keys go at once: another member leads now
        } catch (const EtcdError&) {
        }
    }
    leader_ = false;
}

std::string ClusterMember::leader() const {
    std::lock_guard lock(mutex_);
    return leader_name_;
}

std::vector<std::string> ClusterMember::members() const {
    std::lock_guard lock(mutex_);
    return members_;
}

void ClusterMember::run() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        wake_.wait_for(lock, options_.tick, [this] { return stopping_; });
        if (stopping_) break;
        lock.unlock();
        try {
            tick();
            if (etcd_down_) log_.info("etcd reachable again");
            etcd_down_ = false;
        } catch (const EtcdError& e) {
            leader_ = false;  // not sure any more: no housekeeping
            if (!etcd_down_) log_.error("cluster: {}", e.what());
            etcd_down_ = true;
        }
        lock.lock();
    }
}

void ClusterMember::tick() {
    // Our lease: kept alive, or a new one (our keys went with the old).
    if (!client_.keep_alive({lease_}).empty()) {
        log_.warn("cluster: this tracker's lease had ended; registering again");
        lease_ = client_.grant(options_.lease_ttl);
    }
    const std::string me = prefix_ + "trackers/" + options_.advertise;
    const std::string leader = leader_key();
    // Membership (again if it was lost), and a campaign: the leadership key
    // is created only when no one holds it.
    client_.txn(json::array({op::mod_is(me, 0)}), json::array({op::put(me, "", lease_)}));
    client_.txn(json::array({op::mod_is(leader, 0)}),
                json::array({op::put(leader, options_.advertise, lease_)}));
    const auto holder = client_.get(leader);
    const std::string now_leader = holder ? holder->value : "";
    const bool leading = holder && holder->value == options_.advertise && holder->lease == lease_;
    leader_ = leading;
    if (now_leader != last_leader_) {
        if (leading)
            log_.info("cluster {}: this tracker ({}) is the leader", options_.cluster,
                      options_.advertise);
        else
            log_.info("cluster {}: the leader is {}", options_.cluster,
                      now_leader.empty() ? "(none)" : now_leader);
        last_leader_ = now_leader;
    }
    std::vector<std::string> found;
    const std::string base = prefix_ + "trackers/";
    for (const auto& kv : client_.get_prefix(base))
        found.push_back(kv.key.substr(base.size()));
    std::sort(found.begin(), found.end());
    std::lock_guard lock(mutex_);
    leader_name_ = now_leader;
    if (found != members_) {
        log_.info("cluster {}: {} tracker{}: {}", options_.cluster, found.size(),
                  found.size() == 1 ? "" : "s", fmt::join(found, ", "));
        members_ = std::move(found);
    }
}

}  // namespace seedshare::tracker::etcd
