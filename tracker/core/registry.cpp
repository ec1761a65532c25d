#include "tracker/core/registry.hpp"

#include <algorithm>

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

Result<ManifestSummary> check_manifest_for_upload(std::string_view text) {
    auto m = parse_manifest(text);
    if (!m) return m.error();
    if (auto v = verify_manifest_signature(*m); !v) return v.error();
    ManifestSummary out;
    out.channel = m->channel;
    out.version = m->version;
    out.body_hash = manifest_body_hash(*m);
    out.chain = handover_chain_ids(m->channel, m->handovers);
    out.name = std::move(m->name);
    out.files = static_cast<std::uint32_t>(m->files.size());  // <= kMaxManifestFiles
    for (const auto& f : m->files)
        out.size += f.length;
    return out;
}

HeadChange change_of_head(const std::optional<ManifestVersion>& stored,
                          const ManifestVersion& candidate) {
    // A head kept with its last chain id only (its text no longer parsed at
    // the upgrade that stores whole chains): when the candidate's chain names
    // that id further on, the ids before it are the head's too (each id
    // hashes the one before).
    std::optional<ManifestVersion> head = stored;
    if (head && head->chain.size() == 1) {
        const auto at = std::find(candidate.chain.begin(), candidate.chain.end(), head->chain[0]);
        if (at != candidate.chain.end()) head->chain.assign(candidate.chain.begin(), std::next(at));
    }
    switch (freshness(head, candidate)) {
        case Freshness::kNewer:
            return HeadChange::kReplace;
        case Freshness::kSame:
            return HeadChange::kAlreadyHead;
        case Freshness::kOlder:
            return HeadChange::kStale;
        case Freshness::kConflict:
            return conflict_winner(*head, candidate) == candidate ? HeadChange::kReplace
                                                                  : HeadChange::kConflictLost;
        case Freshness::kForked:
            return fork_winner(*head, candidate) == candidate ? HeadChange::kReplace
                                                              : HeadChange::kHandedOver;
        case Freshness::kHandedOver:
            return HeadChange::kHandedOver;
    }
    return HeadChange::kStale;
}

ManifestVersion head_version(std::uint64_t number, const Digest& body_hash,
                             std::vector<Digest> chain) {
    return ManifestVersion{number, body_hash, std::move(chain)};
}

std::optional<std::vector<Digest>> chain_of(std::string_view manifest_text) {
    const auto m = parse_manifest(manifest_text);
    if (!m) return std::nullopt;
    return handover_chain_ids(m->channel, m->handovers);
}

}  // namespace seedshare::tracker
