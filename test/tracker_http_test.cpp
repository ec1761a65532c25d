// tracker --http in-process: the pure renderers (escaping, the Prometheus
// text), then a TrackerServer with TrackerHttp on 127.0.0.1 and a real HTTP
// client: the page, /metrics parsed, the JSON of /api/*, /healthz flipping to
// 503 while the store fails, and peers still served while slow HTTP clients
// hold every HTTP thread.
#include <doctest/doctest.h>
#include <httplib.h>

#include <csignal>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "common/core/hex.hpp"
#include "test/tracker_server_harness.hpp"
#include "tracker/http/tracker_http.hpp"

namespace tracker_http_test {

using namespace tracker_harness;

namespace {

// (No '/': a seed's file name has none.)
constexpr std::string_view kHostile = "<script>alert('x')<!--&\"evil\".bin";

// A registry that fails on demand (fail = true): every call throws
// RegistryFailure, as SQLite does on an I/O error.
class FailingRegistry final : public Registry {
  public:
    explicit FailingRegistry(Registry& inner) : r_(inner) {}
    std::atomic<bool> fail{false};

    std::chrono::milliseconds ttl() const override { return r_.ttl(); }
    void set_ttl(std::chrono::milliseconds t) override { r_.set_ttl(t); }
    RegistryResult<JoinResult> join(const UserId& u, const Token& t, const asio::ip::address& a,
                                    std::uint16_t p, bool backup = false) override {
        check();
        return r_.join(u, t, a, p, backup);
    }
    RegistryResult<Done> heartbeat(const UserId& u, const Token& t) override {
        check();
        return r_.heartbeat(u, t);
    }
    RegistryResult<FilesUpdated> update_files(const UserId& u, const Token& t,
                                              const FileChanges& c) override {
        check();
        return r_.update_files(u, t, c);
    }
    using Registry::put_seed;
    RegistryResult<Done> put_seed(const UserId& u, const Token& t, std::string_view text,
                                  const Result<ParsedSeed>& parsed) override {
        check();
        return r_.put_seed(u, t, text, parsed);
    }
    RegistryResult<Done> leave(const UserId& u, const Token& t) override {
        check();
        return r_.leave(u, t);
    }
    RegistryResult<Done> follow_channels(const UserId& u, const Token& t,
                                         const FollowChanges& c) override {
        check();
        return r_.follow_channels(u, t, c);
    }
    using Registry::put_manifest;
    RegistryResult<ManifestStored> put_manifest(const UserId& u, const Token& t,
                                                std::string_view text,
                                                const Result<ManifestSummary>& c) override {
        check();
        return r_.put_manifest(u, t, text, c);
    }
    std::vector<Holder> get_peers(const SeedId& id, const UserId& a, std::uint16_t n) override {
        check();
        return r_.get_peers(id, a, n);
    }
    FilePage list_files(const std::optional<SeedId>& after, std::size_t limit) override {
        check();
        return r_.list_files(after, limit);
    }
    std::optional<std::string> get_seed(const SeedId& id) override {
        check();
        return r_.get_seed(id);
    }
    std::optional<std::string> get_manifest(const ChannelId& c) override {
        check();
        return r_.get_manifest(c);
    }
    std::vector<Follower> channel_peers(const ChannelId& c, const UserId& a,
                                        std::uint16_t n) override {
        check();
        return r_.channel_peers(c, a, n);
    }
    ChannelPage list_channels(const std::optional<ChannelId>& after, std::size_t limit) override {
        check();
        return r_.list_channels(after, limit);
    }
    bool is_live(const UserId& u, const Token& t) override {
        check();
        return r_.is_live(u, t);
    }
    std::optional<Token> token_of(const UserId& u) override {
        check();
        return r_.token_of(u);
    }
    SweepResult sweep(std::size_t n) override {
        check();
        return r_.sweep(n);
    }
    void flush() override {
        check();
        r_.flush();
    }
    void close() override { r_.close(); }
    RegistryStats stats() override {
        check();
        return r_.stats();
    }

