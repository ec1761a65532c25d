#include <doctest/doctest.h>

#include <string>

#include "common/core/limits.hpp"
#include "common/crypto/sha256.hpp"
#include "common/model/seed.hpp"
#include "test/support/temp_dir.hpp"

namespace seed_test {

using namespace seedshare;
using seedshare::test::read_file;

namespace {

const std::filesystem::path kExamples =
    std::filesystem::path(SEEDSHARE_SOURCE_DIR) / "seeds/examples";

Seed sample_seed() {
    Seed s;
    s.name = "data.bin";
    s.length = 2500;
    s.chunk_size = 1024;
    s.file_hash = sha256(std::string_view("whole"));
    s.trackers = {HostPort{"127.0.0.1", 7000}, HostPort{"::1", 7001}};
    s.chunk_hashes = {sha256(std::string_view("a")), sha256(std::string_view("b")),
                      sha256(std::string_view("c"))};
    return s;
}

// The canonical text of sample_seed(), lines as a vector so tests can edit one.
std::vector<std::string> sample_lines() {
    std::vector<std::string> lines;
    const std::string text = format_seed(sample_seed());
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto nl = text.find('\n', pos);
        lines.push_back(text.substr(pos, nl - pos));
        pos = nl + 1;
    }
    return lines;
}

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& l : lines)
        out += l + "\n";
    return out;
}

// Parses text that must be rejected; returns the error message.
std::string rejection(const std::string& text) {
    auto r = parse_seed(text);
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

}  // namespace

TEST_CASE("seed: write then parse gives the same seed") {
    const Seed s = sample_seed();
    auto parsed = parse_seed(format_seed(s));
    REQUIRE(parsed);
    CHECK(*parsed == s);
    CHECK(format_seed(*parsed) == format_seed(s));
    CHECK(parsed->id() == s.id());
}

TEST_CASE("seed: chunk geometry") {
    const Seed s = sample_seed();
    CHECK(s.chunk_count() == 3);
    CHECK(s.chunk_offset(ChunkIndex{2}) == 2048);
    CHECK(s.chunk_length(ChunkIndex{0}) == 1024);
    CHECK(s.chunk_length(ChunkIndex{2}) == 452);
    CHECK(chunk_count_for(0, 1024) == 0);
    CHECK(chunk_count_for(1024, 1024) == 1);
    CHECK(chunk_count_for(1025, 1024) == 2);
    CHECK(chunk_count_for(5ull << 32, 1u << 24) == 1280);  // over 4 GiB
}

TEST_CASE("seed: the id ignores trackers and covers everything else") {
    Seed a = sample_seed();
    Seed b = a;
    b.trackers = {HostPort{"tracker.example.org", 9}};
    CHECK(a.id() == b.id());
    std::reverse(b.trackers.begin(), b.trackers.end());
    CHECK(a.id() == b.id());
    Seed c = a;
    c.name = "other.bin";
    CHECK(a.id() != c.id());
    Seed d = a;
    d.chunk_hashes[1] = sha256(std::string_view("x"));
    CHECK(a.id() != d.id());
    Seed e = a;
    e.length = 2501;
    CHECK(a.id() != e.id());
}

TEST_CASE("seed: header fields may come in any order, and the id does not change") {
    auto lines = sample_lines();
    std::swap(lines[1], lines[4]);  // name <-> sha256
    std::swap(lines[2], lines[5]);  // length <-> first tracker
    auto parsed = parse_seed(join(lines));
    REQUIRE(parsed);
    CHECK(parsed->id() == sample_seed().id());
}

