#include <doctest/doctest.h>

#include "common/core/address.hpp"

namespace address_test {

using namespace seedshare;

TEST_CASE("address: accepted forms") {
    auto a = parse_host_port("127.0.0.1:7000");
    REQUIRE(a);
    CHECK(a->host == "127.0.0.1");
    CHECK(a->port == 7000);
    CHECK(a->str() == "127.0.0.1:7000");

    auto b = parse_host_port("[::1]:65535");
    REQUIRE(b);
    CHECK(b->host == "::1");
    CHECK(b->port == 65535);
    CHECK(b->str() == "[::1]:65535");

    auto c = parse_host_port("tracker.example.org:1");
    REQUIRE(c);
    CHECK(c->host == "tracker.example.org");
}

TEST_CASE("address: rejections say what is wrong") {
    for (const char* bad : {"", "7000", "host", "host:", ":7000", "host:0", "host:65536", "host:-1",
                            "host:07000", "host:7000x", "::1:7000", "[::1]7000", "[::1:7000",
                            "ho st:7000", "host/x:7000", "[zz::1]:7000"}) {
        CAPTURE(bad);
        auto r = parse_host_port(bad);
        CHECK_FALSE(r);
        if (!r) CHECK_FALSE(r.error().message.empty());
    }
    CHECK_FALSE(parse_host_port(std::string(254, 'a') + ":1"));
}

TEST_CASE("address: a missing port or host is named as such") {
    for (const char* text : {"[::1]", "host", "127.0.0.1", "host:", "[::1]:"}) {
        CAPTURE(text);
        auto r = parse_host_port(text);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("lacks a port") != std::string::npos);
    }
    auto r = parse_host_port("7000");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("lacks a host") != std::string::npos);
}

}  // namespace address_test
