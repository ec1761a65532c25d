// Inside the etcd registry (not for other users): how records are written as
// values, and how an etcd failure becomes the Registry's RegistryFailure.
#pragma once

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tracker/etcd/client.hpp"
#include "tracker/etcd/registry.hpp"

namespace seedshare::tracker::etcd::registry_detail {

// Reads that race a concurrent write are retried this many times.
inline constexpr int kAttempts = 8;

// Runs `f`, turning an etcd failure into the registry's RegistryFailure.
template <class F>
auto guarded(EtcdClient&, F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const EtcdError& e) {
        throw RegistryFailure(e.what());
    } catch (const nlohmann::json::exception& e) {
        throw RegistryFailure(fmt::format("etcd: unexpected answer ({})", e.what()));
    }
}

// Fixed width, so that text order is number order.
inline std::string format_number(std::int64_t n) {
    return fmt::format("{:016d}", n);
}

inline std::int64_t parse_number(std::string_view text) {
    std::int64_t n = 0;
    bool any = false;
    for (char c : text) {
        if (c < '0' || c > '9' || n > (INT64_MAX - 9) / 10)
            throw RegistryFailure("etcd: a number in the registry is malformed");
        n = n * 10 + (c - '0');
        any = true;
    }
    if (!any) throw RegistryFailure("etcd: a number in the registry is empty");
    return n;
}

inline std::string format_peer(const EtcdRegistry::Peer& p) {
    auto j = nlohmann::json{{"t", p.token.hex()},
                            {"a", p.address.to_string()},
                            {"p", p.port},
                            {"l", std::to_string(p.lease)}};
    if (p.backup) j["b"] = true;  // absent for other peers (as in older records)
    return j.dump();
}

inline EtcdRegistry::Peer parse_peer(std::string_view text) {
    const auto j = nlohmann::json::parse(text, nullptr, false);
    EtcdRegistry::Peer p;
    if (!j.is_object()) throw RegistryFailure("etcd: a peer record is not JSON");
    try {
        const auto token = Token::from_hex_string(j.at("t").get<std::string>());
        if (!token) throw RegistryFailure("etcd: a peer record has a bad token");
        p.token = *token;
        asio::error_code ec;
        p.address = asio::ip::make_address(j.at("a").get<std::string>(), ec);
        if (ec) throw RegistryFailure("etcd: a peer record has a bad address");
        p.port = j.at("p").get<std::uint16_t>();
        p.lease = std::stoll(j.at("l").get<std::string>());
        if (j.contains("b")) p.backup = j.at("b").get<bool>();
    } catch (const nlohmann::json::exception&) {
        throw RegistryFailure("etcd: a peer record is malformed");
    } catch (const std::logic_error&) {
        throw RegistryFailure("etcd: a peer record is malformed");
    }
    p.exists = true;
    return p;
}

}  // namespace seedshare::tracker::etcd::registry_detail
