#include "tracker/etcd/client.hpp"

#include <cryptopp/base64.h>
#include <cryptopp/filters.h>
#include <curl/curl.h>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

namespace seedshare::tracker::etcd {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxEndpoints = 16;
// An answer larger than this is refused (a range over a big table is paged
// by the caller long before).
constexpr std::size_t kMaxReplyBytes = 64u << 20;
// gRPC's Unavailable: no leader, leader changed, member stopping.
constexpr int kGrpcUnavailable = 14;
constexpr int kGrpcDeadlineExceeded = 4;

struct Sink {
    std::string body;
    bool too_big = false;
};

std::size_t on_data(char* data, std::size_t size, std::size_t n, void* user) {
    auto* sink = static_cast<Sink*>(user);
    if (sink->body.size() + size * n > kMaxReplyBytes) {
        sink->too_big = true;
        return 0;
    }
    sink->body.append(data, size * n);
    return size * n;
}

}  // namespace

void curl_init_once() {
    // curl_global_init is not thread-safe before libcurl 7.84: once per
    // process, whichever client or watch comes first (a static's
    // initialisation is).
    static const bool done = (curl_global_init(CURL_GLOBAL_DEFAULT), true);
    (void)done;
}

Result<std::vector<std::string>> parse_endpoints(std::string_view csv) {
    std::vector<std::string> out;
    while (!csv.empty()) {
        const auto comma = csv.find(',');
        std::string_view one = csv.substr(0, comma);
        csv = comma == std::string_view::npos ? std::string_view{} : csv.substr(comma + 1);
        if (!one.starts_with("http://"))
            return Error{fmt::format("'{}' is not an http:// URL", one)};
        std::string_view rest = one.substr(7);
        while (rest.ends_with('/'))
            rest.remove_suffix(1);
        const auto colon = rest.rfind(':');
        if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size() ||
            rest.find('/') != std::string_view::npos)
            return Error{fmt::format("'{}' has no host:port", one)};
        for (char c : rest.substr(colon + 1))
            if (c < '0' || c > '9') return Error{fmt::format("'{}' has a bad port", one)};
        out.push_back("http://" + std::string(rest));
        if (out.size() > kMaxEndpoints)
            return Error{fmt::format("more than {} endpoints", kMaxEndpoints)};
    }
    if (out.empty()) return Error{"no endpoint given"};
    return out;
}

std::string base64(std::string_view bytes) {
    std::string out;
    CryptoPP::StringSource src(reinterpret_cast<const CryptoPP::byte*>(bytes.data()), bytes.size(),
                               true,
                               new CryptoPP::Base64Encoder(new CryptoPP::StringSink(out), false));
    return out;
}

std::string unbase64(std::string_view text) {
    for (char c : text)
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '='))
            throw EtcdError(EtcdErrc::kBadReply, "etcd: a value is not base64");
    std::string out;
    CryptoPP::StringSource src(reinterpret_cast<const CryptoPP::byte*>(text.data()), text.size(),
                               true, new CryptoPP::Base64Decoder(new CryptoPP::StringSink(out)));
    return out;
}

std::int64_t number(const json& j, const char* field) {
    const auto it = j.find(field);
    if (it == j.end() || it->is_null()) return 0;
    try {
        if (it->is_string()) return std::stoll(it->get<std::string>());
        if (it->is_number_integer()) return it->get<std::int64_t>();
    } catch (const std::exception&) {
    }
    throw EtcdError(EtcdErrc::kBadReply, fmt::format("etcd: '{}' is not a number", field));
}

std::vector<KeyValue> kvs_of(const json& r) {
    std::vector<KeyValue> out;
    const auto it = r.find("kvs");
    if (it == r.end()) return out;
    if (!it->is_array()) throw EtcdError(EtcdErrc::kBadReply, "etcd: kvs is not a list");
    out.reserve(it->size());
    for (const auto& kv : *it) {
        KeyValue v;
        v.key = unbase64(kv.value("key", ""));
        v.value = unbase64(kv.value("value", ""));
        v.mod_revision = number(kv, "mod_revision");
        v.create_revision = number(kv, "create_revision");
        v.lease = number(kv, "lease");
        out.push_back(std::move(v));
    }
    return out;
}

