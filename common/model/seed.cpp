#include "common/model/seed.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <optional>

#include "common/core/limits.hpp"
#include "common/core/numbers.hpp"
#include "common/core/utf8.hpp"
#include "common/crypto/sha256.hpp"

namespace seedshare {

namespace {

constexpr std::string_view kMagic = "seedshare-seed";
constexpr std::string_view kCrlfEndings =
    "seed has CRLF (Windows) line endings; seeds use LF only: convert it (dos2unix FILE) or "
    "copy it as a binary file";

// The header keys, in canonical order. "chunks" ends the header.
enum class Key { kName, kLength, kChunkSize, kSha256, kTracker, kChunks };
constexpr std::array<std::string_view, 6> kKeyNames{"name",   "length",  "chunk-size",
                                                    "sha256", "tracker", "chunks"};

std::optional<Key> key_from(std::string_view word) {
    for (std::size_t i = 0; i < kKeyNames.size(); ++i)
        if (kKeyNames[i] == word) return static_cast<Key>(i);
    return std::nullopt;
}

void append_without_trackers(std::string& out, const Seed& s) {
    out += fmt::format("{} {}\n", kMagic, limits::kSeedFormatVersion);
    out += fmt::format("name {}\nlength {}\nchunk-size {}\nsha256 {}\n", s.name, s.length,
                       s.chunk_size, s.file_hash.hex());
}

void append_chunks(std::string& out, const Seed& s) {
    out += fmt::format("chunks {}\n", s.chunk_hashes.size());
    for (const auto& h : s.chunk_hashes) {
        out += h.hex();
        out += '\n';
    }
}

}  // namespace

std::uint32_t Seed::chunk_length(ChunkIndex c) const {
    const std::uint64_t start = chunk_offset(c);
    return static_cast<std::uint32_t>(std::min(chunk_size, length - start));
}

SeedId Seed::id() const {
    std::string text;
    append_without_trackers(text, *this);
    append_chunks(text, *this);
    SeedId id;
    id.bytes = sha256(text).bytes;
    return id;
}

std::uint64_t chunk_count_for(std::uint64_t length, std::uint64_t chunk_size) {
    return length / chunk_size + (length % chunk_size != 0 ? 1 : 0);
}

std::uint64_t default_chunk_size(std::uint64_t length) {
    const std::uint64_t ideal = length / limits::kTargetChunkCount;
    const std::uint64_t pow2 = ideal == 0 ? 1 : std::bit_floor(ideal);
    return std::clamp(pow2, limits::kMinDefaultChunkSize, limits::kMaxChunkSize);
}

Status validate_file_name(std::string_view name) {
    if (name.empty()) return Error{"the name is empty"};
    if (name.size() > limits::kMaxNameBytes)
        return Error{fmt::format("the name is longer than {} bytes", limits::kMaxNameBytes)};
    if (name == "." || name == "..")
        return Error{fmt::format("the name '{}' is not a file name", name)};
    for (std::size_t i = 0; i < name.size();) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (c == '/' || c == '\\')
            return Error{
                "the name holds a path separator ('/' or '\\'); it must be a plain file name"};
        if (c < 0x20 || c == 0x7f)
            return Error{fmt::format("the name holds a control character (byte 0x{:02x})", c)};
        const std::size_t n = utf8_sequence(name, i);
        if (n == 0) return Error{fmt::format("the name is not valid UTF-8 (at byte {})", i)};
        i += n;
    }
    return Ok{};
}

std::string format_seed(const Seed& seed) {
    std::string out;
    out.reserve(256 + seed.trackers.size() * 64 + seed.chunk_hashes.size() * 65);
    append_without_trackers(out, seed);
    for (const auto& t : seed.trackers)
        out += fmt::format("tracker {}\n", t.str());
    append_chunks(out, seed);
    return out;
}

