#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>

#include "common/crypto/sha256.hpp"
#include "peer/library/seed_maker.hpp"
#include "test/support/temp_dir.hpp"

namespace seed_maker_test {

using namespace seedshare;
using namespace seedshare::test;

namespace {
const std::filesystem::path kExamples =
    std::filesystem::path(SEEDSHARE_SOURCE_DIR) / "seeds/examples";
}

TEST_CASE("seed maker: reproduces the golden seeds byte for byte") {
    struct Golden {
        const char* data;
        std::uint64_t chunk_size;
        std::vector<HostPort> trackers;
    };
    for (const auto& g : std::vector<Golden>{
             {"empty.bin", 0, {{"127.0.0.1", 7000}}},
             {"hello.txt", 0, {{"tracker.example.org", 7000}, {"::1", 7001}}},
             {"odd.bin", 1024, {{"127.0.0.1", 7000}}},
         }) {
        CAPTURE(g.data);
        SeedMakerOptions opt;
        opt.chunk_size = g.chunk_size;
        opt.trackers = g.trackers;
        auto seed = make_seed(kExamples / g.data, opt);
        REQUIRE(seed);
        CHECK(format_seed(*seed) == read_file(kExamples / (std::string(g.data) + ".seed")));
    }
}

TEST_CASE("seed maker: hashes agree with a plain computation for many shapes") {
    TempDir dir;
    // Sizes around chunk and slab boundaries, with one and several threads.
    for (std::uint64_t chunk : {1ull, 1000ull, 4096ull, 1ull << 20, 5ull << 20}) {
        for (std::size_t size :
             {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{4096},
              std::size_t{4097}, std::size_t{(4u << 20) + 3}, std::size_t{9u << 20}}) {
            if (chunk_count_for(size, chunk) > 131072) continue;
            for (unsigned threads : {1u, 2u, 4u}) {
                CAPTURE(chunk);
                CAPTURE(size);
                CAPTURE(threads);
                const std::string data = pattern_bytes(size, size * 31 + chunk);
                write_file(dir / "f", data);
                SeedMakerOptions opt;
                opt.chunk_size = chunk;
                opt.threads = threads;
                auto seed = make_seed(dir / "f", opt);
                REQUIRE(seed);
                CHECK(seed->length == size);
                CHECK(seed->file_hash == sha256(std::string_view(data)));
                REQUIRE(seed->chunk_count() == chunk_count_for(size, chunk));
                for (std::uint32_t i = 0; i < seed->chunk_count();
                     i += std::max<std::uint32_t>(1, seed->chunk_count() / 7)) {
                    const auto off = seed->chunk_offset(ChunkIndex{i});
                    CHECK(seed->chunk_hashes[i] == sha256(std::string_view(data).substr(
                                                       off, seed->chunk_length(ChunkIndex{i}))));
                }
            }
        }
    }
}

TEST_CASE("seed maker: files over 4 GiB (sparse) get 64-bit lengths and offsets") {
    TempDir dir;
    const auto path = dir / "sparse.bin";
    write_file(path, "");
    const std::uint64_t size = (4ull << 30) + 12345;
    std::filesystem::resize_file(path, size);  // sparse: reads as zeros, no disk used
    SeedMakerOptions opt;
    opt.chunk_size = 16u << 20;
    auto seed = make_seed(path, opt);
    REQUIRE(seed);
    CHECK(seed->length == size);
    CHECK(seed->chunk_count() == 257);
    const std::string zeros(16u << 20, '\0');
    CHECK(seed->chunk_hashes[0] == sha256(std::string_view(zeros)));
    CHECK(seed->chunk_hashes[255] == seed->chunk_hashes[0]);
    CHECK(seed->chunk_hashes[256] == sha256(std::string_view(zeros).substr(0, 12345)));
}

TEST_CASE("seed maker: failures name the file and the problem") {
    TempDir dir;
    auto missing = make_seed(dir / "nope", {});
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message == (dir / "nope").string() + ": No such file or directory");

    auto directory = make_seed(dir.path(), {});
    REQUIRE_FALSE(directory);
    CHECK(directory.error().message.ends_with("is a directory, not a file"));

    write_file(dir / "f", "abc");
    SeedMakerOptions big;
    big.chunk_size = (16u << 20) + 1;
    auto too_big = make_seed(dir / "f", big);
    REQUIRE_FALSE(too_big);
    CHECK(too_big.error().message.find("above the limit") != std::string::npos);

    std::filesystem::resize_file(dir / "f", 200000);
    SeedMakerOptions tiny;
    tiny.chunk_size = 1;
    auto too_many = make_seed(dir / "f", tiny);
    REQUIRE_FALSE(too_many);
    CHECK(too_many.error().message.find("use a larger --chunk-size") != std::string::npos);

    if (::geteuid() != 0) {  // root reads anything
        ::chmod((dir / "f").c_str(), 0);
        auto unreadable = make_seed(dir / "f", {});
        REQUIRE_FALSE(unreadable);
        CHECK(unreadable.error().message.ends_with("Permission denied"));
    }

    std::atomic<bool> cancel{true};
    SeedMakerOptions cancelled;
    cancelled.cancel = &cancel;
    std::filesystem::permissions(dir / "f", std::filesystem::perms::owner_read);
    auto stopped = make_seed(dir / "f", cancelled);
    REQUIRE_FALSE(stopped);
    CHECK(stopped.error().message.ends_with("cancelled"));
}

TEST_CASE("seed maker: atomic writes leave nothing behind on failure") {
    TempDir dir;
    CHECK(write_file_atomically(dir / "out.seed", "content\n"));
    CHECK(read_file(dir / "out.seed") == "content\n");
    CHECK(write_file_atomically(dir / "out.seed", "new\n"));
    CHECK(read_file(dir / "out.seed") == "new\n");
    auto bad = write_file_atomically(dir / "no-such-dir" / "out.seed", "x");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("cannot write") != std::string::npos);
    std::size_t entries = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir.path()))
        ++entries;
    CHECK(entries == 1);
}

}  // namespace seed_maker_test
