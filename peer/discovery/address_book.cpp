#include "peer/discovery/address_book.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "common/core/limits.hpp"

namespace seedshare {

namespace {
constexpr std::int64_t kLifetimeSeconds =
    std::chrono::duration_cast<std::chrono::seconds>(limits::kAddressBookLifetime).count();

bool fresh(AddressBook::Seconds seen, AddressBook::Seconds now) {
    return seen <= now + kLifetimeSeconds && now - seen <= kLifetimeSeconds;
}
}  // namespace

bool AddressBook::valid_key(std::string_view k) {
    std::string_view hex;
    if (k.starts_with("seed:"))
        hex = k.substr(5);
    else if (k.starts_with("channel:"))
        hex = k.substr(8);
    else
        return false;
    return hex.size() == 64 && std::all_of(hex.begin(), hex.end(), [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
           });
}

AddressBook::Seconds AddressBook::newest(const Holders& h) {
    Seconds n = 0;
    for (const auto& [a, seen] : h)
        n = std::max(n, seen);
    return n;
}

void AddressBook::reindex(Keys::iterator it, Seconds to) {
    auto& key = it->second;
    if (key.newest == to && by_newest_.contains({to, it->first})) return;
    by_newest_.erase({key.newest, it->first});
    key.newest = to;
    by_newest_.emplace(to, it->first);
}

void AddressBook::erase_key(Keys::iterator it) {
    by_newest_.erase({it->second.newest, it->first});
    keys_.erase(it);
}

void AddressBook::put(const std::string& k, const PeerAddress& who, Seconds seen) {
    auto it = keys_.find(k);
    if (it == keys_.end()) {
        if (keys_.size() >= limits::kMaxAddressBookKeys && !by_newest_.empty()) {
            // Evict the key seen least recently (of equals, the first key).
            const auto victim = by_newest_.begin();
            if (victim->first > seen) return;
            erase_key(keys_.find(victim->second));
        }
        it = keys_.emplace(k, Key{}).first;
    }
    auto& h = it->second.holders;
    if (auto e = h.find(who); e != h.end()) {
        if (e->second < seen) {
            e->second = seen;
            reindex(it, std::max(it->second.newest, seen));
            dirty_ = true;
        }
        return;
    }
    if (h.size() >= limits::kMaxAddressBookHolders) {
        auto victim = std::min_element(
            h.begin(), h.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
        if (victim->second > seen) return;
        h.erase(victim);
    }
    h.emplace(who, seen);
    reindex(it, newest(h));
    dirty_ = true;
}

void AddressBook::learn(const std::string& k, const PeerAddress& who, Seconds now) {
    if (who.port == 0 || who.address.is_unspecified() || !valid_key(k)) return;
    put(k, who, now);
}

void AddressBook::forget(const std::string& k, const PeerAddress& who) {
    auto it = keys_.find(k);
    if (it == keys_.end()) return;
    auto& h = it->second.holders;
    if (h.erase(who) > 0) dirty_ = true;
    if (h.empty())
        erase_key(it);
    else
        reindex(it, newest(h));
}

std::vector<PeerAddress> AddressBook::holders(const std::string& k, Seconds now,
                                              std::size_t limit) const {
    std::vector<std::pair<Seconds, PeerAddress>> found;
    if (auto it = keys_.find(k); it != keys_.end())
        for (const auto& [a, seen] : it->second.holders)
            if (fresh(seen, now)) found.emplace_back(seen, a);
    std::sort(found.begin(), found.end(),
              [](const auto& x, const auto& y) { return x.first > y.first; });
    std::vector<PeerAddress> out;
    for (const auto& [seen, a] : found) {
        if (out.size() >= limit) break;
        out.push_back(a);
    }
    return out;
}

void AddressBook::expire(Seconds now) {
    for (auto it = keys_.begin(); it != keys_.end();) {
        auto& h = it->second.holders;
        for (auto e = h.begin(); e != h.end();) {
            if (fresh(e->second, now)) {
                ++e;
            } else {
                e = h.erase(e);
                dirty_ = true;
            }
        }
        const auto next = std::next(it);
        if (h.empty())
            erase_key(it);
        else
            reindex(it, newest(h));
        it = next;
    }
}

void AddressBook::merge(const AddressBook& other) {
    for (const auto& [k, key] : other.keys_)
        for (const auto& [a, seen] : key.holders)
            put(k, a, seen);
}

std::size_t AddressBook::entry_count() const {
    std::size_t n = 0;
    for (const auto& [k, key] : keys_)
        n += key.holders.size();
    return n;
}

std::string AddressBook::encode() const {
    nlohmann::json keys = nlohmann::json::object();
    for (const auto& [k, key] : keys_) {
        auto list = nlohmann::json::array();
        for (const auto& [a, seen] : key.holders)
            list.push_back({a.address.to_string(), a.port, seen});
        keys[k] = std::move(list);
    }
    nlohmann::json j;
    j["version"] = 1;
    j["keys"] = std::move(keys);
    return j.dump() + "\n";
}

Result<AddressBook> AddressBook::decode(std::string_view text, Seconds now) {
    if (text.size() > limits::kMaxAddressBookBytes)
        return Error{fmt::format("address book: {} bytes, over the limit of {}", text.size(),
                                 limits::kMaxAddressBookBytes)};
    const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Error{"address book: not JSON"};
    if (!j.is_object()) return Error{"address book: not a JSON object"};
    const auto v = j.find("version");
    if (v == j.end() || !v->is_number_integer() || v->get<std::int64_t>() != 1)
        return Error{"address book: version is not 1"};
    const auto keys = j.find("keys");
    if (keys == j.end() || !keys->is_object()) return Error{"address book: no \"keys\" object"};
    AddressBook book;
    // A file this process wrote is within the bounds: past them (a file
    // made by hand, or hostile) the rest is not looked at, so reading costs
    // at most the bounds' worth of work.
    std::size_t keys_seen = 0;
    for (const auto& [k, list] : keys->items()) {
        if (!valid_key(k) || !list.is_array()) continue;
        if (++keys_seen > limits::kMaxAddressBookKeys) break;
        std::size_t entries_seen = 0;
        for (const auto& e : list) {
            if (++entries_seen > limits::kMaxAddressBookHolders) break;
            if (!e.is_array() || e.size() != 3 || !e[0].is_string() || !e[1].is_number_unsigned() ||
                !e[2].is_number_integer())
                continue;
            const auto port = e[1].get<std::uint64_t>();
            const auto seen = e[2].get<std::int64_t>();
            if (port == 0 || port > 65535 || !fresh(seen, now)) continue;
            asio::error_code ec;
            const auto address = asio::ip::make_address(e[0].get<std::string>(), ec);
            if (ec || address.is_unspecified()) continue;
            book.put(k, PeerAddress{address, static_cast<std::uint16_t>(port)}, seen);
        }
    }
    book.dirty_ = false;
    return book;
}

}  // namespace seedshare
