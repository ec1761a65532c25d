// The real `peer serve` and `peer list` against a real `tracker`, as a user
// runs them: why serve skips a file (said once), its own state directory
// never served, what a user sees at the default log level, plurals; list
// with a tracker down, sorted, filtered, as JSON; a tracker address where
// something else answers (HTTP); list --channels, with a signed manifest put
// through the tracker client.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <atomic>
#include <regex>
#include <thread>

#include "peer/discovery/tracker_client.hpp"
#include "test/support/async.hpp"
#include "test/support/manifests.hpp"
#include "test/support/process.hpp"
#include "test/support/run.hpp"
#include "test/support/temp_dir.hpp"

namespace cli_serve_list_test {

using namespace seedshare::test;
namespace fs = std::filesystem;

namespace {

const std::string kPeer = SEEDSHARE_PEER_BINARY;
const std::string kTracker = SEEDSHARE_TRACKER_BINARY;
// Safety limit for anything a test waits for: hitting it fails the test.
constexpr double kLimit = 60;

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1))
        ++n;
    return n;
}

// Pumps `p` until its stderr contains `what`; false at the safety limit.
bool err_shows(Process& p, const std::string& what, std::size_t times = 1) {
    for (int i = 0; i < kLimit * 20; ++i) {
        if (count(p.err(), what) >= times) return true;
        if (p.wait(0.05)) return count(p.err(), what) >= times;
    }
    return false;
}

// A tracker on a free loopback port; its address is "127.0.0.1:PORT".
struct RealTracker {
    TempDir dir;
    std::unique_ptr<Process> process;
    std::string address;
    RealTracker() {
        process = std::make_unique<Process>(std::vector<std::string>{
            kTracker, "--port", "0", "--host", "127.0.0.1", "--db", (dir / "t.db").string()});
        const auto line = process->read_line(kLimit);
        REQUIRE_MESSAGE(line, "no startup line; stderr: " << process->err());
        static const std::regex re(R"((127\.0\.0\.1:\d+))");
        std::smatch m;
        REQUIRE_MESSAGE(std::regex_search(*line, m, re), *line);
        address = m[1];
    }
};

// A `peer serve` that has printed its "serving" line.
std::unique_ptr<Process> start_serve(const std::vector<std::string>& args,
                                     const fs::path& cwd = {}) {
    std::vector<std::string> argv{kPeer, "serve"};
    argv.insert(argv.end(), args.begin(), args.end());
    auto p = std::make_unique<Process>(argv, cwd);
    const auto line = p->read_line(kLimit);
    REQUIRE_MESSAGE(line, "serve printed nothing; stderr: " << p->err());
    REQUIRE_MESSAGE(line->starts_with("serving "), *line);
    return p;
}

// Stops a serve with SIGTERM; its exit code must be 0.
void stop(Process& p) {
    p.signal(SIGTERM);
    const auto code = p.wait(kLimit);
    REQUIRE(code);
    CHECK(*code == 0);
}

// A loopback port nothing listens on.
int closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

// Answers every connection on a loopback port with `reply`, then closes it:
// something that is not a seedshare tracker (an HTTP server, here).
class ForeignServer {
  public:
    explicit ForeignServer(std::string reply) : reply_(std::move(reply)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd_, 8) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] {
            for (;;) {
                const int c = ::accept(fd_, nullptr, nullptr);
                if (c < 0 || stopping_) {
                    if (c >= 0) ::close(c);
                    return;
                }
                char buf[512];
                (void)::recv(c, buf, sizeof buf, 0);  // the request (a Join frame)
                (void)::send(c, reply_.data(), reply_.size(), MSG_NOSIGNAL);
                ::shutdown(c, SHUT_RDWR);
                ::close(c);
            }
        });
    }
    ~ForeignServer() {
        stopping_ = true;
        ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
        thread_.join();
        ::close(fd_);
    }
    int port() const { return port_; }

  private:
    std::string reply_;
    int fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

