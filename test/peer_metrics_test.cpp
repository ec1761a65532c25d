// peer --metrics: the Prometheus text a peer serves, and the HOST:PORT
// values --metrics and --http take.
#include <doctest/doctest.h>

#include "common/http/http_server.hpp"
#include "peer/app/metrics.hpp"

namespace peer_metrics_test {

using namespace seedshare;

TEST_CASE("peer metrics: counters, gauges and channel versions") {
    SwarmCounters c;
    c.bytes_down = 3 << 20;
    c.bytes_up = 12345;
    c.chunks_verified = 12;
    c.chunks_failed = 1;
    PeerSnapshot s;
    s.swarms = 2;
    s.swarms_complete = 1;
    s.connections = 5;
    ChannelId ch;
    ch.bytes[0] = 0xab;
    s.channels.push_back({ch, "team \"site\"", 7});
    const std::string text = render_peer_metrics(s, c, "subscribe", "0.1.0");
    CAPTURE(text);
    for (const char* line :
         {"# TYPE seedshare_peer_downloaded_bytes_total "
          "counter\nseedshare_peer_downloaded_bytes_total 3145728\n",
          "\nseedshare_peer_uploaded_bytes_total 12345\n",
          "\nseedshare_peer_chunks_verified_total 12\n", "\nseedshare_peer_chunks_failed_total 1\n",
          "\nseedshare_peer_peers_banned_total 0\n",
          "# TYPE seedshare_peer_swarms gauge\nseedshare_peer_swarms 2\n",
          "\nseedshare_peer_connections 5\n", "\nseedshare_peer_up 1\n",
          "seedshare_peer_build_info{version=\"0.1.0\",command=\"subscribe\"} 1\n"})
        CHECK(text.find(line) != std::string::npos);
    CHECK(text.find("seedshare_peer_channel_version{channel=\"ab" + std::string(62, '0') +
                    "\",name=\"team \\\"site\\\"\"} 7\n") != std::string::npos);
    // The I/O thread did not answer: the counters only, and up 0.
    const std::string down = render_peer_metrics(std::nullopt, c, "serve", "0.1.0");
    CHECK(down.find("\nseedshare_peer_up 0\n") != std::string::npos);
    CHECK(down.find("seedshare_peer_swarms") == std::string::npos);
    CHECK(down.find("\nseedshare_peer_uploaded_bytes_total 12345\n") != std::string::npos);
}

TEST_CASE("http address: HOST:PORT with an IP address, IPv6 in brackets, port 0 allowed") {
    auto a = http::parse_address("--metrics", "127.0.0.1:9100");
    REQUIRE(a);
    CHECK(a->host == "127.0.0.1");
    CHECK(a->port == 9100);
    auto b = http::parse_address("--metrics", "[::1]:0");
    REQUIRE(b);
    CHECK(b->host == "::1");
    CHECK(b->port == 0);
    for (const char* bad : {"", "9100", "localhost:9100", "::1:9100", "[::1]",
                            "1.2.3.4:", "1.2.3.4:x", "1.2.3.4:65536", "[1.2.3.4]:80x", "[]:80"}) {
        CAPTURE(bad);
        auto r = http::parse_address("--metrics", bad);
        CHECK_FALSE(r);
        if (!r) CHECK(r.error().message.starts_with("--metrics"));
    }
}

}  // namespace peer_metrics_test
