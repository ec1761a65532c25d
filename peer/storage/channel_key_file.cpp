#include "peer/storage/channel_key_file.hpp"

#include <crypto++/misc.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "common/core/hex.hpp"
#include "common/core/limits.hpp"

namespace seedshare {

namespace {

constexpr std::string_view kFirstLine = "seedshare-channel-key 1\n";
constexpr std::string_view kSecretKey = "secret ";

// Wipes a string that held the secret before its memory goes back.
struct Wiped {
    std::string& text;
    ~Wiped() { CryptoPP::SecureWipeBuffer(text.data(), text.size()); }
};

Error io_error(const IoError& e) {
    return e.to_error();
}

}  // namespace

std::string format_channel_key_file(const ChannelKey& key) {
    std::string text(kFirstLine);
    text += kSecretKey;
    text += to_hex(key.secret_seed());
    text += '\n';
    return text;
}

Result<ChannelKey> parse_channel_key_file(std::string_view text) {
    if (!text.starts_with(kFirstLine))
        return Error{
            "not a seedshare channel key (the first line must be 'seedshare-channel-key 1')"};
    const auto rest = text.substr(kFirstLine.size());
    std::array<std::uint8_t, ChannelKey::kSeedBytes> seed{};
    const std::size_t hex_size = 2 * seed.size();
    if (rest.size() != kSecretKey.size() + hex_size + 1 || !rest.starts_with(kSecretKey) ||
        rest.back() != '\n' || !from_hex(rest.substr(kSecretKey.size(), hex_size), seed)) {
        CryptoPP::SecureWipeArray(seed.data(), seed.size());
        return Error{
            "malformed channel key: the second and last line must be 'secret' and 64 "
            "lowercase hex digits"};
    }
    auto key = ChannelKey::from_seed(seed);
    CryptoPP::SecureWipeArray(seed.data(), seed.size());
    return key;
}

Status write_channel_key(const std::filesystem::path& path, const ChannelKey& key, Env& env) {
    auto fd = env.open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (!fd) {
        if (fd.error().code == EEXIST)
            return Error{
                fmt::format("{} already exists: a key file is never overwritten", path.string())};
        return Error{fmt::format("cannot create {}", fd.error().text())};
    }
    std::string text = format_channel_key_file(key);
    const Wiped wiped{text};
    auto undo = [&](const char* op, int code) {
        (void)env.remove(path);
        return Error{IoError{code, op, path, 0}.text()};
    };
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd->get(), text.data() + done, text.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            return undo("write", errno);
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd->get()) != 0) return undo("fsync", errno);
    if (::close(fd->release()) != 0) return undo("close", errno);
    auto dir_path = path.parent_path();
    if (dir_path.empty()) dir_path = ".";
    // Until the directory is synced the name may not survive a crash: a key
    // whose id was never printed is removed rather than left half-made.
    auto dir = env.open(dir_path, O_RDONLY | O_DIRECTORY);
    if (!dir) {
        (void)env.remove(path);
        return io_error(dir.error());
    }
    if (::fsync(dir->get()) != 0) {
        const int code = errno;
        (void)env.remove(path);
        return Error{IoError{code, "fsync", dir_path, 0}.text()};
    }
    return Ok{};
}

Result<ChannelKey> read_channel_key(const std::filesystem::path& path, Env& env) {
    // One open: the mode checked is the mode of the file read.
    auto fd = env.open(path, O_RDONLY | O_NONBLOCK);
    if (!fd) return io_error(fd.error());
    struct stat st {};
    if (::fstat(fd->get(), &st) != 0) return Error{IoError{errno, "fstat", path, 0}.text()};
    if (!S_ISREG(st.st_mode)) return Error{fmt::format("{}: not a regular file", path.string())};
    if ((st.st_mode & 077) != 0)
        return Error{fmt::format(
            "{}: permissions {:04o} are too open: a channel key must be readable by its owner "
            "only (chmod 600 {})",
            path.string(), st.st_mode & 07777, path.string())};
    if (static_cast<std::uint64_t>(st.st_size) > limits::kMaxChannelKeyFileBytes)
        return Error{fmt::format("{}: {} bytes is too large for a channel key (at most {})",
                                 path.string(), st.st_size, limits::kMaxChannelKeyFileBytes)};
    std::string text(limits::kMaxChannelKeyFileBytes + 1, '\0');
    const Wiped wiped{text};
    std::size_t got = 0;
    while (got < text.size()) {
        const ssize_t n = ::read(fd->get(), text.data() + got, text.size() - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            return Error{IoError{errno, "read", path, 0}.text()};
        }
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    if (got > limits::kMaxChannelKeyFileBytes)
        return Error{fmt::format("{}: too large for a channel key (at most {} bytes)",
                                 path.string(), limits::kMaxChannelKeyFileBytes)};
    auto key = parse_channel_key_file(std::string_view(text).substr(0, got));
    if (!key) return Error{fmt::format("{}: {}", path.string(), key.error().message)};
    return key;
}

}  // namespace seedshare