// `peer list` until every name in `names` shows up (the serve registers in
// the background after printing "serving").
void wait_listed(const std::string& tracker, const std::vector<std::string>& names) {
    for (int i = 0; i < kLimit * 10; ++i) {
        const auto r = run({kPeer, "list", "--tracker", tracker});
        bool all = r.exit_code == 0;
        for (const auto& n : names)
            all = all && r.out.find(n) != std::string::npos;
        if (all) return;
        ::usleep(100'000);
    }
    FAIL("the tracker never listed every file");
}

}  // namespace

TEST_CASE("serve cli: says once per file why it skips one") {
    RealTracker tracker;
    TempDir dir, outside, other;
    write_file(dir / "good.bin", pattern_bytes(5000, 1));
    write_file(dir / "bad\x01name", "a control character in the name");
    fs::create_symlink(dir / "nowhere", dir / "broken-link");
    write_file(outside / "secret", "s");
    fs::create_symlink(outside / "secret", dir / "escape");
    REQUIRE(::mkfifo((dir / "pipe").c_str(), 0644) == 0);
    // other.bin.seed describes another file of that name: serve makes its own.
    write_file(other / "other.bin", pattern_bytes(7000, 2));
    REQUIRE(run({kPeer, "make-seed", (other / "other.bin").string(), "-o",
                 (dir / "other.bin.seed").string()})
                .exit_code == 0);
    write_file(dir / "other.bin", pattern_bytes(9000, 3));
    // Let the seed be newer than the file, as a matching one would be.
    REQUIRE(std::system(("touch " + (dir / "other.bin.seed").string()).c_str()) == 0);
    write_file(dir / ".hidden", "h");
    write_file(dir / "half.bin.part", "p");

    auto serve = start_serve({dir.path().string(), "--tracker", tracker.address, "--host",
                              "127.0.0.1", "--no-state", "--rescan", "0.1"});
    // Two files added later: each seen by a later scan, so the skips above
    // have been met by several scans by then.
    write_file(dir / "later1.bin", "1");
    REQUIRE(err_shows(*serve, "later1.bin (id"));
    write_file(dir / "later2.bin", "2");
    REQUIRE(err_shows(*serve, "later2.bin (id"));
    stop(*serve);
    const std::string err = serve->err();
    INFO(err);
    CHECK(count(err, "bad\\x01name") == 1);  // shown escaped, once
    CHECK(count(err, "control character") == 1);
    CHECK(count(err, "broken-link: a dangling symlink") == 1);
    CHECK(count(err, "a symlink that leads outside") == 1);
    CHECK(count(err, "pipe: a FIFO") == 1);
    CHECK(count(err, "other.bin.seed does not describe") == 1);
    CHECK(err.find(".hidden") == std::string::npos);
    CHECK(err.find("half.bin.part") == std::string::npos);
    CHECK(serve->out().find("served other.bin:") != std::string::npos);
    CHECK(serve->out().find("served good.bin:") != std::string::npos);
}

TEST_CASE("serve cli: a FIFO added while serving is named and never hangs later scans") {
    RealTracker tracker;
    TempDir dir;
    auto serve = start_serve({dir.path().string(), "--tracker", tracker.address, "--host",
                              "127.0.0.1", "--no-state", "--rescan", "0.1"});
    REQUIRE(::mkfifo((dir / "pipe").c_str(), 0644) == 0);
    REQUIRE(err_shows(*serve, "pipe: a FIFO"));
    write_file(dir / "after.bin", "a");
    REQUIRE(err_shows(*serve, "after.bin (id"));
    stop(*serve);
}

TEST_CASE("serve cli: `serve . --state ./st` never serves its own state directory") {
    RealTracker tracker;
    TempDir dir;
    write_file(dir / "a.bin", pattern_bytes(3000, 4));
    auto serve = start_serve({".", "--state", "./st", "--tracker", tracker.address, "--host",
                              "127.0.0.1", "--rescan", "0.1"},
                             dir.path());
    REQUIRE(err_shows(*serve, "a.bin (id"));
    write_file(dir / "b.bin", pattern_bytes(3000, 5));
    REQUIRE(err_shows(*serve, "b.bin (id"));
    write_file(dir / "c.bin", pattern_bytes(3000, 6));
    REQUIRE(err_shows(*serve, "c.bin (id"));
    stop(*serve);
    INFO(serve->err());
    INFO(serve->out());
    CHECK(fs::exists(dir / "st/index"));                   // the state was kept...
    CHECK(serve->err().find("st/") == std::string::npos);  // ... and never served
    CHECK(count(serve->out(), "served ") == 3);
}