  private:
    void check() const {
        if (fail) throw RegistryFailure("disk I/O error");
    }
    Registry& r_;
};

// A tracker with its HTTP endpoints, its io_context on a thread of its own
// (HTTP handlers wait for it).
struct HttpTracker {
    explicit HttpTracker(http::Limits limits = {}) {
        auto s = Store::open(":memory:", system_now_ms, std::chrono::milliseconds(90000));
        REQUIRE(s);
        store = std::move(*s);
        registry = std::make_unique<FailingRegistry>(*store);
        // A holder of a file with a hostile name, before the I/O thread runs.
        const Seed seed = make_seed(std::string(kHostile), 4);
        seed_id = seed.id();
        const auto joined =
            registry->join(uid(1), Token{}, asio::ip::make_address("10.0.0.7"), 4100);
        const Token token = std::get<JoinResult>(joined).token;
        FileChanges add;
        add.add.push_back(HeldFile{seed_id, std::string(kHostile), seed.length, true});
        REQUIRE(std::holds_alternative<FilesUpdated>(registry->update_files(uid(1), token, add)));
        REQUIRE(std::holds_alternative<Done>(registry->put_seed(uid(1), token, format_seed(seed))));

        TrackerServer::Options opt;
        opt.on_request = [c = counters](std::uint8_t type, std::chrono::nanoseconds took) {
            c->observe(type, took);
        };
        server = std::make_unique<TrackerServer>(io.get_executor(), *registry, opt,
                                                 Logger("tracker", LogLevel::kOff));
        server->start();
        TrackerHttp::Options hopt;
        hopt.address = http::Address{"127.0.0.1", 0};
        hopt.limits = limits;
        hopt.sample_interval = 100ms;
        http = std::make_unique<TrackerHttp>(io.get_executor(), *registry, *server, counters, hopt,
                                             Logger("http", LogLevel::kOff));
        http->start();
        thread = std::thread([this] { io.run(); });
    }
    ~HttpTracker() {
        http->stop();
        io.stop();
        thread.join();
        server->stop();
        test::settle(io, 20ms);
    }
    httplib::Result get(const std::string& path) {
        httplib::Client c("127.0.0.1", http->port());
        c.set_read_timeout(std::chrono::seconds(10));
        return c.Get(path);
    }

