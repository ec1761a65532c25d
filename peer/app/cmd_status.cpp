// peer status DIR: where a channel directory stands: its channel, the version
// applied (or published) here, the latest a tracker knows, and what differs
// locally (from stamps, without reading any file). Reads the state without
// taking its lock, so it works while `subscribe` runs.
#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "common/core/numbers.hpp"
#include "common/core/plural.hpp"
#include "common/env/env.hpp"
#include "common/model/manifest.hpp"
#include "peer/app/commands.hpp"
#include "peer/app/run_command.hpp"
#include "peer/channel/channel_store.hpp"
#include "peer/channel/directory_check.hpp"
#include "peer/channel/local_scan.hpp"
#include "peer/channel/local_status.hpp"
#include "peer/discovery/trackers.hpp"

namespace seedshare {

namespace fs = std::filesystem;

namespace {

std::string when(std::int64_t unix_seconds) {
    const std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

// The latest version the trackers know, checked; nullopt when none answered with one.
net::awaitable<std::optional<Manifest>> latest_at(const std::vector<HostPort>& where,
                                                  const ChannelId& channel, asio::io_context& io) {
    Logger log("peer", LogLevel::kError);
    Trackers trackers(io.get_executor(), random_user_id(), 0, log);
    std::optional<Manifest> best;
    const auto failures = co_await trackers.connect(where);
    if (failures.size() < where.size()) {
        try {
            for (const auto& text : co_await trackers.get_manifests(channel, where)) {
                auto m = parse_verified_manifest(text, channel);
                if (!m) continue;
                if (replaces_held(version_of(*m),
                                  best ? std::optional(version_of(*best)) : std::nullopt))
                    best = std::move(*m);
            }
        } catch (const std::exception&) {
        }
    }
    co_await trackers.leave();
    co_return best;
}

// A free function: its parameters live in the coroutine frame.
net::awaitable<int> print_latest(std::vector<HostPort> where, ChannelId channel,
                                 std::optional<ManifestVersion> held, asio::io_context& io) {
    auto m = co_await latest_at(where, channel, io);
    if (!m)
        fmt::print("latest     unknown (no tracker answered with a version)\n");
    else if (!replaces_held(version_of(*m), held))
        fmt::print("latest     version {} (up to date)\n", m->version);
    else
        fmt::print("latest     version {}, published {} (not applied yet)\n", m->version,
                   when(m->time));
    co_return kExitOk;
}

std::string age(std::int64_t seconds) {
    if (seconds < 120) return fmt::format("{} s", seconds);
    if (seconds < 7200) return fmt::format("{} min", seconds / 60);
    if (seconds < 172800) return fmt::format("{} h", seconds / 3600);
    return fmt::format("{} days", seconds / 86400);
}

// --verify: every file of `version` re-hashed; every difference listed.
int print_verify(const std::filesystem::path& dir, const Manifest& version, Env& env) {
    const auto known = [&](const SeedId& id) -> std::optional<Seed> {
        auto s = ChannelStore::inspect_seed(dir, id, env);
        if (auto* seed = std::get_if<std::optional<Seed>>(&s)) return *seed;
        return std::nullopt;  // a bad stored seed: the file is checked by its own seed id
    };
    auto found = check_directory(dir, version, env, known);
    if (!found) {
        fmt::print(stderr, "peer: {}\n", found.error().message);
        return kExitFailure;
    }
    if (found->empty()) {
        fmt::print("verify     clean: {} as version {} says\n",
                   count_of(version.files.size(), "file"), version.version);
        return kExitOk;
    }
    fmt::print("verify     {} from version {}:\n", count_of(found->size(), "difference"),
               version.version);
    for (const auto& d : *found) {
        if (d.detail.empty())
            fmt::print("  {:<12} {}\n", describe(d.finding), d.path);
        else
            fmt::print("  {:<12} {} ({})\n", describe(d.finding), d.path, d.detail);
    }
    return kExitDiffers;
}

}  // namespace

int run_status(const StatusCommand& cmd) {
    Env& env = Env::posix();
    auto state = ChannelStore::inspect(cmd.dir, env);
    if (auto* e = std::get_if<StoreError>(&state)) {
        fmt::print(stderr, "peer: {}\n", e->message);
        return kExitFailure;
    }
    const auto& view = std::get<ChannelStore::View>(state);
    // A publisher's directory records what it published.
    std::optional<Manifest> published;
    if (auto text = env.read_file(cmd.dir / ".seedshare" / "published", limits::kMaxManifestBytes);
        text) {
        if (auto m = parse_manifest(*text); m) published = std::move(*m);
    }
    std::optional<Manifest> applied;
    if (view.manifest)
        if (auto m = parse_manifest(*view.manifest); m) applied = std::move(*m);
    std::optional<ChannelId> channel = view.channel;
    if (!channel && published) channel = published->channel;
    if (!channel) {
        fmt::print(stderr,
                   "peer: {} is not a channel directory (nothing published or "
                   "subscribed there)\n",
                   cmd.dir.string());
        return kExitUsage;
    }
    fmt::print("directory  {}\n", cmd.dir.string());
    fmt::print("channel    {}\n", channel->hex());
    // A publisher that recovered its files from the network holds both: the
    // later version is where DIR stands.
    const bool use_applied = applied && !(published && published->version > applied->version);
    const Manifest* here = use_applied ? &*applied : published ? &*published : nullptr;
    if (here) {
        fmt::print("name       {}\n", here->name);
        fmt::print("{}  version {}, {}, {}, published {}\n",
                   use_applied ? "applied  " : "published", here->version,
                   count_of(here->files.size(), "file"), format_bytes(manifest_bytes(*here)),
                   when(here->time));
    } else {
        fmt::print("applied    none yet\n");
    }
    if (view.last_heard) {
        const std::int64_t now = static_cast<std::int64_t>(std::time(nullptr));
        fmt::print("heard      {} ago, {} (the channel's head last confirmed)\n",
                   age(std::max<std::int64_t>(0, now - *view.last_heard)), when(*view.last_heard));
    } else if (use_applied) {
        fmt::print("heard      never (no tracker or peer of the channel confirmed its head yet)\n");
    }
    if (!cmd.trackers.empty()) {
        const std::optional<ManifestVersion> held =
            here ? std::optional(version_of(*here)) : std::nullopt;
        run_command([&](asio::io_context& io, asio::thread_pool&) {
            return print_latest(cmd.trackers, *channel, held, io);
        });
    }
    if (cmd.verify) {
        if (!here) {
            fmt::print(stderr, "peer: {}: no version to verify against (none applied yet)\n",
                       cmd.dir.string());
            return kExitFailure;
        }
        // The version as signed: its text checked again, signature included.
        const std::string text = format_manifest(*here);
        if (auto checked = parse_verified_manifest(text, *channel); !checked) {
            fmt::print(stderr, "peer: the version recorded in {} does not check: {}\n",
                       cmd.dir.string(), checked.error().message);
            return kExitFailure;
        }
        return print_verify(cmd.dir, *here, env);
    }
    if (view.manifest) {
        auto scan = scan_local(cmd.dir, env);
        if (!scan) {
            fmt::print(stderr, "peer: {}\n", scan.error().message);
            return kExitFailure;
        }
        auto changes = local_changes(view.recorded, *scan);
        if (!changes) {
            fmt::print(stderr, "peer: {}\n", changes.error().message);
            return kExitFailure;
        }
        if (changes->empty()) {
            fmt::print("local      no published file differs\n");
        } else {
            fmt::print("local      {} differ (restored by the subscriber at its next rescan):\n",
                       count_of(changes->size(), "published file"));
            for (const auto& c : *changes)
                fmt::print("  {:<12} {}\n", describe(c.change), c.path);
        }
    }
    return kExitOk;
}

}  // namespace seedshare
