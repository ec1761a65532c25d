#include <fmt/format.h>

#include <chrono>

#include "common/numbers.hpp"
#include "peer/commands.hpp"
#include "peer/seed_maker.hpp"

namespace seedshare {

int run_make_seed(const MakeSeedCommand& cmd) {
    const auto start = std::chrono::steady_clock::now();
    SeedMakerOptions options;
    options.chunk_size = cmd.chunk_size;
    options.trackers = cmd.trackers;
    auto seed = make_seed(cmd.file, options);
    if (!seed) {
        fmt::print(stderr, "peer: {}\n", seed.error().message);
        return kExitFailure;
    }
    const std::filesystem::path out =
        cmd.out ? *cmd.out : std::filesystem::path(cmd.file.string() + ".seed");
    if (auto ok = write_file_atomically(out, format_seed(*seed)); !ok) {
        fmt::print(stderr, "peer: {}\n", ok.error().message);
        return kExitFailure;
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print("wrote {}: {} ({}), {} chunks of {}, sha256 {}, id {} ({:.2f} s)\n", out.string(),
               seed->name, format_bytes(seed->length), seed->chunk_count(),
               format_bytes(seed->chunk_size), seed->file_hash.hex(), seed->id().hex(), secs);
    return kExitOk;
}

}  // namespace seedshare