TEST_CASE("seed: golden examples parse and keep their pinned ids") {
    struct Golden {
        const char* seed;
        const char* data;
        const char* id;
    };
    for (const Golden g : {
             Golden{"empty.bin.seed", "empty.bin",
                    "d600b63225ba77471a82eede5a846c6a229f79f25bb79ae2793c57fc77248bde"},
             Golden{"hello.txt.seed", "hello.txt",
                    "7215dc92d9433e840bc3b7330240acdf16a5cfa994931a310c71820ee3584eb5"},
             Golden{"odd.bin.seed", "odd.bin",
                    "b4da72957663ee4c717b9302fbb128ee24eaf76e5c7266936ecc091935821c26"},
         }) {
        CAPTURE(g.seed);
        const std::string text = read_file(kExamples / g.seed);
        auto seed = parse_seed(text);
        REQUIRE(seed);
        CHECK(seed->id().hex() == g.id);
        CHECK(format_seed(*seed) == text);  // the examples are canonical
        // Their hashes describe the data files next to them.
        const std::string data = read_file(kExamples / g.data);
        CHECK(seed->length == data.size());
        CHECK(seed->file_hash == sha256(std::string_view(data)));
        for (std::uint32_t i = 0; i < seed->chunk_count(); ++i) {
            const auto off = seed->chunk_offset(ChunkIndex{i});
            CHECK(seed->chunk_hashes[i] ==
                  sha256(std::string_view(data).substr(off, seed->chunk_length(ChunkIndex{i}))));
        }
    }
    const auto odd = parse_seed(read_file(kExamples / "odd.bin.seed"));
    REQUIRE(odd);
    CHECK(odd->length % odd->chunk_size != 0);
    const auto empty = parse_seed(read_file(kExamples / "empty.bin.seed"));
    REQUIRE(empty);
    CHECK(empty->chunk_count() == 0);
}

TEST_CASE("seed: version line") {
    auto lines = sample_lines();
    lines[0] = "seedshare-seed 2";
    CHECK(rejection(join(lines)) ==
          "line 1: unsupported seed format version '2' (this build reads 1)");
    lines[0] = "bittorrent";
    CHECK(rejection(join(lines)) == "line 1: not a seedshare seed (expected 'seedshare-seed 1')");
    lines.erase(lines.begin());
    CHECK(rejection(join(lines)).starts_with("line 1: not a seedshare seed"));
    CHECK(rejection("") == "line 1: empty seed file");
    // Not a seed at all (a data file given by mistake): said first, whatever else is wrong.
    CHECK(rejection(std::string("\x7f"
                                "ELF\x02\x01\x01\0\0\0",
                                10)) ==
          "line 1: not a seedshare seed (expected 'seedshare-seed 1')");
    CHECK(rejection("seedshare-seed 1") == "line 1: missing newline at the end of the file");
}

TEST_CASE("seed: missing, duplicate and unknown fields") {
    const char* fields[] = {"name", "length", "chunk-size", "sha256", "tracker"};
    for (std::size_t i = 0; i < 5; ++i) {
        CAPTURE(fields[i]);
        auto lines = sample_lines();
        // Remove every line of that field (two for tracker).
        std::erase_if(lines, [&](const std::string& l) {
            return l.starts_with(std::string(fields[i]) + " ");
        });
        const std::string msg = rejection(join(lines));
        CHECK(msg.find(std::string("missing field '") + fields[i] + "'") != std::string::npos);
        CHECK(msg.starts_with("line "));
    }
    {
        auto lines = sample_lines();
        lines.insert(lines.begin() + 3, "length 2500");
        CHECK(rejection(join(lines)) == "line 4: duplicate field 'length' (first on line 3)");
    }
    {
        auto lines = sample_lines();
        lines.insert(lines.begin() + 1, "comment hello");
        CHECK(rejection(join(lines)) == "line 2: unknown field 'comment'");
    }
    {
        auto lines = sample_lines();
        lines.insert(lines.begin() + 1, "nameless");
        CHECK(rejection(join(lines)) == "line 2: expected 'KEY VALUE', got 'nameless'");
    }
    {
        const std::string text = "seedshare-seed 1\nname a\nlength 0\n";
        CHECK(rejection(text) == "line 4: unexpected end of file: missing 'chunks'");
    }
}

