// `peer status DIR --verify`: is DIR exactly the latest signed version held
// here? Every file of the version is re-hashed and compared with its seed;
// every difference is reported: a file missing, edited (its content is not
// the version's), not a regular file (a directory, a link, a special file at
// its path), and every extra file DIR holds that the version does not name.
//
// compare_to_version is the pure decision (what to hash, then what differs,
// from the scan and the hashing results); check_directory is the shell that
// scans DIR and hashes (blocking: a command's thread or the pool).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.hpp"
#include "common/env/env.hpp"
#include "common/model/manifest.hpp"
#include "common/model/seed.hpp"
#include "peer/channel/sync_state.hpp"

namespace seedshare {

enum class Finding : std::uint8_t {
    kMissing,     // the version names it; nothing is at its path
    kEdited,      // a regular file whose content is not the version's
    kNotAFile,    // a directory, a symlink or a special file where the version has a file
    kExtra,       // a file (or link, special file) the version does not name
    kUnreadable,  // a regular file that could not be read to the end
};
std::string_view describe(Finding f);

struct DirectoryDifference {
    std::string path;
    Finding finding = Finding::kEdited;
    std::string detail;  // kUnreadable: why
    bool operator==(const DirectoryDifference&) const = default;
};

// What hashing one file of the version said.
struct HashVerdict {
    bool matches = false;              // the content is the version's
    std::optional<std::string> error;  // could not be read (then `matches` is meaningless)
};

// The version's files that are regular files on disk: those to hash.
std::vector<std::string> files_to_hash(const std::vector<ManifestEntry>& files,
                                       const std::vector<LocalEntry>& scan);

// Every difference, sorted by path. `hashed` holds a verdict for every path
// files_to_hash answered (a path without one counts as unreadable).
std::vector<DirectoryDifference> compare_to_version(
    const std::vector<ManifestEntry>& files, const std::vector<LocalEntry>& scan,
    const std::map<std::string, HashVerdict>& hashed);

// The shell: scans DIR (local_scan.hpp), hashes each file of `version`
// (make_seed) and compares it with its seed: with `known_seed(id)` when it
// answers one (length and whole-file hash), else by the seed id of what is
// on disk (the publisher's seeds are made from the files themselves).
// Fails when DIR cannot be scanned.
Result<std::vector<DirectoryDifference>> check_directory(
    const std::filesystem::path& dir, const Manifest& version, Env& env,
    const std::function<std::optional<Seed>(const SeedId&)>& known_seed);

}  // namespace seedshare
