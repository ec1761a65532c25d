#include "peer/trackers.hpp"

#include <fmt/format.h>

namespace seedshare {

Trackers::Trackers(asio::any_io_executor ex, UserId user, std::uint16_t listen_port, Logger log)
    : ex_(ex), user_(user), listen_port_(listen_port), log_(std::move(log)) {}

Trackers::~Trackers() {
    for (auto& [where, c] : clients_)
        c->stop();
}

TrackerClient& Trackers::client(const HostPort& where) {
    auto it = clients_.find(where);
    if (it == clients_.end()) {
        TrackerClient::Options o;
        o.tracker = where;
        o.user = user_;
        o.listen_port = listen_port_;
        it = clients_.emplace(where, std::make_unique<TrackerClient>(ex_, o, log_.sub(where.str())))
                 .first;
    }
    return *it->second;
}

net::awaitable<std::vector<std::string>> Trackers::connect(const std::vector<HostPort>& where) {
    std::vector<std::string> failures;
    for (const auto& w : where) {
        auto& c = client(w);
        if (running_[w]) continue;
        try {
            co_await c.connect();
        } catch (const std::exception& e) {
            failures.push_back(e.what());  // names the tracker
        }
        // Either way, keep it registered (and retrying) from now on.
        running_[w] = true;
        net::spawn(ex_, c.run(), log_, fmt::format("tracker {}", w.str()));
    }
    co_return failures;
}

void Trackers::hold(const Seed& seed, const std::vector<HostPort>& where, bool complete) {
    for (const auto& w : where)
        client(w).hold(seed, complete);
}

void Trackers::drop(const SeedId& id, const std::vector<HostPort>& where) {
    for (const auto& w : where)
        client(w).drop(id);
}

net::awaitable<std::vector<PeerAddress>> Trackers::find_peers(const SeedId& id,
                                                              const std::vector<HostPort>& where,
                                                              std::uint16_t numwant) {
    std::vector<PeerAddress> out;
    std::string last_error = "no tracker";
    bool answered = false;
    for (const auto& w : where) {
        auto& c = client(w);
        if (!c.joined()) continue;
        try {
            for (const auto& p : co_await c.get_peers(id, numwant)) {
                const PeerAddress a{net::normalize(p.address), p.port};
                if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
            }
            answered = true;
        } catch (const std::exception& e) {
            last_error = fmt::format("{}: {}", w.str(), e.what());
        }
    }
    if (!answered) throw std::runtime_error(last_error);
    co_return out;
}

net::awaitable<std::optional<std::string>> Trackers::get_seed(const SeedId& id,
                                                              const std::vector<HostPort>& where) {
    std::string last_error = "no tracker";
    bool answered = false;
    for (const auto& w : where) {
        auto& c = client(w);
        if (!c.joined()) continue;
        try {
            auto text = co_await c.get_seed(id);
            answered = true;
            if (text) co_return text;
        } catch (const std::exception& e) {
            last_error = fmt::format("{}: {}", w.str(), e.what());
        }
    }
    if (!answered) throw std::runtime_error(last_error);
    co_return std::nullopt;
}

void Trackers::abandon() {
    for (auto& [where, c] : clients_)
        c->stop();
}

net::awaitable<void> Trackers::leave() {
    for (auto& [where, c] : clients_) {
        if (c->joined()) {
            try {
                co_await c->leave();
            } catch (const std::exception& e) {
                log_.debug("leaving {}: {}", where.str(), e.what());
            }
        }
        c->stop();
    }
}

}  // namespace seedshare
