// A channel's secret key on disk (seeds/MANIFEST.md, "Channel key files"):
//
//   seedshare-channel-key 1
//   secret <64 lowercase hex: the 32-byte RFC 8032 seed>
//
// Written once, mode 0600, never over an existing file; read only when the
// file is the owner's alone. Everything through an Env; all of it blocks
// (call it off the I/O thread).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "common/core/result.hpp"
#include "common/crypto/ed25519.hpp"
#include "common/env/env.hpp"

namespace seedshare {

// The file's text. It holds the secret: wipe it when done (write_channel_key does).
std::string format_channel_key_file(const ChannelKey& key);
// Strict: exactly the two lines above. Errors never quote the secret.
Result<ChannelKey> parse_channel_key_file(std::string_view text);

// Creates `path` with O_CREAT|O_EXCL and mode 0600, writes the key, fsyncs
// the file and its directory. An existing file (or symlink) is never
// touched; a failure after creating removes what was created.
Status write_channel_key(const std::filesystem::path& path, const ChannelKey& key,
                         Env& env = Env::posix());

// Reads a key file: refused when not a regular file, when group or others
// have any access to it ("permissions 0644 are too open", as ssh says), when
// above limits::kMaxChannelKeyFileBytes, or when malformed. Errors name the file.
Result<ChannelKey> read_channel_key(const std::filesystem::path& path, Env& env = Env::posix());

}  // namespace seedshare
