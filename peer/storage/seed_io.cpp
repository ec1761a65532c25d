#include "peer/storage/seed_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "common/core/fd.hpp"
#include "common/core/limits.hpp"
#include "common/crypto/sha256.hpp"
#include "common/net/join_all.hpp"
#include "common/net/offload.hpp"

namespace seedshare {

Result<Seed> read_seed_file(const std::filesystem::path& path, Env& env) {
    const std::string shown = path.string();
    auto text = env.read_file(path, limits::kMaxSeedBytes);
    if (!text) {
        const IoError& e = text.error();
        switch (e.code) {
            case EISDIR:
                return Error{fmt::format("{}: is a directory, not a seed file", shown)};
            case EINVAL:
                return Error{fmt::format("{}: not a regular file", shown)};
            case EFBIG:
                return Error{fmt::format("{}: {} bytes is more than a seed file may hold ({})",
                                         shown, e.size, limits::kMaxSeedBytes)};
            default:
                return Error{fmt::format("{}: {}", shown, std::strerror(e.code))};
        }
    }
    auto seed = parse_seed(*text);
    if (!seed) return Error{fmt::format("{}: {}", shown, seed.error().message)};
    return seed;
}

net::awaitable<Bitfield> verify_chunks(const Seed& seed, std::shared_ptr<Storage> storage,
                                       asio::thread_pool& pool, unsigned parallel, Cancel cancel) {
    Bitfield have(seed.chunk_count());
    std::uint32_t next = 0;
    // Workers pull the next chunk index; each hashes on the pool.
    auto worker = [&]() -> net::awaitable<void> {
        std::vector<std::uint8_t> buffer;
        while (next < seed.chunk_count() && !(cancel && *cancel)) {
            const ChunkIndex c{next++};
            buffer.resize(seed.chunk_length(c));
            const auto offset = seed.chunk_offset(c);
            const Digest expected = seed.chunk_hashes[c.value];
            auto* data = &buffer;
            auto check = [&storage, data, offset, expected] {
                return storage->read(offset, *data).ok() && sha256(*data) == expected;
            };
            const bool ok = co_await offload(pool, std::move(check));
            if (ok) have.set(c);
        }
    };
    std::vector<net::awaitable<void>> workers;
    for (unsigned i = 0; i < std::max(1u, parallel); ++i)
        workers.push_back(worker());
    co_await net::join_all(std::move(workers));
    co_return have;
}

net::awaitable<Result<Digest>> hash_file(const std::filesystem::path& path, asio::thread_pool& pool,
                                         Cancel cancel, Env& env) {
    auto hash = [path, cancel, &env]() -> Result<Digest> {
        // O_NONBLOCK, then the type: a FIFO swapped in must not hang us.
        auto opened = env.open(path, O_RDONLY | O_NONBLOCK);
        if (!opened) return opened.error().to_error();
        Fd fd = std::move(*opened);
        struct stat st {};
        if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
            return Error{fmt::format("{}: not a regular file", path.string())};
        const int fl = ::fcntl(fd.get(), F_GETFL);
        if (fl >= 0) ::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
        ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
        Sha256 h;
        std::vector<std::uint8_t> buffer(4u << 20);
        for (;;) {
            if (cancel && *cancel) return Error{fmt::format("{}: interrupted", path.string())};
            const ssize_t n = ::read(fd.get(), buffer.data(), buffer.size());
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return Error{fmt::format("{}: {}", path.string(), std::strerror(errno))};
            if (n == 0) break;
            h.update(std::span(buffer.data(), static_cast<std::size_t>(n)));
        }
        return h.finish();
    };
    co_return co_await offload(pool, std::move(hash));
}

}  // namespace seedshare
