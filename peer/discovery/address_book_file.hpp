// The address book on disk: STATE_DIR/address-book.json (see
// address_book.hpp for the format). Reading is hostile-input safe: a file
// too big, unreadable or corrupt is logged and ignored (the book starts
// empty; the next save replaces it). Writing is crash-safe: a temporary file
// in the same directory, fsynced, renamed over the old one
// (Env::write_file_atomically). Several processes may share one state
// directory: save() first merges what the file holds now.
#pragma once

#include <chrono>
#include <filesystem>

#include "common/core/log.hpp"
#include "common/env/env.hpp"
#include "peer/discovery/address_book.hpp"

namespace seedshare {

inline constexpr const char* kAddressBookFileName = "address-book.json";

// Wall-clock seconds now, as the book counts them.
AddressBook::Seconds address_book_now();

// The book in `path`; empty when missing or bad (bad: a warning names why).
AddressBook load_address_book(Env& env, const std::filesystem::path& path, const Logger& log);
// Merges the file's current entries into `book` (what other processes
// sharing the state directory saved since); nothing when it is missing or bad.
void refresh_address_book(Env& env, const std::filesystem::path& path, AddressBook& book,
                          const Logger& log);
// Merges the file's current entries into `book`, then writes it. False (and
// a warning) when it could not be written; `book` stays dirty then.
bool save_address_book(Env& env, const std::filesystem::path& path, AddressBook& book,
                       const Logger& log);

}  // namespace seedshare