TEST_CASE("serve cli: the default log level shows what a user wants, no per-connection chatter") {
    RealTracker tracker;
    TempDir dir, out;
    write_file(dir / "one.bin", pattern_bytes(100'000, 7));
    auto serve = start_serve(
        {dir.path().string(), "--tracker", tracker.address, "--host", "127.0.0.1", "--no-state"});
    REQUIRE(run({kPeer, "make-seed", (dir / "one.bin").string(), "-o", (out / "one.seed").string(),
                 "--tracker", tracker.address})
                .exit_code == 0);
    wait_listed(tracker.address, {"one.bin"});
    const auto got = run({kPeer, "get", (out / "one.seed").string(), "-o", out.path().string(),
                          "--host", "127.0.0.1"});
    REQUIRE_MESSAGE(got.exit_code == 0, got.err);
    stop(*serve);
    INFO(serve->err());
    for (const auto& r : {serve->err(), got.err}) {
        CHECK(r.find("token") == std::string::npos);
        CHECK(r.find("joined tracker") == std::string::npos);
        CHECK(r.find("left tracker") == std::string::npos);
    }
    // One file, one peer: singular.
    CHECK(serve->out().find("serving 1 file from") != std::string::npos);
    CHECK(serve->out().find("served one.bin: 100000 bytes to 1 peer\n") != std::string::npos);
}

TEST_CASE("list cli: one tracker down still lists the other, sorted, filtered, as JSON") {
    RealTracker tracker;
    TempDir dir;
    const std::vector<std::string> names{"delta.txt", "alpha.bin", "echo.iso", "bravo.bin",
                                         "charlie.txt"};
    for (std::size_t i = 0; i < names.size(); ++i)
        write_file(dir / names[i], pattern_bytes(1000 + i, i + 10));
    auto serve = start_serve(
        {dir.path().string(), "--tracker", tracker.address, "--host", "127.0.0.1", "--no-state"});
    wait_listed(tracker.address, names);
    const std::string down = "127.0.0.1:" + std::to_string(closed_port());

    SUBCASE("the table, with a tracker down: exit 0, rows sorted by name") {
        const auto r = run({kPeer, "list", "--tracker", tracker.address, "--tracker", down});
        INFO(r.out, r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.err.find(down) != std::string::npos);
        std::vector<std::size_t> at;
        for (const auto& n : {"alpha.bin", "bravo.bin", "charlie.txt", "delta.txt", "echo.iso"})
            at.push_back(r.out.find(n));
        CHECK(std::is_sorted(at.begin(), at.end()));
        CHECK(at.back() != std::string::npos);
    }
    SUBCASE("every tracker down: exit 3") {
        const auto r = run({kPeer, "list", "--tracker", down});
        CHECK(r.exit_code == 3);
    }
    SUBCASE("--filter keeps names containing the text") {
        const auto r = run({kPeer, "list", "--tracker", tracker.address, "--filter", ".bin"});
        INFO(r.out, r.err);
        CHECK(r.exit_code == 0);
        CHECK(r.out.find("alpha.bin") != std::string::npos);
        CHECK(r.out.find("bravo.bin") != std::string::npos);
        CHECK(r.out.find("charlie") == std::string::npos);
        CHECK(r.out.find("echo") == std::string::npos);
    }
    SUBCASE("--json: one object with stable keys") {
        const auto r = run({kPeer, "list", "--tracker", tracker.address, "--tracker", down,
                            "--json", "--filter", "a"});
        INFO(r.out, r.err);
        CHECK(r.exit_code == 0);
        const auto j = nlohmann::json::parse(r.out, nullptr, false);
        REQUIRE_FALSE(j.is_discarded());
        REQUIRE(j["trackers"].size() == 2);
        const auto& up = j["trackers"][0];
        CHECK(up["tracker"] == tracker.address);
        CHECK(up["ok"] == true);
        CHECK(up["error"].is_null());
        std::vector<std::string> listed;
        for (const auto& f : up["files"]) {
            listed.push_back(f["name"]);
            CHECK(f["holders"] == 1);
            CHECK(f["complete"] == 1);
            CHECK(f["id"].get<std::string>().size() == 64);
            CHECK(f["size"].is_number_unsigned());
        }
        CHECK(listed ==
              std::vector<std::string>{"alpha.bin", "bravo.bin", "charlie.txt", "delta.txt"});
        const auto& gone = j["trackers"][1];
        CHECK(gone["tracker"] == down);
        CHECK(gone["ok"] == false);
        CHECK(gone["error"].is_string());
        CHECK(gone["files"].empty());
    }
    stop(*serve);
}

TEST_CASE("list cli: an HTTP server at the tracker address is named as not a tracker") {
    ForeignServer http(
        "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    const std::string where = "127.0.0.1:" + std::to_string(http.port());
    const auto r = run({kPeer, "list", "--tracker", where});
    INFO(r.err);
    CHECK(r.exit_code == 3);
    CHECK(r.err.find(where + " is not a seedshare tracker (it answered like HTTP)") !=
          std::string::npos);
    CHECK(r.err.find("over the limit") == std::string::npos);
}

TEST_CASE("list cli: --channels lists the channels a tracker keeps, as a table and as JSON") {
    RealTracker tracker;
    const auto empty = run({kPeer, "list", "--channels", "--tracker", tracker.address});
    INFO(empty.out, empty.err);
    CHECK(empty.exit_code == 0);
    CHECK(empty.out == "no channels\n");

    // A publisher follows its channel and puts version 7 (it stays joined,
    // and so a subscriber, while the lists below run).
    const seedshare::ChannelKey key = channel_key(3);
    const std::string id = channel_of(key).hex();
    asio::io_context io;
    seedshare::TrackerClient::Options o;
    o.tracker = seedshare::HostPort{
        "127.0.0.1", static_cast<std::uint16_t>(std::stoi(tracker.address.substr(10)))};
    o.user = seedshare::random_user_id();
    o.listen_port = 4555;
    seedshare::TrackerClient publisher(io.get_executor(), o,
                                       seedshare::Logger("test", seedshare::LogLevel::kOff));
    run_task(io, [&]() -> asio::awaitable<void> {
        co_await publisher.connect();
        publisher.follow(channel_of(key), 7);
        co_await publisher.put_manifest(signed_manifest(key, 6, "nightly builds", 3));
        co_await publisher.put_manifest(signed_manifest(key, 7, "nightly builds", 3));
    }());

    const auto r = run({kPeer, "list", "--channels", "--tracker", tracker.address});
    INFO(r.out, r.err);
    CHECK(r.exit_code == 0);
    const auto header = r.out.substr(0, r.out.find('\n'));
    CHECK(std::regex_search(header, std::regex("^NAME +VERSION +FILES +SIZE +SUBSCRIBERS +ID$")));
    CHECK(std::regex_search(r.out,
                            std::regex("\nnightly builds +7 +3 +2\\.93 KiB +1 +" + id + "\n$")));
    const auto none =
        run({kPeer, "list", "--channels", "--tracker", tracker.address, "--filter", "datasets"});
    CHECK(none.out == "no channels\n");

    const auto j = run({kPeer, "list", "--channels", "--json", "--tracker", tracker.address});
    INFO(j.out, j.err);
    CHECK(j.exit_code == 0);
    const auto doc = nlohmann::json::parse(j.out, nullptr, false);
    REQUIRE_FALSE(doc.is_discarded());
    REQUIRE(doc["trackers"].size() == 1);
    CHECK(doc["trackers"][0]["ok"] == true);
    REQUIRE(doc["trackers"][0]["channels"].size() == 1);
    const auto& c = doc["trackers"][0]["channels"][0];
    CHECK(c["name"] == "nightly builds");
    CHECK(c["version"] == 7);
    CHECK(c["files"] == 3);
    CHECK(c["size"] == 3000);
    CHECK(c["subscribers"] == 1);
    CHECK(c["id"] == id);
    publisher.stop();
}

}  // namespace cli_serve_list_test
