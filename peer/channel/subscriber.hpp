// What `peer subscribe CHANNEL DIR` does: brings DIR to the channel's latest
// version, then follows it: every new version is applied (only what changed
// crosses the network: sync_executor.hpp), the files held are served to the
// other subscribers, and a published file the user edits or deletes is
// noticed within a rescan and restored (the edited copy kept aside).
//
// Where versions come from: the channel's mesh (peers that follow it pass
// each new version on, channel_mesh.hpp) and the trackers (asked at start
// and every `tracker_poll`). Every manifest is checked before anything is
// done with it: parsed strictly, this channel's, signed by its key, and
// superseding the version held (never back: a lower number is a rollback
// and refused; the same number with another body is a conflict settled as
// everywhere, by the lower body hash). Seeds are fetched by id and checked
// against it.
//
// State: DIR/.seedshare (channel_store.hpp): one process per directory.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/log.hpp"
#include "common/model/manifest.hpp"
#include "common/net/wakeup.hpp"
#include "peer/channel/channel_mesh.hpp"
#include "peer/channel/channel_store.hpp"
#include "peer/channel/local_status.hpp"
#include "peer/channel/sync_executor.hpp"
#include "peer/channel/version_keeper.hpp"

namespace seedshare {

struct SubscriberOptions {
    ChannelId channel;
    std::filesystem::path dir;
    std::vector<HostPort> trackers;
    // Exit once the latest version known is applied.
    bool once = false;
    // How often DIR is checked for local edits of published files.
    std::chrono::milliseconds rescan{2000};
    // How often the trackers are asked for the latest version and for peers
    // (the mesh brings new versions sooner).
    std::chrono::milliseconds tracker_poll{10000};
    // --once: how long to wait for anyone to know a version before giving up.
    std::chrono::milliseconds find_timeout{15000};
    // After a failed sync, the wait before trying again.
    std::chrono::milliseconds retry{3000};
    // Asking the channel's peers for a version's seeds gives up when none
    // arrived for this long (the trackers are asked for the rest).
    std::chrono::milliseconds seed_patience{5000};
    ChannelMeshOptions mesh;
    // Keeps versions the subscriber moves on from (the backup peer); none:
    // DIR holds the applied version only, as for any subscriber.
    std::shared_ptr<VersionKeeper> keeper;
    // Whether a version may be applied (the backup peer's --max-size): a
    // reason when not. A version refused is left (said once) and asked
    // about again each round, so room made later lets it in.
    std::function<std::optional<std::string>(const Manifest&)> admit;
};

class Subscriber {
  public:
    enum class Outcome {
        kStopped,       // stop() (SIGINT/SIGTERM)
        kUpToDate,      // --once: the latest version known is applied
        kNoVersion,     // --once: nobody knew a version of the channel in time
        kBusy,          // another process works on DIR
        kOtherChannel,  // DIR follows another channel
        kFailed,        // DIR's state cannot be read or written (message())
    };

    Subscriber(Node& node, Trackers& trackers, SubscriberOptions options, Logger log);
    ~Subscriber();

    // `on_applied` runs after each version is applied (the command prints it).
    net::awaitable<Outcome> run(
        std::function<void(const Manifest&, const SyncReport&)> on_applied = {});
    void stop();

    const std::string& message() const { return message_; }
    const std::optional<Manifest>& applied() const { return applied_; }
    const std::optional<Manifest>& latest() const { return latest_; }
    const std::shared_ptr<ChannelMesh>& mesh() const { return mesh_; }
    // The last version options_.admit refused (0: none).
    std::uint64_t refused_version() const { return refused_version_; }
    // Published files the user edited or deleted that were restored.
    std::size_t repairs() const { return repairs_; }
    // Passes of the follow loop that found nothing newer to apply (DIR
    // checked, and repaired if it differed), and completed asks of the
    // trackers: a test waits for more of each to see that nothing happens.
    std::size_t rounds() const { return rounds_; }
    std::size_t tracker_polls() const { return tracker_polls_; }

  private:
    // A verified manifest of this channel that supersedes what is held or
    // pending becomes the latest; returns whether it did.
    bool consider(Manifest m, std::shared_ptr<const std::string> text, const std::string& from);
    // A latest version known that replaces the applied one (or none applied).
    bool latest_pending() const;
    // Whether options_.admit lets `m` be applied now (said once per version).
    bool admitted(const Manifest& m);
    // The channel's head was confirmed (a tracker answered with a valid
    // version, or a peer of the channel is connected): STATE/heard, written
    // at most every kHeardEvery (what `peer status` shows as staleness).
    void heard();
    net::awaitable<void> ask_trackers();
    net::awaitable<void> tracker_loop();
    net::awaitable<std::optional<std::vector<TargetFile>>> seeds_of(const Manifest& m);
    net::awaitable<bool> apply(const Manifest& m, std::shared_ptr<const std::string> text,
                               const std::function<void(const Manifest&, const SyncReport&)>& said);
    net::awaitable<std::vector<LocalDifference>> local_differences();
    net::awaitable<void> serve_applied(std::vector<std::unique_ptr<FileTransfer>> downloaded);
    net::awaitable<void> stop_serving(const std::vector<std::string>& paths);
    net::awaitable<void> wait(std::chrono::milliseconds d);

    Node& node_;
    Trackers& trackers_;
    SubscriberOptions options_;
    Logger log_;
    std::optional<ChannelStore> store_;
    std::shared_ptr<ChannelMesh> mesh_;
    std::optional<Manifest> applied_;
    std::optional<Manifest> latest_;  // the best verified version known (may equal applied_)
    std::shared_ptr<const std::string> latest_text_;
    std::uint64_t refused_version_ = 0;  // the last version options_.admit refused
    // The files of the applied version being served, by path.
    std::map<std::string, std::unique_ptr<FileTransfer>> serving_;
    std::atomic<bool> cancel_{false};
    net::Wakeup wake_;  // notified when a newer version is known, or stop()
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    net::ClockTimer* poll_wait_ = nullptr;
    net::ClockTimer* holder_wait_ = nullptr;  // seeds_of()'s wait for a version's holders, if any
    bool trackers_answered_ = false;
    std::optional<std::chrono::steady_clock::time_point> heard_written_;
    std::size_t repairs_ = 0;
    std::size_t rounds_ = 0;
    std::size_t tracker_polls_ = 0;
    std::string message_;
    bool stopping_ = false;
};

}  // namespace seedshare
