#include "peer/backup/version_retention.hpp"

#include <algorithm>

namespace seedshare {

RetentionPlan plan_retention(const std::vector<KeptVersion>& kept, std::uint64_t current,
                             const std::set<SeedId>& live, std::size_t keep) {
    std::vector<const KeptVersion*> older;
    for (const auto& k : kept)
        if (k.version < current) older.push_back(&k);
    std::sort(older.begin(), older.end(),
              [](const KeptVersion* a, const KeptVersion* b) { return a->version > b->version; });
    const std::size_t stay = keep > 0 ? std::min(keep - 1, older.size()) : 0;
    std::set<std::uint64_t> staying;
    RetentionPlan plan;
    for (std::size_t i = 0; i < stay; ++i) {
        staying.insert(older[i]->version);
        for (const auto& id : older[i]->seeds)
            if (!live.contains(id)) plan.serve.insert(id);
    }
    for (const auto& k : kept)
        if (!staying.contains(k.version) && k.version != current) plan.drop.push_back(k.version);
    std::sort(plan.drop.begin(), plan.drop.end());
    plan.drop.erase(std::unique(plan.drop.begin(), plan.drop.end()), plan.drop.end());
    return plan;
}

}  // namespace seedshare
