#include "peer/discovery/trackers.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <exception>
#include <map>
#include <set>
#include <stdexcept>
#include <utility>

namespace seedshare {

namespace proto = tracker_proto;

namespace {

// Adds the peers of one answer to `out`, each once, and notes which are
// backup peers (at most `most_backups` remembered; a later answer that lists
// one as no backup takes it back).
void merge(std::vector<PeerAddress>& out, std::set<PeerAddress>& backups, std::size_t most_backups,
           const std::vector<proto::PeerEntry>& answer) {
    for (const auto& p : answer) {
        const PeerAddress a{net::normalize(p.address), p.port};
        if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
        if (!p.backup)
            backups.erase(a);
        else if (backups.size() < most_backups)
            backups.insert(a);
    }
}

std::string message_of(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const std::exception& x) {
        return x.what();
    } catch (...) {
        return "unknown error";
    }
}

// One query to one tracker, run as a coroutine of its own; it holds its client.
net::awaitable<std::vector<proto::PeerEntry>> peers_from(std::shared_ptr<TrackerClient> c,
                                                         SeedId id, std::uint16_t numwant) {
    co_return co_await c->get_peers(id, numwant);
}

net::awaitable<std::optional<std::string>> seed_from(std::shared_ptr<TrackerClient> c, SeedId id) {
    co_return co_await c->get_seed(id);
}

// One query per joined tracker in `where`, all at once; waits for every one.
// The answers (or failures) in the order of `where`; trackers not joined are
// left out.
template <class T>
struct Answer {
    HostPort tracker;
    std::optional<T> value;      // the answer
    std::exception_ptr failure;  // or why there is none
};
template <class T, class Ask>
net::awaitable<std::vector<Answer<T>>> ask_all(
    asio::any_io_executor ex,
    const std::vector<std::pair<HostPort, std::shared_ptr<TrackerClient>>>& clients, Ask ask) {
    struct Gather {
        explicit Gather(asio::any_io_executor ex) : wake(ex) {}
        asio::steady_timer wake;
        std::size_t pending = 0;
        std::vector<Answer<T>> answers;
    };
    const auto g = std::make_shared<Gather>(ex);
    for (const auto& [where, c] : clients) {
        if (!c->joined()) continue;
        const std::size_t slot = g->answers.size();
        g->answers.push_back(Answer<T>{where, std::nullopt, nullptr});
        ++g->pending;
        auto done = [g, slot](std::exception_ptr e, std::optional<T> value) {
            --g->pending;
            g->answers[slot].failure = e;
            if (!e) g->answers[slot].value = std::move(value);
            g->wake.cancel();
        };
        asio::co_spawn(ex, ask(c), std::move(done));
    }
    while (g->pending > 0) {
        g->wake.expires_at(net::Clock::time_point::max());
        asio::error_code ec;
        co_await g->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    co_return std::move(g->answers);
}

// (co_spawn wants a default-constructible result: optional.)
net::awaitable<std::optional<bool>> put_to(std::shared_ptr<TrackerClient> c,
                                           std::shared_ptr<const std::string> text) {
    co_await c->put_manifest(*text);
    co_return true;
}
net::awaitable<std::optional<std::optional<std::string>>> manifest_from(
    std::shared_ptr<TrackerClient> c, ChannelId channel) {
    co_return co_await c->get_manifest(channel);
}
net::awaitable<std::optional<std::vector<proto::ChannelPeerEntry>>> followers_from(
    std::shared_ptr<TrackerClient> c, ChannelId channel, std::uint16_t numwant) {
    co_return co_await c->channel_peers(channel, numwant);
}

}  // namespace

// find_peers queries in flight, and what they brought that no call has
// handed out yet, by seed. Shared with the queries' completion handlers.
struct Trackers::Lookups {
    struct Lookup {
        std::set<HostPort> asking;       // trackers with a query in flight
        std::vector<PeerAddress> peers;  // answers not handed out yet
        bool answered = false;           // some tracker answered since the last hand-out
        std::string last_error = "no tracker";
        std::set<asio::steady_timer*> waiters;  // find_peers calls waiting; woken by answers
    };
    std::map<SeedId, Lookup> by_seed;
    // Addresses the trackers said are backup peers (a role of the process,
    // so for every seed), at most kMostBackups.
    static constexpr std::size_t kMostBackups = 1024;
    std::set<PeerAddress> backups;

