#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "common/core/numbers.hpp"
#include "peer/app/commands.hpp"
#include "peer/library/seed_maker.hpp"

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
    const std::string text = format_seed(*seed);
    // "-o -": the seed on stdout, and what would be said about it on stderr.
    const bool to_stdout = cmd.out && *cmd.out == "-";
    const std::filesystem::path out =
        cmd.out ? *cmd.out : std::filesystem::path(cmd.file.string() + ".seed");
    if (to_stdout) {
        if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() ||
            std::fflush(stdout) != 0) {
            fmt::print(stderr, "peer: cannot write the seed to stdout: {}\n", std::strerror(errno));
            return kExitFailure;
        }
    } else if (auto ok = write_file_atomically(out, text); !ok) {
        fmt::print(stderr, "peer: {}\n", ok.error().message);
        return kExitFailure;
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    fmt::print(to_stdout ? stderr : stdout,
               "wrote {}: {} ({}), {} chunks of {}, sha256 {}, id {} ({:.2f} s)\n",
               to_stdout ? std::string("the seed to stdout") : out.string(), seed->name,
               format_bytes(seed->length), seed->chunk_count(), format_bytes(seed->chunk_size),
               seed->file_hash.hex(), seed->id().hex(), secs);
    return kExitOk;
}

}  // namespace seedshare