TEST_CASE("seed: bad numbers and hex") {
    auto with = [](std::size_t index, std::string line) {
        auto lines = sample_lines();
        lines[index] = std::move(line);
        return join(lines);
    };
    CHECK(rejection(with(2, "length 2500.0")) == "line 3: length '2500.0' is not a decimal number");
    CHECK(rejection(with(2, "length -1")) == "line 3: length '-1' is not a decimal number");
    CHECK(rejection(with(2, "length 02500")) == "line 3: length '02500' is not a decimal number");
    CHECK(rejection(with(2, "length 99999999999999999999")) ==
          "line 3: length '99999999999999999999' is not a decimal number");
    CHECK(rejection(with(4, "sha256 " + std::string(64, 'A'))) ==
          "line 5: sha256 must be 64 lowercase hex digits");
    CHECK(rejection(with(4, "sha256 abc")) == "line 5: sha256 must be 64 lowercase hex digits");
    CHECK(rejection(with(8, std::string(63, 'a') + "g")) ==
          "line 9: chunk 0: hash must be 64 lowercase hex digits");
    CHECK(rejection(with(8, std::string(65, 'a'))) ==
          "line 9: chunk 0: hash must be 64 lowercase hex digits");
}

TEST_CASE("seed: chunk size and chunk count") {
    auto with = [](std::size_t index, std::string line) {
        auto lines = sample_lines();
        lines[index] = std::move(line);
        return join(lines);
    };
    CHECK(rejection(with(3, "chunk-size 0")) == "line 4: chunk-size is 0");
    CHECK(rejection(with(3, "chunk-size 16777217")) ==
          "line 4: chunk-size 16777217 is above the limit of 16777216");
    CHECK(rejection(with(7, "chunks 4")) ==
          "line 8: chunks is 4 but length 2500 at chunk-size 1024 needs 3");
    CHECK(rejection(with(7, "chunks 2")) ==
          "line 8: chunks is 2 but length 2500 at chunk-size 1024 needs 3");
    {
        auto lines = sample_lines();
        lines.pop_back();  // one hash short
        CHECK(rejection(join(lines)) == "line 11: the file ends after 2 of 3 chunk hashes");
    }
    {
        auto lines = sample_lines();
        lines.push_back(lines.back());  // one hash too many
        CHECK(rejection(join(lines)) == "line 12: unexpected text after the last chunk hash");
    }
    {
        // Declares more chunks than the limit: refused before reserving room.
        std::string text =
            "seedshare-seed 1\nname a\nlength 2199023255553\nchunk-size 16777216\nsha256 " +
            std::string(64, '0') + "\ntracker h:1\nchunks 131073\n";
        CHECK(rejection(text) == "line 7: 131073 chunks is above the limit of 131072");
    }
}

TEST_CASE("seed: names that are not plain file names are refused") {
    struct Case {
        std::string name;
        std::string expect;
    };
    for (const auto& c : std::vector<Case>{
             {"", "the name is empty"},
             {".", "the name '.' is not a file name"},
             {"..", "the name '..' is not a file name"},
             {"../x", "the name holds a path separator"},
             {"/etc/passwd", "the name holds a path separator"},
             {"a/b", "the name holds a path separator"},
             {"a\\b", "the name holds a path separator"},
             {std::string("a\0b", 3), "the name holds a control character (byte 0x00)"},
             {"a\tb", "the name holds a control character (byte 0x09)"},
             {"a\x7f", "the name holds a control character (byte 0x7f)"},
             {"\xff\xfe", "the name is not valid UTF-8 (at byte 0)"},
             {"\xc0\xaf", "the name is not valid UTF-8"},      // overlong '/'
             {"\xed\xa0\x80", "the name is not valid UTF-8"},  // surrogate
             {std::string(256, 'n'), "the name is longer than 255 bytes"},
         }) {
        CAPTURE(c.name);
        auto ok = validate_file_name(c.name);
        REQUIRE_FALSE(ok);
        CHECK(ok.error().message.starts_with(c.expect));
    }
    CHECK(validate_file_name("report 2026.pdf"));
    CHECK(validate_file_name(".hidden"));
    CHECK(validate_file_name("..."));
    CHECK(validate_file_name("\xe7\xa7\x8d\xe5\xad\x90.txt"));  // UTF-8 "种子.txt"
    CHECK(validate_file_name(std::string(255, 'n')));

    // In a seed, the line is refused with its number.
    auto lines = sample_lines();
    lines[1] = "name ../../etc/passwd";
    CHECK(rejection(join(lines)).starts_with("line 2: the name holds a path separator"));
    lines[1] = std::string("name a\0b", 8);
    CHECK(rejection(join(lines)) == "line 2: control character (byte 0x00) in line");
    lines[1] = "name a\rb";
    CHECK(rejection(join(lines)) == "line 2: control character (byte 0x0d) in line");
    lines[1] = "name ..";
    CHECK(rejection(join(lines)) == "line 2: the name '..' is not a file name");
}