std::string prefix_end(std::string prefix) {
    while (!prefix.empty()) {
        if (static_cast<unsigned char>(prefix.back()) < 0xff) {
            prefix.back() = static_cast<char>(prefix.back() + 1);
            return prefix;
        }
        prefix.pop_back();
    }
    return std::string(1, '\0');  // everything
}

namespace op {
json put(std::string_view key, std::string_view value, std::int64_t lease) {
    json p{{"key", base64(key)}, {"value", base64(value)}};
    if (lease != 0) p["lease"] = std::to_string(lease);
    return json{{"request_put", std::move(p)}};
}
json put_keep_lease(std::string_view key, std::string_view value) {
    return json{
        {"request_put", {{"key", base64(key)}, {"value", base64(value)}, {"ignore_lease", true}}}};
}
json del(std::string_view key) {
    return json{{"request_delete_range", {{"key", base64(key)}}}};
}
json del_prefix(std::string_view prefix) {
    return json{
        {"request_delete_range",
         {{"key", base64(prefix)}, {"range_end", base64(prefix_end(std::string(prefix)))}}}};
}
json get(std::string_view key) {
    return json{{"request_range", {{"key", base64(key)}}}};
}
json get_prefix(std::string_view prefix, std::int64_t limit, bool count_only) {
    json r{{"key", base64(prefix)}, {"range_end", base64(prefix_end(std::string(prefix)))}};
    if (limit > 0) r["limit"] = std::to_string(limit);
    if (count_only) r["count_only"] = true;
    return json{{"request_range", std::move(r)}};
}
json txn(json compare, json success) {
    return json{
        {"request_txn", {{"compare", std::move(compare)}, {"success", std::move(success)}}}};
}
json mod_is(std::string_view key, std::int64_t mod_revision) {
    return json{{"key", base64(key)},
                {"target", "MOD"},
                {"result", "EQUAL"},
                {"mod_revision", std::to_string(mod_revision)}};
}
json value_is(std::string_view key, std::string_view value) {
    return json{
        {"key", base64(key)}, {"target", "VALUE"}, {"result", "EQUAL"}, {"value", base64(value)}};
}
json range_empty(std::string_view prefix) {
    return json{{"key", base64(prefix)},
                {"range_end", base64(prefix_end(std::string(prefix)))},
                {"target", "CREATE"},
                {"result", "EQUAL"},
                {"create_revision", "0"}};
}
std::size_t budget_of(const json& o) {
    const auto t = o.find("request_txn");
    if (t == o.end() || !t->is_object()) return 0;
    std::size_t width = 0, inner = 0;
    for (const char* list : {"compare", "success", "failure"}) {
        const auto l = t->find(list);
        if (l == t->end() || !l->is_array()) continue;
        width = std::max(width, l->size());
        if (std::string_view(list) != "compare")
            for (const auto& child : *l)
                inner = std::max(inner, budget_of(child));
    }
    return width + inner;
}
std::size_t ops_per_txn(std::size_t max_txn_ops, const std::vector<json>& ops) {
    std::size_t nested = 0;
    for (const auto& o : ops)
        nested = std::max(nested, budget_of(o));
    return max_txn_ops > nested ? max_txn_ops - nested : 1;
}
}  // namespace op

struct EtcdClient::Pool {
    std::mutex mutex;
    std::vector<CURL*> idle;
    std::atomic<std::size_t> preferred{0};  // the endpoint that answered last
    ~Pool() {
        for (CURL* c : idle)
            curl_easy_cleanup(c);
    }
    CURL* take() {
        {
            std::lock_guard lock(mutex);
            if (!idle.empty()) {
                CURL* c = idle.back();
                idle.pop_back();
                return c;
            }
        }
        curl_init_once();
        CURL* c = curl_easy_init();
        if (c == nullptr) throw EtcdError(EtcdErrc::kUnavailable, "etcd: curl_easy_init failed");
        return c;
    }
    void give(CURL* c) {
        std::lock_guard lock(mutex);
        idle.push_back(c);
    }
};

EtcdClient::EtcdClient(Options options)
    : options_(std::move(options)), pool_(std::make_unique<Pool>()) {
    if (options_.endpoints.empty()) throw std::invalid_argument("EtcdClient: no endpoint");
}

EtcdClient::~EtcdClient() = default;

