// A real etcd member for tests, on free loopback ports, its data in a fresh
// temporary directory (under /dev/shm when there is one: etcd syncs every
// write), stopped by its PID when the object goes away. Tests that need one
// call skip_without_etcd() first: without the etcd binary the test program
// exits 77, which ctest reports as skipped.
#pragma once

#include <fmt/format.h>
#include <unistd.h>
#include <asio.hpp>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test/support/process.hpp"
#include "tracker/etcd/client.hpp"

namespace seedshare::test {

inline std::string etcd_binary() {
    for (const char* p : {"/usr/bin/etcd", "/usr/local/bin/etcd"})
        if (::access(p, X_OK) == 0) return p;
    return {};
}

inline void skip_without_etcd() {
    if (etcd_binary().empty()) {
        std::fprintf(stderr, "etcd is not installed (scripts/setup): skipped\n");
        std::_Exit(77);
    }
}

// A loopback port free at the time of asking.
inline std::uint16_t free_port() {
    asio::io_context io;
    asio::ip::tcp::acceptor a(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    return a.local_endpoint().port();
}

// One member of a cluster of `names.size()` members (all on loopback).
struct EtcdSpec {
    std::string name;
    std::uint16_t client_port = 0;
    std::uint16_t peer_port = 0;
    std::string client_url() const { return fmt::format("http://127.0.0.1:{}", client_port); }
    std::string peer_url() const { return fmt::format("http://127.0.0.1:{}", peer_port); }
};

class EtcdMember {
  public:
    // `max_txn_ops`: etcd's --max-txn-ops (its default is 128).
    EtcdMember(const EtcdSpec& me, const std::vector<EtcdSpec>& all, std::size_t max_txn_ops = 1024)
        : spec_(me) {
        const std::filesystem::path base = std::filesystem::exists("/dev/shm")
                                               ? "/dev/shm"
                                               : std::filesystem::temp_directory_path();
        std::string tmpl = (base / "seedshare-etcd-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        dir_ = tmpl;
        std::string cluster;
        for (const auto& m : all) {
            if (!cluster.empty()) cluster += ',';
            cluster += m.name;
            cluster += '=';
            cluster += m.peer_url();
        }
        argv_ = std::vector<std::string>{etcd_binary(),
                                         "--name",
                                         me.name,
                                         "--data-dir",
                                         dir_.string(),
                                         "--listen-client-urls",
                                         me.client_url(),
                                         "--advertise-client-urls",
                                         me.client_url(),
                                         "--listen-peer-urls",
                                         me.peer_url(),
                                         "--initial-advertise-peer-urls",
                                         me.peer_url(),
                                         "--initial-cluster",
                                         cluster,
                                         "--initial-cluster-token",
                                         "seedshare-test",
                                         "--max-txn-ops",
                                         std::to_string(max_txn_ops),
                                         "--max-request-bytes",
                                         "8388608",
                                         "--log-level",
                                         "error",
                                         "--heartbeat-interval",
                                         "50",
                                         "--election-timeout",
                                         "500"};
        process_ = std::make_unique<Process>(argv_);
    }
    ~EtcdMember() {
        stop();
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
    // SIGKILL, reaped (the caller first checks it was running: running()).
    void stop() {
        if (!process_) return;
        process_->signal(SIGKILL);
        process_->wait(10);
        process_.reset();
    }
    bool running() { return process_ && !process_->wait(0).has_value(); }
    // Starts it again on its data directory and ports, once stopped.
    void restart() {
        if (!process_) process_ = std::make_unique<Process>(argv_);
    }
    const EtcdSpec& spec() const { return spec_; }

  private:
    EtcdSpec spec_;
    std::filesystem::path dir_;
    std::vector<std::string> argv_;
    std::unique_ptr<Process> process_;
};

// `n` members on fresh ports; ready() waits until the cluster answers.
class EtcdCluster {
  public:
    explicit EtcdCluster(std::size_t n, std::size_t max_txn_ops = 1024) {
        skip_without_etcd();
        for (std::size_t i = 0; i < n; ++i)
            specs_.push_back(EtcdSpec{fmt::format("m{}", i), free_port(), free_port()});
        for (const auto& s : specs_)
            members_.push_back(std::make_unique<EtcdMember>(s, specs_, max_txn_ops));
        wait_ready();
    }
    std::vector<std::string> endpoints() const {
        std::vector<std::string> out;
        for (const auto& s : specs_)
            out.push_back(s.client_url());
        return out;
    }
    std::string endpoints_text() const {
        std::string out;
        for (const auto& e : endpoints()) {
            if (!out.empty()) out += ',';
            out += e;
        }
        return out;
    }
    EtcdMember& member(std::size_t i) { return *members_.at(i); }
    std::size_t size() const { return members_.size(); }
    // Until a write succeeds through any member (bounded: 30 s).
    void wait_ready() {
        tracker::etcd::EtcdClient c(
            {endpoints(), std::chrono::milliseconds(1000), 1, std::chrono::milliseconds(100)});
        for (int i = 0; i < 300; ++i) {
            try {
                c.call("/v3/kv/put", {{"key", tracker::etcd::base64("ready")}, {"value", ""}});
                return;
            } catch (const tracker::etcd::EtcdError&) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
        throw std::runtime_error("etcd did not become ready within 30 s");
    }

  private:
    std::vector<EtcdSpec> specs_;
    std::vector<std::unique_ptr<EtcdMember>> members_;
};

}  // namespace seedshare::test
