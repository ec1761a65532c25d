// The process's address book: which peers held which seeds and channels,
// learnt from trackers, from peers we completed a handshake with, and from
// peers that named holders when asked for a seed they lack (note 003 of the
// seed documents). Pure: no I/O, the time is given; encode()/decode() are
// the file format (address_book_file.hpp reads and writes it).
//
// Bounded like libtorrent's peer list: at most kMaxAddressBookKeys keys and
// kMaxAddressBookHolders holders per key, the least recently seen evicted
// first; an entry not seen again for kAddressBookLifetime is forgotten.
// Times are wall-clock seconds (the book outlives the process).
//
// The file (JSON, docs/PROTOCOL.md "Address book"):
//   {"version": 1, "keys": {"seed:<64 hex>": [["1.2.3.4", 7001, 1764633600], ...],
//                           "channel:<64 hex>": [...]}}
// decode() is hostile-input safe: size first, then every field checked;
// a bad entry is skipped, a bad document refused whole.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/address.hpp"
#include "common/core/ids.hpp"
#include "common/core/result.hpp"

namespace seedshare {

class AddressBook {
  public:
    using Seconds = std::int64_t;  // wall-clock, seconds since the epoch

    static std::string key(const SeedId& id) { return "seed:" + id.hex(); }
    static std::string key(const ChannelId& id) { return "channel:" + id.hex(); }
    // Whether `k` is a well-formed key ("seed:" or "channel:" + 64 lower-case hex).
    static bool valid_key(std::string_view k);

    // `who` held `k` at `now`. Port 0 and unspecified addresses are ignored.
    void learn(const std::string& k, const PeerAddress& who, Seconds now);
    // `who` does not answer for `k` any more (optional hygiene).
    void forget(const std::string& k, const PeerAddress& who);
    // Up to `limit` holders of `k` seen within the lifetime, most recent first.
    std::vector<PeerAddress> holders(const std::string& k, Seconds now, std::size_t limit) const;
    // Drops entries older than the lifetime, and keys left empty.
    void expire(Seconds now);
    // Takes every entry of `other` (the later sighting wins), within the bounds.
    void merge(const AddressBook& other);

    std::size_t key_count() const { return keys_.size(); }
    std::size_t entry_count() const;
    // Changed since the last mark_saved().
    bool dirty() const { return dirty_; }
    void mark_saved() { dirty_ = false; }

    std::string encode() const;
    // Entries older than the lifetime at `now` are left out; entries past
    // the bounds too. An error names what is wrong.
    static Result<AddressBook> decode(std::string_view text, Seconds now);

  private:
    using Holders = std::map<PeerAddress, Seconds>;  // last seen
    struct Key {
        Holders holders;
        Seconds newest = 0;  // the latest sighting in holders
    };
    using Keys = std::map<std::string, Key>;
    void put(const std::string& k, const PeerAddress& who, Seconds seen);
    static Seconds newest(const Holders& h);
    // Sets `it`'s newest and its place in by_newest_.
    void reindex(Keys::iterator it, Seconds to);
    void erase_key(Keys::iterator it);

    Keys keys_;
    // The keys by their newest sighting, least recent first: the key to
    // evict when full, found without a scan of every key (a merge of a full
    // book from the file into a full book evicted up to kMaxAddressBookKeys
    // keys, each a scan of every key and holder: issue 18).
    std::set<std::pair<Seconds, std::string>> by_newest_;
    bool dirty_ = false;
};

}  // namespace seedshare
