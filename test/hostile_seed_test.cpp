// Seeds whose names try to leave the output directory, through the real
// `peer get`: from a seed file, and fetched by id from a (fake, hostile)
// tracker. Each is refused with one line and exit code 1 before any file is
// created, in the output directory or anywhere else.
#include <doctest/doctest.h>

#include <asio.hpp>

#include <atomic>
#include <sstream>
#include <thread>

#include "common/crypto/sha256.hpp"
#include "common/model/seed.hpp"
#include "common/net/net.hpp"
#include "common/wire/tracker_protocol.hpp"
#include "test/support/run.hpp"
#include "test/support/temp_dir.hpp"

namespace hostile_seed_test {

using namespace seedshare;
using namespace seedshare::test;
namespace proto = seedshare::tracker_proto;
namespace fs = std::filesystem;

namespace {

const std::string kPeer = SEEDSHARE_PEER_BINARY;

// Names that must never become a path: each replaces the name of a valid seed.
const std::vector<std::pair<std::string, std::string>> kEvilNames{
    {"parent directory", "../x"},
    {"absolute path", "/etc/seedshare-evil-x"},
    {"subdirectory", "a/b"},
    {"backslash", "a\\b"},
    {"dot-dot", ".."},
    {"NUL", std::string("x\0y", 3)},
    {"newline", "x\ny"},
    {"terminal escape", "\x1b[2Jx"},
};

// The text of a valid seed whose name line is replaced by `name`.
std::string evil_seed_text(const std::string& name, const HostPort& tracker) {
    Seed s;
    s.name = "placeholder.bin";
    s.length = 1000;
    s.chunk_size = 1024;
    s.trackers = {tracker};
    s.chunk_hashes.resize(1);
    std::string text = format_seed(s);
    const std::string line = "name placeholder.bin\n";
    const auto at = text.find(line);
    REQUIRE(at != std::string::npos);
    text.replace(at, line.size(), "name " + name + "\n");
    return text;
}

bool one_line(const std::string& s) {
    return !s.empty() && s.find('\n') == s.size() - 1;
}

// The lines of `text` that start with `prefix`.
std::vector<std::string> lines_starting(const std::string& text, std::string_view prefix) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (line.starts_with(prefix)) out.push_back(line);
    return out;
}

std::vector<std::string> entries(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

// A tracker that answers Join and hands out `text` as the seed text of any
// id it is asked for; its own thread and io_context.
class HostileTracker {
  public:
    explicit HostileTracker(std::string text)
        : text_(std::move(text)),
          acceptor_(io_, net::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        net::spawn(io_.get_executor(), accept_loop(), Logger("fake tracker", LogLevel::kOff),
                   "accept");
        thread_ = std::thread([this] { io_.run_for(std::chrono::seconds(120)); });
    }
    ~HostileTracker() {
        io_.stop();
        thread_.join();
    }
    std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
    int seeds_handed_out() const { return seeds_.load(); }

  private:
    net::awaitable<void> accept_loop() {
        for (int i = 0; i < 100; ++i) {
            auto socket = co_await acceptor_.async_accept(asio::use_awaitable);
            net::spawn(io_.get_executor(), session(std::move(socket)),
                       Logger("fake tracker", LogLevel::kOff), "session");
        }
    }
    net::awaitable<void> session(net::tcp::socket socket) {
        auto fs = std::make_shared<net::FrameStream>(
            std::move(socket), limits::kMaxTrackerFrameBytes,
            net::FrameStream::Timeouts{std::chrono::seconds(30), std::chrono::seconds(30),
                                       std::chrono::seconds(30)});
        net::spawn(io_.get_executor(), fs->watchdog(), Logger("fake tracker", LogLevel::kOff),
                   "watchdog");
        for (int i = 0; i < 1000; ++i) {
            const auto h = co_await fs->read_header();
            const auto payload = co_await fs->read_payload(h);
            auto req = proto::decode_request(h.type, payload);
            if (!req) co_return;
            proto::Response answer = proto::OkReply{};
            if (std::holds_alternative<proto::Join>(*req)) {
                proto::Joined j;
                j.token = random_token();
                j.heartbeat_ms = 10000;
                j.ttl_ms = 30000;
                j.observed = asio::ip::make_address("127.0.0.1");
                answer = j;
            } else if (const auto* get = std::get_if<proto::GetSeed>(&*req)) {
                ++seeds_;
                answer = proto::SeedText{get->id, text_};
            } else if (const auto* peers = std::get_if<proto::GetPeers>(&*req)) {
                answer = proto::Peers{peers->id, {}};
            } else if (std::holds_alternative<proto::FileList>(*req)) {
                answer = proto::FileListOk{};
            } else if (std::holds_alternative<proto::ListFiles>(*req)) {
                answer = proto::Files{};
            }
            const Bytes frame = proto::encode(answer);
            co_await fs->write(frame);
        }
    }

    std::string text_;
    asio::io_context io_;
    net::tcp::acceptor acceptor_;
    std::thread thread_;
    std::atomic<int> seeds_{0};
};

}  // namespace

TEST_CASE(
    "hostile seeds: a seed file whose name leaves the output directory is refused before any "
    "file is created") {
    const bool etc_had_it = fs::exists("/etc/seedshare-evil-x");
    for (const auto& [what, name] : kEvilNames) {
        CAPTURE(what);
        TempDir work;
        fs::create_directories(work / "a" / "out");
        // A port nobody listens on: the seed must be refused before it matters.
        write_file(work / "evil.seed", evil_seed_text(name, HostPort{"127.0.0.1", 9}));
        const auto r = run(
            {kPeer, "get", (work / "evil.seed").string(), "-o", (work / "a" / "out").string()}, 30);
        CHECK(r.exit_code == 1);
        CHECK(one_line(r.err));
        CAPTURE(r.err);
        CHECK(r.err.find("evil.seed") != std::string::npos);
        CHECK(entries(work / "a" / "out").empty());
        CHECK(entries(work / "a") == std::vector<std::string>{"out"});
        CHECK(entries(work.path()) == std::vector<std::string>{"a", "evil.seed"});
    }
    CHECK(fs::exists("/etc/seedshare-evil-x") == etc_had_it);
}

TEST_CASE(
    "hostile seeds: a seed fetched by id whose name leaves the output directory is refused "
    "before any file is created") {
    const bool etc_had_it = fs::exists("/etc/seedshare-evil-x");
    for (const auto& [what, name] : kEvilNames) {
        CAPTURE(what);
        TempDir work;
        fs::create_directories(work / "a" / "out");
        const std::string text = evil_seed_text(name, HostPort{"127.0.0.1", 9});
        HostileTracker tracker(text);
        // The id this text would have if it were a valid seed (the hash of
        // its lines but the tracker lines): were the name not checked, the
        // getter would accept it and go on to create files.
        std::string untracked;
        std::istringstream lines(text);
        for (std::string line; std::getline(lines, line);)
            if (!line.starts_with("tracker ")) untracked += line + "\n";
        const std::string id = sha256(std::string_view(untracked)).hex();
        const auto r =
            run({kPeer, "get", id, "--tracker", "127.0.0.1:" + std::to_string(tracker.port()), "-o",
                 (work / "a" / "out").string()},
                30);
        CHECK(tracker.seeds_handed_out() >= 1);
        CHECK(r.exit_code == 1);
        CAPTURE(r.err);
        // One line says why (the others are the log: joined, left).
        const auto said = lines_starting(r.err, "peer: ");
        REQUIRE(said.size() == 1);
        CHECK(said[0].find("the tracker's seed " + id + " is invalid") != std::string::npos);
        CHECK(entries(work / "a" / "out").empty());
        CHECK(entries(work / "a") == std::vector<std::string>{"out"});
    }
    CHECK(fs::exists("/etc/seedshare-evil-x") == etc_had_it);
}

}  // namespace hostile_seed_test
