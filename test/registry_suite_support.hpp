// The registry suite's helpers (test/registry_suite.hpp): ids, a fake
// clock, and short ways to join, change holdings and check refusals.
#pragma once

#include <doctest/doctest.h>

#include <set>
#include <string>
#include <vector>

#include "tracker/core/registry.hpp"

namespace seedshare::tracker::registry_test {

inline constexpr std::int64_t kRegistryTtlMs = 90'000;

inline UserId uid(std::uint32_t n) {
    UserId u;
    u.bytes[0] = static_cast<std::uint8_t>(n * 97);  // spread over the id space
    u.bytes[1] = static_cast<std::uint8_t>(n >> 8);
    u.bytes[2] = static_cast<std::uint8_t>(n);
    u.bytes[15] = 1;
    return u;
}

inline SeedId sid(std::uint32_t n) {
    SeedId s;
    s.bytes[0] = static_cast<std::uint8_t>(n >> 16);
    s.bytes[1] = static_cast<std::uint8_t>(n >> 8);
    s.bytes[2] = static_cast<std::uint8_t>(n);
    s.bytes[31] = 7;
    return s;
}

inline asio::ip::address ip(const char* text) {
    return asio::ip::make_address(text);
}

inline Seed make_seed(const std::string& name, std::uint8_t salt) {
    Seed s;
    s.name = name;
    s.length = 100;
    s.chunk_size = 64;
    s.file_hash.bytes[0] = salt;
    s.trackers = {HostPort{"127.0.0.1", 7000}};
    s.chunk_hashes.resize(2);
    s.chunk_hashes[1].bytes[5] = salt;
    return s;
}

struct Clock {
    std::int64_t now = 1'700'000'000'000;
    NowMs fn() {
        return [this] { return now; };
    }
};

template <class T>
const T& ok(const RegistryResult<T>& a) {
    if (const auto* e = std::get_if<RegistryError>(&a))
        FAIL("refused: " << static_cast<int>(e->code));
    return std::get<T>(a);
}

template <class T>
RegistryErrc refused(const RegistryResult<T>& a) {
    const auto* e = std::get_if<RegistryError>(&a);
    REQUIRE_MESSAGE(e != nullptr, "expected a refusal");
    return e->code;
}

inline Token join(Registry& s, std::uint32_t n, std::uint16_t port = 4000,
                  const Token& presented = {}) {
    return ok(s.join(uid(n), presented, ip("10.0.0.1"), port)).token;
}

// A peer's token and a change to its holdings.
struct FilesArg {
    Token token;
    FileChanges changes;
};

inline FilesArg files(const Token& t, bool replace, std::vector<HeldFile> add,
                      std::vector<SeedId> remove = {}) {
    return FilesArg{t, FileChanges{replace, std::move(add), std::move(remove)}};
}

inline RegistryResult<FilesUpdated> update_files(Registry& s, const UserId& user,
                                                 const FilesArg& a) {
    return s.update_files(user, a.token, a.changes);
}

inline HeldFile entry(std::uint32_t n, bool complete = true) {
    return HeldFile{sid(n), "file" + std::to_string(n), 1000 + n, complete};
}

inline std::set<UserId> users_of(const std::vector<Holder>& p) {
    std::set<UserId> out;
    for (const auto& e : p)
        out.insert(e.user);
    return out;
}

inline std::optional<FileSummary> find_file(const FilePage& f, const SeedId& id) {
    for (const auto& i : f.files)
        if (i.id == id) return i;
    return std::nullopt;
}

}  // namespace seedshare::tracker::registry_test