TEST_CASE("seed: trackers") {
    auto lines = sample_lines();
    lines[5] = "tracker nohost";
    CHECK(rejection(join(lines)).starts_with("line 6: tracker 'nohost': lacks a port"));
    lines = sample_lines();
    lines[6] = lines[5];
    CHECK(rejection(join(lines)) == "line 7: tracker 127.0.0.1:7000 listed twice");
    lines = sample_lines();
    for (int i = 0; i < 15; ++i)
        lines.insert(lines.begin() + 5, "tracker t" + std::to_string(i) + ":1");
    CHECK(rejection(join(lines)) == "line 22: more than 16 trackers");
}

TEST_CASE("seed: framing of the text") {
    std::string text = format_seed(sample_seed());
    text.pop_back();
    CHECK(rejection(text) == "line 11: missing newline at the end of the file");
    CHECK(rejection(std::string(limits::kMaxSeedBytes + 1, 'x')).find("more than the limit") !=
          std::string::npos);
}

TEST_CASE("seed: default chunk-size policy") {
    CHECK(default_chunk_size(0) == 256u << 10);
    CHECK(default_chunk_size(1000) == 256u << 10);
    CHECK(default_chunk_size(256ull << 20) == 256u << 10);
    CHECK(default_chunk_size((256ull << 20) * 2) == 512u << 10);
    CHECK(default_chunk_size(1ull << 30) == 1u << 20);
    CHECK(default_chunk_size((1ull << 30) + 1) == 1u << 20);
    CHECK(default_chunk_size(10ull << 30) == 8u << 20);
    CHECK(default_chunk_size(1ull << 40) == 16u << 20);
    for (std::uint64_t len : {1ull << 20, 3ull << 28, 5ull << 30, 7ull << 33, 1ull << 41}) {
        const auto cs = default_chunk_size(len);
        CAPTURE(len);
        CHECK(std::has_single_bit(cs));
        CHECK(cs >= limits::kMinDefaultChunkSize);
        CHECK(cs <= limits::kMaxChunkSize);
        // About a thousand chunks or more, unless clamped by the bounds.
        if (cs > limits::kMinDefaultChunkSize && cs < limits::kMaxChunkSize)
            CHECK(chunk_count_for(len, cs) >= limits::kTargetChunkCount);
        if (cs < limits::kMaxChunkSize)
            CHECK(chunk_count_for(len, cs * 2) < limits::kTargetChunkCount);
    }
}

TEST_CASE("seed: CRLF (Windows) line endings are named as such") {
    std::string crlf;
    for (const auto& l : sample_lines())
        crlf += l + "\r\n";
    const auto all = rejection(crlf);
    CHECK(all.find("seed has CRLF (Windows) line endings") != std::string::npos);
    // Only some lines (an editor that converted part of it): still named, with the line.
    auto lines = sample_lines();
    lines[3] += "\r";
    const auto one = rejection(join(lines));
    CHECK(one.find("line 4: ") == 0);
    CHECK(one.find("CRLF (Windows) line endings") != std::string::npos);
    // A lone CR elsewhere in a line stays a plain control character.
    lines = sample_lines();
    lines[1] = "name a\rb";
    CHECK(rejection(join(lines)).find("control character (byte 0x0d)") != std::string::npos);
}

}  // namespace seed_test
