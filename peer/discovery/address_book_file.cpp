#include "peer/discovery/address_book_file.hpp"

#include <cerrno>

#include "common/core/limits.hpp"

namespace seedshare {

AddressBook::Seconds address_book_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

namespace {
// The file's book, or nothing (missing: silently; bad: said once).
std::optional<AddressBook> read_book(Env& env, const std::filesystem::path& path, const Logger& log,
                                     bool quiet) {
    auto text = env.read_file(path, limits::kMaxAddressBookBytes);
    if (!text) {
        if (text.error().code != ENOENT && !quiet)
            log.warn("address book {} ignored: {}", path.string(), text.error().text());
        return std::nullopt;
    }
    auto book = AddressBook::decode(*text, address_book_now());
    if (!book) {
        if (!quiet) log.warn("address book {} ignored: {}", path.string(), book.error().message);
        return std::nullopt;
    }
    return std::move(*book);
}
}  // namespace

AddressBook load_address_book(Env& env, const std::filesystem::path& path, const Logger& log) {
    auto book = read_book(env, path, log, false);
    if (!book) return AddressBook{};
    log.debug("address book {}: {} holders of {} seeds and channels", path.string(),
              book->entry_count(), book->key_count());
    return std::move(*book);
}

void refresh_address_book(Env& env, const std::filesystem::path& path, AddressBook& book,
                          const Logger& log) {
    if (auto on_disk = read_book(env, path, log, true)) book.merge(*on_disk);
}

bool save_address_book(Env& env, const std::filesystem::path& path, AddressBook& book,
                       const Logger& log) {
    if (auto on_disk = read_book(env, path, log, true)) book.merge(*on_disk);
    book.expire(address_book_now());
    if (auto made = env.create_directories(path.parent_path()); !made) {
        log.warn("cannot save the address book: {}", made.error().text());
        return false;
    }
    if (auto written = env.write_file_atomically(path, book.encode()); !written) {
        log.warn("cannot save the address book: {}", written.error().text());
        return false;
    }
    book.mark_saved();
    return true;
}

}  // namespace seedshare