    asio::io_context io;
    std::unique_ptr<Store> store;
    std::unique_ptr<FailingRegistry> registry;
    std::shared_ptr<RequestCounters> counters = std::make_shared<RequestCounters>();
    std::unique_ptr<TrackerServer> server;
    std::unique_ptr<TrackerHttp> http;
    SeedId seed_id;
    std::thread thread;
};

// Prometheus text: every sample line "name{labels} value", each name declared
// by a TYPE line before it. Returns the samples by "name{labels}".
std::map<std::string, double> parse_metrics(const std::string& text) {
    static const std::regex sample(
        R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? (\S+)$)");
    std::map<std::string, double> out;
    std::set<std::string> typed;
    std::istringstream in(text);
    std::string line;
    int lines = 0;
    while (std::getline(in, line) && ++lines < 100000) {
        if (line.rfind("# TYPE ", 0) == 0) {
            typed.insert(line.substr(7, line.find(' ', 7) - 7));
            continue;
        }
        if (line.rfind("# HELP ", 0) == 0) continue;
        std::smatch m;
        REQUIRE_MESSAGE(std::regex_match(line, m, sample), "not a sample line: " << line);
        std::string family = m[1];
        for (const char* suffix : {"_bucket", "_sum", "_count"})
            if (!typed.contains(family) && family.ends_with(suffix))
                family.resize(family.size() - std::strlen(suffix));
        CHECK_MESSAGE(typed.contains(family), "no TYPE before " << line);
        out[m[1].str() + m[2].str()] = std::stod(m[5].str());
    }
    return out;
}

}  // namespace

TEST_CASE("tracker http: the page escapes what peers named") {
    CHECK(html_escape(R"(<a href="x">'&')") == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;");
    StatusSnapshot s;
    s.listening = true;
    s.stats.files = 1;
    s.files.files.push_back(FileSummary{SeedId{}, std::string(kHostile), 10, 2, 1});
    ChannelSummary ch;
    ch.head.name = "<img src=x onerror=alert(1)>";
    s.channels.channels.push_back(ch);
    const std::string page = render_status_page(s, {}, PageContext{});
    CHECK(page.find("<script>") == std::string::npos);
    CHECK(page.find("<img") == std::string::npos);
    CHECK(page.find("&lt;script&gt;alert(&#39;x&#39;)&lt;!--&amp;&quot;evil&quot;.bin") !=
          std::string::npos);
    CHECK(page.find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos);
}

TEST_CASE("tracker http: the page, /api/cluster and /metrics name the cluster's leader") {
    StatusSnapshot s;
    s.listening = true;
    CHECK(render_status_page(s, {}, PageContext{}).find("Single tracker") != std::string::npos);
    CHECK(cluster_json(std::nullopt) == nlohmann::json{{"cluster", nullptr}});

    s.cluster = ClusterView{
        "prod", "10.0.0.2:7000", "10.0.0.1:7000", {"10.0.0.1:7000", "10.0.0.2:7000"}, true};
    auto page = render_status_page(s, {}, PageContext{});
    CHECK(page.find("Cluster prod") != std::string::npos);
    CHECK(page.find("id=\"leader\">10.0.0.1:7000</b></p>") != std::string::npos);
    CHECK(page.find("10.0.0.2:7000 &middot; this tracker") != std::string::npos);
    auto j = cluster_json(s.cluster)["cluster"];
    CHECK(j["leader"] == "10.0.0.1:7000");
    CHECK(j["leading"] == false);
    CHECK(j["members"].size() == 2);

    s.cluster->leader = "10.0.0.2:7000";
    s.cluster->name = "<b>";
    s.cluster->etcd_reachable = false;
    page = render_status_page(s, {}, PageContext{});
    CHECK(page.find("id=\"leader\">10.0.0.2:7000</b> (this tracker)") != std::string::npos);
    CHECK(page.find("Cluster &lt;b&gt;") != std::string::npos);
    CHECK(page.find("etcd unreachable") != std::string::npos);
    CHECK(cluster_json(s.cluster)["cluster"]["leading"] == true);
    const auto metrics = render_metrics(s, RequestCounters{}, PageContext{});
    CHECK(metrics.find("seedshare_tracker_cluster_leader 1") != std::string::npos);
    CHECK(metrics.find("seedshare_tracker_cluster_members 2") != std::string::npos);

    s.cluster->leader.clear();
    CHECK(render_status_page(s, {}, PageContext{}).find("Leader: <b>none</b>") !=
          std::string::npos);
    CHECK(cluster_json(s.cluster)["cluster"]["leader"].is_null());
}

TEST_CASE("tracker http: the chart plots requests/s and peers over the history") {
    std::deque<HistoryPoint> h;
    CHECK(render_chart_svg(h).find("collecting data") != std::string::npos);
    h.push_back({1000, 0, 1});
    h.push_back({3000, 20, 4});
    h.push_back({5000, 60, 2});
    CHECK(requests_per_second(h) == doctest::Approx(20.0));
    const auto svg = render_chart_svg(h);
    CHECK(svg.find("<polyline") != std::string::npos);
    CHECK(svg.find("20.0/s") != std::string::npos);  // the highest rate labels the axis
    CHECK(svg.find("4 peers") != std::string::npos);
}

TEST_CASE("tracker http: /metrics is Prometheus text with latency histograms by type") {
    RequestCounters c;
    c.observe(0x01, std::chrono::microseconds(50));  // Join, first bucket
    c.observe(0x01, std::chrono::milliseconds(3));   // Join, le 0.005
    c.observe(0x05, std::chrono::seconds(10));       // GetPeers, above 2.5 s
    StatusSnapshot s;
    s.listening = true;
    s.stats.live_users = 3;
    PageContext ctx;
    ctx.version = "1.2.3\"\\";
    const auto m = parse_metrics(render_metrics(s, c, ctx));
    CHECK(m.at("seedshare_tracker_up") == 1);
    CHECK(m.at("seedshare_tracker_peers_online") == 3);
    CHECK(m.at("seedshare_tracker_requests_total{type=\"Join\"}") == 2);
    CHECK(m.at("seedshare_tracker_request_duration_seconds_bucket{type=\"Join\",le=\"0.0001\"}") ==
          1);
    CHECK(m.at("seedshare_tracker_request_duration_seconds_bucket{type=\"Join\",le=\"0.005\"}") ==
          2);
    CHECK(m.at("seedshare_tracker_request_duration_seconds_count{type=\"GetPeers\"}") == 1);
    CHECK(m.at("seedshare_tracker_request_duration_seconds_bucket{type=\"GetPeers\",le=\"2.5\"}") ==
          0);
    CHECK(
        m.at("seedshare_tracker_request_duration_seconds_bucket{type=\"GetPeers\",le=\"+Inf\"}") ==
        1);
    CHECK(m.contains("seedshare_tracker_build_info{version=\"1.2.3\\\"\\\\\"}"));
    // No answer from the I/O thread: the counters, and up 0.
    const auto down = parse_metrics(render_metrics(std::nullopt, c, ctx));
    CHECK(down.at("seedshare_tracker_up") == 0);
    CHECK_FALSE(down.contains("seedshare_tracker_peers_online"));
}

TEST_CASE("tracker http: the endpoints of a running tracker") {
    HttpTracker t;

    auto page = t.get("/");
    REQUIRE(page);
    CHECK(page->status == 200);
    CHECK(page->get_header_value("Content-Type").find("text/html") == 0);
    CHECK(page->body.find("peers online") != std::string::npos);
    CHECK(page->body.find("http-equiv=\"refresh\"") != std::string::npos);
    CHECK(page->body.find("<svg") != std::string::npos);
    CHECK(page->body.find("<script>") == std::string::npos);
    CHECK(page->body.find(html_escape(kHostile)) != std::string::npos);

    auto files = t.get("/api/files");
    REQUIRE(files);
    CHECK(files->status == 200);
    const auto fj = nlohmann::json::parse(files->body);
    REQUIRE(fj.at("files").is_array());
    REQUIRE(fj.at("files").size() == 1);
    const auto& f = fj.at("files")[0];
    CHECK(f.at("id") == t.seed_id.hex());
    CHECK(f.at("name") == kHostile);
    CHECK(f.at("size").is_number_unsigned());
    CHECK(f.at("holders") == 1);
    CHECK(f.at("complete") == 1);
    CHECK(f.at("partial") == 0);
    CHECK(fj.at("more") == false);
    CHECK(t.get("/api/files?limit=0")->status == 400);
    CHECK(t.get("/api/files?after=nothex")->status == 400);

    auto peers = t.get("/api/peers?seed=" + t.seed_id.hex());
    REQUIRE(peers);
    CHECK(peers->status == 200);
    const auto pj = nlohmann::json::parse(peers->body);
    REQUIRE(pj.at("peers").size() == 1);
    CHECK(pj.at("peers")[0].at("address") == "10.0.0.7");
    CHECK(pj.at("peers")[0].at("port") == 4100);
    CHECK(pj.at("peers")[0].at("complete") == true);
    CHECK(pj.at("peers")[0].at("user").is_string());
    CHECK(t.get("/api/peers")->status == 400);
    CHECK(t.get("/api/peers?seed=12")->status == 400);

    auto channels = t.get("/api/channels");
    REQUIRE(channels);
    CHECK(channels->status == 200);
    const auto cj = nlohmann::json::parse(channels->body);
    CHECK(cj.at("channels").is_array());
    CHECK(cj.at("more").is_boolean());

    auto metrics = t.get("/metrics");
    REQUIRE(metrics);
    CHECK(metrics->status == 200);
    CHECK(metrics->get_header_value("Content-Type").find("text/plain; version=0.0.4") == 0);
    const auto m = parse_metrics(metrics->body);
    CHECK(m.at("seedshare_tracker_up") == 1);
    CHECK(m.at("seedshare_tracker_peers_online") == 1);
    CHECK(m.at("seedshare_tracker_files") == 1);

    CHECK(t.get("/nothing")->status == 404);

    // The store fails: health says so, and the page stays up.
    auto healthy = t.get("/healthz");
    REQUIRE(healthy);
    CHECK(healthy->status == 200);
    CHECK(healthy->body == "ok\n");
    t.registry->fail = true;
    auto failing = t.get("/healthz");
    REQUIRE(failing);
    CHECK(failing->status == 503);
    CHECK(failing->body.find("disk I/O error") != std::string::npos);
    CHECK(parse_metrics(t.get("/metrics")->body).at("seedshare_tracker_up") == 0);
    CHECK(t.get("/api/files")->status == 503);
    auto failing_page = t.get("/");
    REQUIRE(failing_page);
    CHECK(failing_page->body.find("Store failing") != std::string::npos);
    t.registry->fail = false;
    CHECK(t.get("/healthz")->status == 200);
}

TEST_CASE("tracker http: requests from peers are counted and timed by type") {
    HttpTracker t;
    auto task = [&]() -> awaitable<void> {
        auto raw = co_await Raw::connect(t.server->port());
        co_await raw.join(uid(9), 4200);
    };
    auto done = asio::co_spawn(t.io, task(), asio::use_future);
    REQUIRE(done.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    done.get();
    const auto m = parse_metrics(t.get("/metrics")->body);
    CHECK(m.at("seedshare_tracker_requests_total{type=\"Join\"}") == 1);
    CHECK(m.at("seedshare_tracker_request_duration_seconds_count{type=\"Join\"}") == 1);
    CHECK(m.at("seedshare_tracker_peers_online") == 2);
}

TEST_CASE("tracker http: slow HTTP clients holding every HTTP thread do not stall peers") {
    http::Limits limits;
    limits.threads = 2;
    limits.queued = 1;
    limits.read_timeout = std::chrono::seconds(60);  // the slow clients are held, not dropped
    HttpTracker t(limits);
    // Four connections that send half a request and nothing more: two hold
    // the threads, one waits in the queue, one blocks the accepting thread.
    std::vector<asio::ip::tcp::socket> slow;
    asio::io_context client_io;
    for (int i = 0; i < 4; ++i) {
        asio::ip::tcp::socket s(client_io);
        s.connect({asio::ip::make_address("127.0.0.1"), t.http->port()});
        asio::write(s, asio::buffer(std::string_view("GET / HTTP/1.1\r\nHost: x\r\n")));
        slow.push_back(std::move(s));
    }
    // A peer joins and asks for peers meanwhile.
    auto task = [&]() -> awaitable<void> {
        auto raw = co_await Raw::connect(t.server->port());
        const proto::Joined joined = co_await raw.join(uid(9), 4200);
        const proto::GetPeers ask{joined.token, t.seed_id, 10};
        const auto r = co_await raw.ask(ask);
        CHECK(expect<proto::Peers>(r).peers.size() == 1);
    };
    auto done = asio::co_spawn(t.io, task(), asio::use_future);
    REQUIRE(done.wait_for(std::chrono::seconds(20)) == std::future_status::ready);
    done.get();
    // The slow clients still hold their connections: nothing was answered to them.
    for (auto& s : slow) {
        s.non_blocking(true);
        char byte = 0;
        asio::error_code ec;
        s.read_some(asio::buffer(&byte, 1), ec);
        CHECK(ec == asio::error::would_block);
    }
    for (auto& s : slow)
        s.close();
}

TEST_CASE("tracker http: clients that reset while answered do not end the process (SIGPIPE)") {
    HttpTracker t;
    asio::io_context client_io;
    for (int i = 0; i < 200; ++i) {
        asio::ip::tcp::socket s(client_io);
        s.connect({asio::ip::make_address("127.0.0.1"), t.http->port()});
        asio::write(s, asio::buffer(std::string_view("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")));
        s.set_option(asio::socket_base::linger(true, 0));  // close with a reset
        s.close();
    }
    auto health = t.get("/healthz");
    REQUIRE(health);
    CHECK(health->status == 200);
    // (Whether a reset lands mid-write is luck: the disposition is what counts.)
    struct sigaction sa {};
    REQUIRE(::sigaction(SIGPIPE, nullptr, &sa) == 0);
    const bool ignored = sa.sa_handler == SIG_IGN;
    CHECK(ignored);
}

}  // namespace tracker_http_test