Result<Seed> parse_seed(std::string_view text) {
    if (text.size() > limits::kMaxSeedBytes)
        return Error{fmt::format("seed is {} bytes, more than the limit of {}", text.size(),
                                 limits::kMaxSeedBytes)};
    if (text.empty()) return Error{"line 1: empty seed file"};
    // The version line first: a file that is not a seed at all is told so.
    const std::string expected_first = fmt::format("{} {}", kMagic, limits::kSeedFormatVersion);
    {
        const auto first = text.substr(0, text.find('\n'));
        if (first.size() == expected_first.size() + 1 && first.starts_with(expected_first) &&
            first.back() == '\r')
            return Error{std::string(kCrlfEndings)};
        if (first != expected_first) {
            const bool printable =
                first.size() < 64 && std::all_of(first.begin(), first.end(),
                                                 [](char c) { return c >= 0x20 && c < 0x7f; });
            if (first.starts_with(std::string(kMagic) + " ") && printable)
                return Error{fmt::format(
                    "line 1: unsupported seed format version '{}' (this build reads {})",
                    first.substr(kMagic.size() + 1), limits::kSeedFormatVersion)};
            return Error{
                fmt::format("line 1: not a seedshare seed (expected '{}')", expected_first)};
        }
    }
    if (text.back() != '\n') {
        const auto lines = std::count(text.begin(), text.end(), '\n') + 1;
        return Error{fmt::format("line {}: missing newline at the end of the file", lines)};
    }

    std::size_t pos = 0;
    std::size_t line_no = 0;
    // Next line without its '\n'; nullopt at end of input. Every line ends in
    // '\n' (checked above).
    auto next_line = [&]() -> std::optional<std::string_view> {
        if (pos >= text.size()) return std::nullopt;
        ++line_no;
        const auto nl = text.find('\n', pos);
        const auto line = text.substr(pos, nl - pos);
        pos = nl + 1;
        return line;
    };
    auto fail = [&](std::string what) { return Error{fmt::format("line {}: {}", line_no, what)}; };
    auto check_line_bytes = [&](std::string_view line) -> std::optional<Error> {
        for (const char& ch : line) {
            const auto c = static_cast<unsigned char>(ch);
            if (c == '\r' && &ch == &line.back()) return fail(std::string(kCrlfEndings));
            if (c < 0x20 || c == 0x7f)
                return fail(fmt::format("control character (byte 0x{:02x}) in line", c));
        }
        return std::nullopt;
    };

    auto line = next_line();  // the version line, checked above

    Seed seed;
    std::array<std::size_t, kKeyNames.size()> seen_on{};  // line where each key was seen
    std::optional<std::uint64_t> declared_chunks;
    while (!declared_chunks) {
        line = next_line();
        if (!line) {
            ++line_no;
            return fail("unexpected end of file: missing 'chunks'");
        }
        if (auto e = check_line_bytes(*line)) return *e;
        const auto space = line->find(' ');
        if (space == std::string_view::npos)
            return fail(fmt::format("expected 'KEY VALUE', got '{}'", *line));
        const auto word = line->substr(0, space);
        const auto value = line->substr(space + 1);
        const auto key = key_from(word);
        if (!key) return fail(fmt::format("unknown field '{}'", word));
        auto& seen = seen_on[static_cast<std::size_t>(*key)];
        if (seen != 0 && *key != Key::kTracker)
            return fail(fmt::format("duplicate field '{}' (first on line {})", word, seen));
        if (seen == 0) seen = line_no;

        switch (*key) {
            case Key::kName: {
                if (auto ok = validate_file_name(value); !ok) return fail(ok.error().message);
                seed.name = std::string(value);
                break;
            }
            case Key::kLength: {
                const auto v = parse_u64(value);
                if (!v) return fail(fmt::format("length '{}' is not a decimal number", value));
                seed.length = *v;
                break;
            }
            case Key::kChunkSize: {
                const auto v = parse_u64(value);
                if (!v) return fail(fmt::format("chunk-size '{}' is not a decimal number", value));
                if (*v == 0) return fail("chunk-size is 0");
                if (*v > limits::kMaxChunkSize)
                    return fail(fmt::format("chunk-size {} is above the limit of {}", *v,
                                            limits::kMaxChunkSize));
                seed.chunk_size = *v;
                break;
            }
            case Key::kSha256: {
                if (!from_hex(value, seed.file_hash.bytes))
                    return fail("sha256 must be 64 lowercase hex digits");
                break;
            }
            case Key::kTracker: {
                if (seed.trackers.size() == limits::kMaxTrackersPerSeed)
                    return fail(fmt::format("more than {} trackers", limits::kMaxTrackersPerSeed));
                auto hp = parse_host_port(value);
                if (!hp) return fail(fmt::format("tracker {}", hp.error().message));
                for (const auto& t : seed.trackers)
                    if (t == *hp) return fail(fmt::format("tracker {} listed twice", hp->str()));
                seed.trackers.push_back(std::move(*hp));
                break;
            }
            case Key::kChunks: {
                const auto v = parse_u64(value);
                if (!v) return fail(fmt::format("chunks '{}' is not a decimal number", value));
                declared_chunks = *v;
                break;
            }
        }
    }

    for (std::size_t k = 0; k < kKeyNames.size(); ++k) {
        if (seen_on[k] == 0)
            return fail(fmt::format("missing field '{}' before 'chunks'", kKeyNames[k]));
    }
    const std::uint64_t expected = chunk_count_for(seed.length, seed.chunk_size);
    if (*declared_chunks != expected)
        return fail(fmt::format("chunks is {} but length {} at chunk-size {} needs {}",
                                *declared_chunks, seed.length, seed.chunk_size, expected));
    if (expected > limits::kMaxChunkCount)
        return fail(
            fmt::format("{} chunks is above the limit of {}", expected, limits::kMaxChunkCount));
    // Count the lines left before reserving room for the hashes.
    const auto lines_left = static_cast<std::uint64_t>(
        std::count(text.begin() + static_cast<std::ptrdiff_t>(pos), text.end(), '\n'));
    if (lines_left < expected)
        return Error{fmt::format("line {}: the file ends after {} of {} chunk hashes",
                                 line_no + lines_left + 1, lines_left, expected)};
    seed.chunk_hashes.reserve(expected);
    for (std::uint64_t i = 0; i < expected; ++i) {
        line = next_line();
        if (auto e = check_line_bytes(*line)) return *e;
        Digest d;
        if (!from_hex(*line, d.bytes))
            return fail(fmt::format("chunk {}: hash must be 64 lowercase hex digits", i));
        seed.chunk_hashes.push_back(d);
    }
    if (pos < text.size()) {
        ++line_no;
        return fail("unexpected text after the last chunk hash");
    }
    return seed;
}

}  // namespace seedshare