    // Forgets a seed with nothing in flight, waiting or to hand out.
    void tidy(const SeedId& id) {
        const auto it = by_seed.find(id);
        if (it == by_seed.end()) return;
        const Lookup& l = it->second;
        if (l.asking.empty() && l.waiters.empty() && !l.answered && l.peers.empty())
            by_seed.erase(it);
    }
};

Trackers::Trackers(asio::any_io_executor ex, UserId user, std::uint16_t listen_port, Logger log,
                   TrackersOptions options)
    : ex_(ex),
      user_(user),
      listen_port_(listen_port),
      log_(std::move(log)),
      options_(options),
      lookups_(std::make_shared<Lookups>()) {}

Trackers::~Trackers() {
    for (auto& [where, c] : clients_)
        c->stop();
}

std::shared_ptr<TrackerClient> Trackers::client(const HostPort& where) {
    auto it = clients_.find(where);
    if (it == clients_.end()) {
        TrackerClient::Options o;
        o.tracker = where;
        o.user = user_;
        o.listen_port = listen_port_;
        o.connect_timeout = options_.connect_timeout;
        o.request_timeout = options_.request_timeout;
        o.backup = options_.backup;
        o.clock = options_.clock;
        it = clients_.emplace(where, std::make_shared<TrackerClient>(ex_, o, log_.sub(where.str())))
                 .first;
    }
    return it->second;
}

net::awaitable<std::vector<std::string>> Trackers::connect(const std::vector<HostPort>& where) {
    std::vector<std::string> failures;
    for (const auto& w : where) {
        auto c = client(w);
        if (running_[w]) continue;
        if (const auto it = connecting_.find(w); it != connecting_.end()) {
            const auto pending = it->second;  // another caller's connect: its outcome
            asio::error_code ec;
            if (!pending->over)
                co_await pending->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (pending->failure)
                failures.push_back(*pending->failure);
            else if (!pending->over)  // our own wait was cancelled first
                failures.push_back(fmt::format("tracker {}: still connecting", w.str()));
            continue;
        }
        const auto pending = std::make_shared<Connecting>(ex_);
        connecting_.emplace(w, pending);
        bool failed = false;
        try {
            co_await c->connect();
        } catch (const std::exception& e) {
            failures.push_back(e.what());  // names the tracker
            pending->failure = e.what();
            failed = true;
        } catch (...) {
            pending->failure = fmt::format("tracker {}: connect failed", w.str());
            failures.push_back(*pending->failure);
            failed = true;
        }
        // Either way, keep it registered (and retrying) from now on.
        running_[w] = true;
        connecting_.erase(w);
        pending->over = true;
        pending->done.cancel();
        net::spawn(ex_, c->run(failed), log_, fmt::format("tracker {}", w.str()));
    }
    co_return failures;
}

void Trackers::hold(const Seed& seed, const std::vector<HostPort>& where, bool complete) {
    for (const auto& w : where)
        client(w)->hold(seed, complete);
}

void Trackers::drop(const SeedId& id, const std::vector<HostPort>& where) {
    for (const auto& w : where)
        client(w)->drop(id);
}

bool Trackers::is_backup(const PeerAddress& where) const {
    return lookups_->backups.contains(where);
}

net::awaitable<std::vector<PeerAddress>> Trackers::find_peers(const SeedId& id,
                                                              const std::vector<HostPort>& where,
                                                              std::uint16_t numwant) {
    const auto lookups = lookups_;  // `this` is not used once suspended
    const auto straggler_wait = options_.straggler_wait;
    auto& l = lookups->by_seed[id];  // stays while this call is among its waiters
    for (const auto& w : where) {
        auto c = client(w);
        if (!c->joined() || !l.asking.insert(w).second) continue;
        auto done = [lookups, id, w](std::exception_ptr e, std::vector<proto::PeerEntry> answer) {
            auto& l = lookups->by_seed[id];
            l.asking.erase(w);
            if (e) {
                l.last_error = fmt::format("{}: {}", w.str(), message_of(e));
            } else {
                merge(l.peers, lookups->backups, Lookups::kMostBackups, answer);
                l.answered = true;
            }
            for (auto* t : l.waiters)
                t->cancel();
            lookups->tidy(id);
        };
        asio::co_spawn(ex_, peers_from(std::move(c), id, numwant), std::move(done));
    }

    asio::steady_timer wake(ex_);
    // Leaves the waiters however this coroutine ends (even destroyed unresumed).
    struct Waiting {
        std::shared_ptr<Lookups> lookups;
        SeedId id;
        asio::steady_timer* timer;
        ~Waiting() {
            lookups->by_seed[id].waiters.erase(timer);
            lookups->tidy(id);
        }
    };
    l.waiters.insert(&wake);
    const Waiting waiting{lookups, id, &wake};
    std::optional<net::Clock::time_point> deadline;
    while (!l.asking.empty()) {
        if (l.answered && !deadline) deadline = net::Clock::now() + straggler_wait;
        if (deadline && net::Clock::now() >= *deadline) break;
        wake.expires_at(deadline.value_or(net::Clock::time_point::max()));
        asio::error_code ec;
        co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    const bool answered = l.answered;
    std::vector<PeerAddress> out = std::move(l.peers);
    std::string error = std::move(l.last_error);
    l.peers.clear();
    l.answered = false;
    l.last_error = "no tracker";
    if (!answered) throw std::runtime_error(error);
    co_return out;
}

net::awaitable<std::optional<std::string>> Trackers::get_seed(const SeedId& id,
                                                              const std::vector<HostPort>& where) {
    // The queries of this call; shared with their completion handlers, which
    // may run after it returned.
    struct Race {
        explicit Race(asio::any_io_executor ex) : wake(ex) {}
        asio::steady_timer wake;
        std::size_t pending = 0;
        bool answered = false;
        std::optional<std::string> text;
        std::string last_error = "no tracker";
    };
    const auto race = std::make_shared<Race>(ex_);
    for (const auto& w : where) {
        auto c = client(w);
        if (!c->joined()) continue;
        ++race->pending;
        auto done = [race, w](std::exception_ptr e, std::optional<std::string> text) {
            --race->pending;
            if (e) {
                race->last_error = fmt::format("{}: {}", w.str(), message_of(e));
            } else {
                race->answered = true;
                if (text && !race->text) race->text = std::move(text);
            }
            race->wake.cancel();
        };
        asio::co_spawn(ex_, seed_from(std::move(c), id), std::move(done));
    }
    while (race->pending > 0 && !race->text) {
        race->wake.expires_at(net::Clock::time_point::max());
        asio::error_code ec;
        co_await race->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (race->text) co_return std::move(race->text);
    if (!race->answered) throw std::runtime_error(race->last_error);
    co_return std::nullopt;
}

void Trackers::follow(const ChannelId& channel, std::uint64_t version,
                      const std::vector<HostPort>& where) {
    for (const auto& w : where)
        client(w)->follow(channel, version);
}

void Trackers::unfollow(const ChannelId& channel, const std::vector<HostPort>& where) {
    for (const auto& w : where)
        client(w)->unfollow(channel);
}

net::awaitable<std::vector<Trackers::ManifestPut>> Trackers::put_manifest(
    const std::string& text, const std::vector<HostPort>& where) {
    std::vector<std::pair<HostPort, std::shared_ptr<TrackerClient>>> clients;
    std::vector<ManifestPut> out;
    for (const auto& w : where) {
        auto c = client(w);
        if (c->joined())
            clients.emplace_back(w, std::move(c));
        else
            out.push_back(ManifestPut{w, false, TrackerError::Kind::kUnreachable,
                                      fmt::format("tracker {}: not connected", w.str())});
    }
    const auto shared = std::make_shared<const std::string>(text);
    // (Lambdas named, never written inside a co_await: see ARCHITECTURE.md.)
    auto ask = [shared](std::shared_ptr<TrackerClient> c) { return put_to(c, shared); };
    auto answers = co_await ask_all<bool>(ex_, clients, std::move(ask));
    for (auto& a : answers) {
        ManifestPut put{a.tracker, !a.failure, TrackerError::Kind::kUnreachable, {}};
        if (a.failure) {
            try {
                std::rethrow_exception(a.failure);
            } catch (const TrackerError& e) {
                put.refusal = e.kind;
                put.error = e.what();
            } catch (const std::exception& e) {
                put.error = e.what();
            }
        }
        out.push_back(std::move(put));
    }
    co_return out;
}

net::awaitable<std::vector<std::string>> Trackers::get_manifests(
    const ChannelId& channel, const std::vector<HostPort>& where) {
    std::vector<std::pair<HostPort, std::shared_ptr<TrackerClient>>> clients;
    for (const auto& w : where)
        clients.emplace_back(w, client(w));
    auto ask = [channel](std::shared_ptr<TrackerClient> c) { return manifest_from(c, channel); };
    auto answers = co_await ask_all<std::optional<std::string>>(ex_, clients, std::move(ask));
    std::vector<std::string> out;
    bool answered = false;
    std::string error = "no tracker";
    for (auto& a : answers) {
        if (a.failure) {
            error = fmt::format("{}: {}", a.tracker.str(), message_of(a.failure));
            continue;
        }
        answered = true;
        if (a.value && *a.value) out.push_back(std::move(**a.value));
    }
    if (!answered) throw std::runtime_error(error);
    co_return out;
}

net::awaitable<std::vector<proto::ChannelPeerEntry>> Trackers::channel_peers(
    const ChannelId& channel, const std::vector<HostPort>& where, std::uint16_t numwant) {
    std::vector<std::pair<HostPort, std::shared_ptr<TrackerClient>>> clients;
    for (const auto& w : where)
        clients.emplace_back(w, client(w));
    auto ask = [channel, numwant](std::shared_ptr<TrackerClient> c) {
        return followers_from(c, channel, numwant);
    };
    auto answers =
        co_await ask_all<std::vector<proto::ChannelPeerEntry>>(ex_, clients, std::move(ask));
    std::vector<proto::ChannelPeerEntry> out;
    bool answered = false;
    std::string error = "no tracker";
    for (auto& a : answers) {
        if (a.failure) {
            error = fmt::format("{}: {}", a.tracker.str(), message_of(a.failure));
            continue;
        }
        answered = true;
        for (auto& p : *a.value) {
            p.address = net::normalize(p.address);
            const auto same = std::find_if(out.begin(), out.end(), [&](const auto& o) {
                return o.address == p.address && o.port == p.port;
            });
            if (same == out.end())
                out.push_back(p);
            else
                same->version = std::max(same->version, p.version);
        }
    }
    if (!answered) throw std::runtime_error(error);
    co_return out;
}

namespace {

// Each tracker's listing stops at max_entries (a tracker listing without
// end is not read to the end before the merge's bound applies).
net::awaitable<std::optional<std::vector<proto::FileInfo>>> files_from(
    std::shared_ptr<TrackerClient> c, std::size_t max_entries) {
    co_return co_await c->list_files(max_entries);
}
net::awaitable<std::optional<std::vector<proto::ChannelInfo>>> channels_from(
    std::shared_ptr<TrackerClient> c, std::size_t max_entries) {
    co_return co_await c->list_channels(max_entries);
}

// The answers of ask_all merged by `key`, `better` deciding which entry stays.
template <class T, class Key, class Better>
std::vector<T> merge_listings(std::vector<Answer<std::vector<T>>>& answers, std::size_t max_entries,
                              Key key, Better better) {
    std::vector<T> out;
    std::map<decltype(key(std::declval<const T&>())), std::size_t> at;
    bool answered = false;
    std::string error = "no tracker";
    for (auto& a : answers) {
        if (a.failure) {
            error = fmt::format("{}: {}", a.tracker.str(), message_of(a.failure));
            continue;
        }
        answered = true;
        if (!a.value) continue;
        for (auto& item : *a.value) {
            const auto [it, fresh] = at.try_emplace(key(item), out.size());
            if (!fresh) {
                if (better(item, out[it->second])) out[it->second] = std::move(item);
                continue;
            }
            if (out.size() >= max_entries) {
                at.erase(it);
                continue;
            }
            out.push_back(std::move(item));
        }
    }
    if (!answered) throw std::runtime_error(error);
    return out;
}

}  // namespace

net::awaitable<std::vector<proto::FileInfo>> Trackers::list_files(
    const std::vector<HostPort>& where, std::size_t max_entries) {
    std::vector<std::pair<HostPort, std::shared_ptr<TrackerClient>>> clients;
    for (const auto& w : where)
        clients.emplace_back(w, client(w));
    auto ask = [max_entries](std::shared_ptr<TrackerClient> c) {
        return files_from(std::move(c), max_entries);
    };
    auto answers = co_await ask_all<std::vector<proto::FileInfo>>(ex_, clients, std::move(ask));
    auto key = [](const proto::FileInfo& f) { return f.id; };
    auto better = [](const proto::FileInfo& a, const proto::FileInfo& b) {
        return a.complete_holders > b.complete_holders;
    };
    co_return merge_listings(answers, max_entries, key, better);
}

net::awaitable<std::vector<proto::ChannelInfo>> Trackers::list_channels(
    const std::vector<HostPort>& where, std::size_t max_entries) {
    std::vector<std::pair<HostPort, std::shared_ptr<TrackerClient>>> clients;
    for (const auto& w : where)
        clients.emplace_back(w, client(w));
    auto ask = [max_entries](std::shared_ptr<TrackerClient> c) {
        return channels_from(std::move(c), max_entries);
    };
    auto answers = co_await ask_all<std::vector<proto::ChannelInfo>>(ex_, clients, std::move(ask));
    auto key = [](const proto::ChannelInfo& c) { return c.channel; };
    auto better = [](const proto::ChannelInfo& a, const proto::ChannelInfo& b) {
        return a.version > b.version;
    };
    co_return merge_listings(answers, max_entries, key, better);
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
