// peer: make seeds, share a directory, download a file. Parses and checks the
// command line; every bad value is one line on stderr and exit code 2.
#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <exception>

#include "common/limits.hpp"
#include "common/numbers.hpp"
#include "peer/commands.hpp"

namespace {

using namespace seedshare;

struct UsageError {
    std::string message;
};

std::vector<HostPort> parse_trackers(const std::vector<std::string>& texts) {
    std::vector<HostPort> out;
    for (const auto& t : texts) {
        auto hp = parse_host_port(t);
        if (!hp) throw UsageError{fmt::format("--tracker {}", hp.error().message)};
        out.push_back(*hp);
    }
    return out;
}

std::uint64_t parse_chunk_size(const std::string& text) {
    const auto v = parse_size(text);
    if (!v || *v == 0 || *v > limits::kMaxChunkSize)
        throw UsageError{fmt::format(
            "--chunk-size '{}': expected a size from 1 to 16M (e.g. 1M, 262144)", text)};
    return *v;
}

bool has_subcommand(CLI::App& app, std::string_view name) {
    for (const auto* sub : app.get_subcommands({}))
        if (sub->get_name() == name) return true;
    return false;
}

std::string subcommand_names(CLI::App& app) {
    std::string names;
    for (const auto* sub : app.get_subcommands({})) {
        if (!names.empty()) names += ", ";
        names += sub->get_name();
    }
    return names;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{
        "seedshare peer: make seeds, share files, download them from several peers at once"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Show help for every subcommand");

    MakeSeedCommand make_seed;
    std::string out_text;
    std::vector<std::string> tracker_texts;
    std::string chunk_size_text;
    auto* ms =
        app.add_subcommand("make-seed", "Write FILE.seed: name, length, chunk hashes, trackers");
    ms->add_option("FILE", make_seed.file, "The file to seed")->required();
    ms->add_option("-o,--out", out_text, "Where to write the seed (default FILE.seed)");
    ms->add_option("--tracker", tracker_texts,
                   "Tracker HOST:PORT, repeatable (default 127.0.0.1:7000)");
    ms->add_option(
        "--chunk-size", chunk_size_text,
        "Chunk size in bytes, K/M suffixes allowed (default: about 1024 chunks, 256K..16M)");

    try {
        if (argc >= 2 && argv[1][0] != '-' && !has_subcommand(app, argv[1]))
            throw UsageError{fmt::format("unknown command '{}' (expected one of: {})", argv[1],
                                         subcommand_names(app))};
        app.parse(argc, argv);
        if (ms->parsed()) {
            make_seed.trackers = parse_trackers(tracker_texts);
            if (make_seed.trackers.empty())
                make_seed.trackers.push_back(HostPort{"127.0.0.1", 7000});
            if (make_seed.trackers.size() > limits::kMaxTrackersPerSeed)
                throw UsageError{
                    fmt::format("at most {} --tracker options", limits::kMaxTrackersPerSeed)};
            if (!chunk_size_text.empty()) make_seed.chunk_size = parse_chunk_size(chunk_size_text);
            if (!out_text.empty()) make_seed.out = out_text;
            return run_make_seed(make_seed);
        }
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        fmt::print(stderr, "peer: {}{}\n", e.what(),
                   argc < 2 ? fmt::format(" (one of: {}; see --help)", subcommand_names(app)) : "");
        return kExitUsage;
    } catch (const UsageError& e) {
        fmt::print(stderr, "peer: {}\n", e.message);
        return kExitUsage;
    } catch (const std::exception& e) {
        fmt::print(stderr, "peer: {}\n", e.what());
        return kExitFailure;
    }
    return kExitUsage;
}
