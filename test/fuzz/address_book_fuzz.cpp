// libFuzzer target: the address book file (peer/discovery/address_book.hpp).
// Whatever decodes stays within the bounds, and encodes to a text that
// decodes to the same book.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "common/core/limits.hpp"
#include "peer/discovery/address_book.hpp"

using namespace seedshare;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const AddressBook::Seconds now = 1'800'000'000;
    auto book = AddressBook::decode(text, now);
    if (!book) return 0;
    if (book->key_count() > limits::kMaxAddressBookKeys) std::abort();
    if (book->entry_count() > limits::kMaxAddressBookKeys * limits::kMaxAddressBookHolders)
        std::abort();
    auto again = AddressBook::decode(book->encode(), now);
    if (!again || again->encode() != book->encode()) std::abort();
    return 0;
}
