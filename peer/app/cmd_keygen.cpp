// peer keygen -o FILE: a new channel key (peer/storage/channel_key_file.* writes it).
#include <fmt/format.h>

#include "peer/app/commands.hpp"
#include "peer/storage/channel_key_file.hpp"

namespace seedshare {

int run_keygen(const KeygenCommand& cmd) {
    const ChannelKey key = ChannelKey::generate();
    if (auto ok = write_channel_key(cmd.out, key); !ok) {
        fmt::print(stderr, "peer: {}\n", ok.error().message);
        return kExitFailure;
    }
    // stdout: the channel id alone, for scripts; stderr: what to do with the key.
    fmt::print("{}\n", key.public_key().hex());
    fmt::print(stderr,
               "wrote the channel key {} (mode 0600): whoever holds it can publish to the "
               "channel; keep it secret and backed up\n",
               cmd.out.string());
    return kExitOk;
}

}  // namespace seedshare
