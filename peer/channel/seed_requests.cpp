#include "peer/channel/seed_requests.hpp"

namespace seedshare {

SeedRequests::SeedRequests(const std::vector<SeedId>& wanted, std::size_t per_link)
    : per_link_(per_link == 0 ? 1 : per_link) {
    for (const auto& id : wanted) {
        wanted_.try_emplace(id);
        pending_.insert(id);
    }
}

void SeedRequests::link_up(LinkKey link) {
    links_.try_emplace(link, 0);
}

void SeedRequests::link_down(LinkKey link) {
    const auto l = links_.find(link);
    if (l == links_.end()) return;
    const bool any = l->second > 0;
    links_.erase(l);
    if (!any) return;
    for (auto& [id, w] : wanted_) {
        if (w.at != link) continue;
        w.at.reset();
        w.tried.insert(link);
        pending_.insert(id);
        --outstanding_;
    }
}

std::vector<SeedId> SeedRequests::assign(LinkKey link) {
    std::vector<SeedId> out;
    const auto l = links_.find(link);
    if (l == links_.end()) return out;
    for (auto it = pending_.begin(); it != pending_.end() && l->second < per_link_;) {
        Want& w = wanted_.at(*it);
        if (w.tried.contains(link)) {
            ++it;
            continue;
        }
        w.at = link;
        ++l->second;
        ++outstanding_;
        out.push_back(*it);
        it = pending_.erase(it);
    }
    return out;
}

bool SeedRequests::outstanding(LinkKey link, const SeedId& id) const {
    const auto w = wanted_.find(id);
    return w != wanted_.end() && w->second.at == link;
}

void SeedRequests::answered(LinkKey link, const SeedId& id, Answer answer) {
    if (!outstanding(link, id)) return;
    const auto w = wanted_.find(id);
    if (auto l = links_.find(link); l != links_.end()) --l->second;
    --outstanding_;
    w->second.at.reset();
    switch (answer) {
        case Answer::kReceived:
            wanted_.erase(w);
            ++received_;
            return;
        case Answer::kUnknown:
            w->second.tried.insert(link);
            pending_.insert(id);
            return;
        case Answer::kForged:
            w->second.tried.insert(link);
            pending_.insert(id);
            link_down(link);  // everything else it was asked goes elsewhere too
            return;
    }
}

bool SeedRequests::finished() const {
    if (wanted_.empty()) return true;
    if (outstanding_ > 0) return false;
    for (const auto& id : pending_) {
        const Want& w = wanted_.at(id);
        for (const auto& [link, n] : links_)
            if (!w.tried.contains(link)) return false;
    }
    return true;
}

std::vector<SeedId> SeedRequests::missing() const {
    std::vector<SeedId> out;
    out.reserve(wanted_.size());
    for (const auto& [id, w] : wanted_)
        out.push_back(id);
    return out;
}

}  // namespace seedshare
