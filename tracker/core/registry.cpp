#include "tracker/core/registry.hpp"

namespace seedshare::tracker {

std::int64_t system_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Result<ParsedSeed> parse_seed_for_upload(std::string_view text) {
    auto seed = parse_seed(text);
    if (!seed) return seed.error();
    const SeedId id = seed->id();
    return ParsedSeed{std::move(*seed), id};
}

Result<ManifestSummary> check_manifest_for_upload(std::string_view) {
    // TEMPORARY until branch `manifest` (parser, signature) is merged.
    return Error{"this tracker cannot check manifests yet"};
}

}  // namespace seedshare::tracker
