// A small client of etcd's v3 JSON gateway (etcd 3.4: POST /v3/kv/range,
// /v3/kv/txn, /v3/lease/grant, ...; keys and values base64), on libcurl and
// nlohmann-json. Synchronous: the caller runs it off the tracker's I/O thread.
//
// Thread-safe: each call borrows a curl easy handle from a small pool, so
// connections are reused (HTTP keep-alive) across calls and threads. Every
// call has a deadline (Options::timeout); a call that fails to reach a member
// (refused, timed out, 5xx, gRPC Unavailable such as "leader changed") is
// retried on the next endpoint, up to Options::rounds passes over all of them.
// Failures are typed (EtcdErrc), never told apart by message text.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/core/result.hpp"

namespace seedshare::tracker::etcd {

enum class EtcdErrc : std::uint8_t {
    kUnavailable,  // no endpoint answered within the deadline and retries
    kRejected,     // an endpoint answered with an error that a retry will not fix
    kBadReply,     // an answer that is not the JSON expected
};

struct EtcdError : std::runtime_error {
    EtcdError(EtcdErrc c, const std::string& what) : std::runtime_error(what), code(c) {}
    EtcdErrc code;
};

// "http://127.0.0.1:2379,http://10.0.0.2:2379": each an http URL with a host
// and a port, at most 16 of them.
Result<std::vector<std::string>> parse_endpoints(std::string_view csv);

// libcurl's global initialisation, once per process (every client and watch
// calls it before using curl).
void curl_init_once();

std::string base64(std::string_view bytes);
// Throws EtcdError(kBadReply) on text that is not base64.
std::string unbase64(std::string_view text);
// etcd's JSON writes 64-bit numbers as strings; missing: 0.
std::int64_t number(const nlohmann::json& j, const char* field);

// One key-value as a range answers it (key and value decoded).
struct KeyValue {
    std::string key;
    std::string value;
    std::int64_t mod_revision = 0;
    std::int64_t create_revision = 0;
    std::int64_t lease = 0;
};
std::vector<KeyValue> kvs_of(const nlohmann::json& range_response);

// The first key after every key that starts with `prefix` (a range's end).
std::string prefix_end(std::string prefix);

// Builders of a txn's parts (the JSON gateway's field names).
namespace op {
nlohmann::json put(std::string_view key, std::string_view value, std::int64_t lease = 0);
nlohmann::json put_keep_lease(std::string_view key, std::string_view value);
nlohmann::json del(std::string_view key);
nlohmann::json del_prefix(std::string_view prefix);
nlohmann::json get(std::string_view key);
nlohmann::json get_prefix(std::string_view prefix, std::int64_t limit = 0, bool count_only = false);
nlohmann::json txn(nlohmann::json compare, nlohmann::json success);
// Compares: the key's mod revision equals (0: the key is absent), its value.
nlohmann::json mod_is(std::string_view key, std::int64_t mod_revision);
nlohmann::json value_is(std::string_view key, std::string_view value);
// No key starts with `prefix`.
nlohmann::json range_empty(std::string_view prefix);

// etcd (3.4, checkTxnRequest) refuses a txn wider than --max-txn-ops, a txn's
// width being the longest of its compare, success and failure lists; a
// txn nested in it may only be as wide as what its parent left over. The
// ops an op needs of that budget: 0 for a put, get or delete; for a nested
// txn its width plus the most its own operations need.
std::size_t budget_of(const nlohmann::json& op);
// How many of `ops` (taken in order, in chunks) one txn may carry so that
// etcd accepts it (at least 1).
std::size_t ops_per_txn(std::size_t max_txn_ops, const std::vector<nlohmann::json>& ops);
}  // namespace op

class EtcdClient {
  public:
    struct Options {
        std::vector<std::string> endpoints;
        std::chrono::milliseconds timeout{3000};  // one HTTP request
        int rounds = 3;                           // passes over every endpoint
        std::chrono::milliseconds backoff{200};   // between passes
    };
    explicit EtcdClient(Options options);
    ~EtcdClient();
    EtcdClient(const EtcdClient&) = delete;
    EtcdClient& operator=(const EtcdClient&) = delete;

    // POSTs `body` to `path` ("/v3/kv/range") and returns the parsed answer.
    nlohmann::json call(std::string_view path, const nlohmann::json& body);

    // Conveniences over call().
    std::optional<KeyValue> get(std::string_view key);
    std::vector<KeyValue> get_prefix(std::string_view prefix, std::int64_t limit = 0);
    // The whole txn answer; "succeeded" says whether the compares held.
    nlohmann::json txn(const nlohmann::json& compare, const nlohmann::json& success,
                       const nlohmann::json& failure = nlohmann::json::array());
    std::int64_t grant(std::chrono::seconds ttl);
    // Keeps the leases alive; answers those that had already ended.
    std::vector<std::int64_t> keep_alive(const std::vector<std::int64_t>& leases);
    void revoke(std::int64_t lease);

    const std::vector<std::string>& endpoints() const { return options_.endpoints; }

  private:
    struct Pool;
    Options options_;
    std::unique_ptr<Pool> pool_;
};

}  // namespace seedshare::tracker::etcd
