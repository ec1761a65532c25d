#include "peer/backup/backup_planner.hpp"

#include "common/core/numbers.hpp"

#include <algorithm>
#include <tuple>

namespace seedshare {

const char* describe(BackupSkip skip) {
    switch (skip) {
        case BackupSkip::kBeyondQuota:
            return "it does not fit in --max-size";
        case BackupSkip::kSeedLimit:
            return "the backup holds its limit of seeds";
        case BackupSkip::kSourceLimit:
            return "its holders have their limit of seeds here";
    }
    return "skipped";
}

BackupPlan plan_backup(const BackupState& s, const BackupLimits& limits) {
    BackupPlan plan;
    std::uint64_t used = s.others;
    for (const auto& [id, length] : s.held)
        used = add_saturating(used, length);
    for (const auto& [id, length] : s.fetching)
        used = add_saturating(used, length);
    std::size_t count = s.held.size() + s.fetching.size();
    std::map<std::string, std::size_t> per_source;
    auto count_sources = [&](const SeedId& id) {
        const auto it = s.sources.find(id);
        if (it == s.sources.end()) return;
        for (const auto& source : it->second)
            ++per_source[source];
    };
    for (const auto& [id, length] : s.held)
        count_sources(id);
    for (const auto& [id, length] : s.fetching)
        count_sources(id);

    std::vector<const ListedSeed*> wanted;
    std::set<SeedId> seen;
    for (const auto& l : s.listed) {
        if (s.held.contains(l.id) || s.fetching.contains(l.id) || s.resting.contains(l.id))
            continue;
        if (l.complete_holders == 0)
            continue;  // nobody to fetch it from (a tracker keeps
                       // seeds whose holders left)
        if (!seen.insert(l.id).second) continue;
        wanted.push_back(&l);
    }
    std::sort(wanted.begin(), wanted.end(), [](const ListedSeed* a, const ListedSeed* b) {
        return std::tie(a->complete_holders, a->name, a->id) <
               std::tie(b->complete_holders, b->name, b->id);
    });

    std::uint64_t started_bytes = 0;  // of the fetches this plan starts
    std::size_t fetches = s.fetching.size();
    // A seed not fetched is still looked up once (within the rate): the
    // backup then knows its holders and names them to a getter that asks
    // it (the directory role of note 003).
    const auto skip = [&](const ListedSeed* l, BackupSkip why) {
        plan.skipped.emplace_back(*l, why);
        if (!s.sources.contains(l->id) && plan.lookup.size() < s.new_allowance)
            plan.lookup.push_back(l->id);
    };
    for (const ListedSeed* l : wanted) {
        if (limits.max_size > 0 && (used > limits.max_size || l->length > limits.max_size - used)) {
            skip(l, BackupSkip::kBeyondQuota);
            continue;
        }
        if (count >= limits.max_seeds) {
            skip(l, BackupSkip::kSeedLimit);
            continue;
        }
        const auto sources = s.sources.find(l->id);
        if (sources == s.sources.end()) {
            if (plan.lookup.size() < s.new_allowance)
                plan.lookup.push_back(l->id);
            else
                ++plan.waiting;
            continue;
        }
        const bool room = std::any_of(
            sources->second.begin(), sources->second.end(), [&](const std::string& source) {
                const auto n = per_source.find(source);
                return n == per_source.end() || n->second < limits.max_per_source;
            });
        if (!room) {
            plan.skipped.emplace_back(*l, BackupSkip::kSourceLimit);
            continue;
        }
        if (fetches >= limits.max_fetches || plan.disk_full) {
            ++plan.waiting;
            continue;
        }
        if (s.free_disk) {
            const std::uint64_t free =
                *s.free_disk > started_bytes ? *s.free_disk - started_bytes : 0;
            if (free < limits.disk_reserve || free - limits.disk_reserve < l->length) {
                plan.disk_full = true;
                ++plan.waiting;
                continue;
            }
        }
        plan.fetch.push_back(*l);
        started_bytes += l->length;
        used += l->length;
        ++count;
        ++fetches;
        for (const auto& source : sources->second)
            ++per_source[source];
    }
    return plan;
}

}  // namespace seedshare