json EtcdClient::call(std::string_view path, const json& body) {
    const std::string payload = body.dump();
    const std::size_t n = options_.endpoints.size();
    std::string last_error = "no attempt";
    CURL* c = pool_->take();
    struct Back {
        Pool& p;
        CURL*& c;
        ~Back() {
            if (c != nullptr) p.give(c);
        }
    } back{*pool_, c};
    for (int round = 0; round < options_.rounds; ++round) {
        if (round > 0) std::this_thread::sleep_for(options_.backoff);
        const std::size_t start = pool_->preferred.load();
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t i = (start + k) % n;
            const std::string url = options_.endpoints[i] + std::string(path);
            Sink sink;
            curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
            curl_easy_reset(c);
            curl_easy_setopt(c, CURLOPT_URL, url.c_str());
            curl_easy_setopt(c, CURLOPT_POST, 1L);
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.data());
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                             static_cast<curl_off_t>(payload.size()));
            curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &on_data);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
            curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
            curl_easy_setopt(
                c, CURLOPT_CONNECTTIMEOUT_MS,
                static_cast<long>(std::min<std::int64_t>(options_.timeout.count(), 1000)));
            curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
            curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
            curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
            const CURLcode rc = curl_easy_perform(c);
            long status = 0;
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            curl_slist_free_all(headers);
            if (sink.too_big) throw EtcdError(EtcdErrc::kBadReply, "etcd: answer too large");
            if (rc != CURLE_OK) {
                last_error = fmt::format("{}: {}", options_.endpoints[i], curl_easy_strerror(rc));
                continue;
            }
            json answer = json::parse(sink.body, nullptr, false);
            if (answer.is_discarded() || !answer.is_object()) {
                // Not etcd's API answering (a proxy's error page, or another
                // program on a member's port since the member went away, as a
                // test saw): that endpoint is as good as down; the next one
                // is asked.
                last_error = fmt::format("{}: HTTP {}, not JSON", options_.endpoints[i], status);
                continue;
            }
            if (status == 200 && !answer.contains("error")) {
                pool_->preferred.store(i);
                return answer;
            }
            const auto code = answer.value("code", 0);
            last_error = fmt::format("{}: HTTP {}: {}", options_.endpoints[i], status,
                                     answer.value("error", answer.value("message", "")));
            if (code == kGrpcUnavailable || code == kGrpcDeadlineExceeded || status >= 500)
                continue;
            throw EtcdError(EtcdErrc::kRejected, "etcd: " + last_error);
        }
    }
    throw EtcdError(EtcdErrc::kUnavailable, "etcd unavailable (" + last_error + ")");
}

std::optional<KeyValue> EtcdClient::get(std::string_view key) {
    auto r = call("/v3/kv/range", json{{"key", base64(key)}});
    auto kvs = kvs_of(r);
    if (kvs.empty()) return std::nullopt;
    return std::move(kvs.front());
}

std::vector<KeyValue> EtcdClient::get_prefix(std::string_view prefix, std::int64_t limit) {
    return kvs_of(call("/v3/kv/range", op::get_prefix(prefix, limit)["request_range"]));
}

json EtcdClient::txn(const json& compare, const json& success, const json& failure) {
    return call("/v3/kv/txn",
                json{{"compare", compare}, {"success", success}, {"failure", failure}});
}

std::int64_t EtcdClient::grant(std::chrono::seconds ttl) {
    const auto r = call("/v3/lease/grant", json{{"TTL", std::to_string(ttl.count())}});
    const auto id = number(r, "ID");
    if (id == 0) throw EtcdError(EtcdErrc::kBadReply, "etcd: lease grant without an ID");
    return id;
}

std::vector<std::int64_t> EtcdClient::keep_alive(const std::vector<std::int64_t>& leases) {
    std::vector<std::int64_t> ended;
    if (leases.empty()) return ended;
    for (auto id : leases) {
        const auto r = call("/v3/lease/keepalive", json{{"ID", std::to_string(id)}});
        const auto res = r.find("result");
        if (res == r.end() || number(*res, "TTL") <= 0) ended.push_back(id);
    }
    return ended;
}

void EtcdClient::revoke(std::int64_t lease) {
    try {
        call("/v3/kv/lease/revoke", json{{"ID", std::to_string(lease)}});
    } catch (const EtcdError& e) {
        if (e.code != EtcdErrc::kRejected) throw;  // already ended: fine
    }
}

}  // namespace seedshare::tracker::etcd
