#include "tracker/etcd/watch.hpp"

#include <curl/curl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

namespace seedshare::tracker::etcd {

using nlohmann::json;

namespace {
// The kinds of keys the table keeps (peer_table.hpp).
constexpr const char* kKinds[] = {"u/", "s/", "h/", "fo/", "f/", "c/"};
}  // namespace

// What the write callback needs while one stream runs.
struct WatchContext {
    WatchedTable* self = nullptr;
    StreamLines lines;
    WatchStep step = WatchStep::kApply;
    bool created = false;
    static std::size_t on_data(char* data, std::size_t size, std::size_t n, void* user);
};

std::size_t WatchContext::on_data(char* data, std::size_t size, std::size_t n, void* user) {
    auto* ctx = static_cast<WatchContext*>(user);
    if (!ctx->lines.append(std::string_view(data, size * n))) {
        // A message over the line limit would come again from the same
        // revision: list everything anew and watch from there instead.
        ctx->step = WatchStep::kRelist;
        return 0;
    }
    while (auto line = ctx->lines.next()) {
        if (line->empty()) continue;
        auto m = parse_watch_message(*line);
        if (!m) {
            ctx->step = WatchStep::kRestart;
            return 0;
        }
        ctx->step = next_step(*m);
        if (ctx->step != WatchStep::kApply) return 0;  // ends the transfer
        if (m->created) {
            ctx->created = true;
            ctx->self->streaming_ = true;
            ctx->self->broken_ = false;
        }
        ctx->self->deliver(*m);
    }
    return size * n;
}

WatchedTable::WatchedTable(EtcdClient& client, std::string prefix, Options options)
    : client_(client), prefix_(std::move(prefix)), options_(options), table_(prefix_) {
    curl_init_once();
    multi_ = curl_multi_init();
    if (multi_ == nullptr) throw EtcdError(EtcdErrc::kUnavailable, "etcd: curl_multi_init failed");
}

WatchedTable::~WatchedTable() {
    stop();
    curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

void WatchedTable::start() {
    list();
    thread_ = std::thread([this] { run(); });
}

void WatchedTable::stop() {
    {
        std::lock_guard lock(stop_mutex_);
        stopping_ = true;
    }
    stop_cv_.notify_all();
    curl_multi_wakeup(static_cast<CURLM*>(multi_));
    if (thread_.joinable()) thread_.join();
    streaming_ = false;
    applied_.notify_all();
}

void WatchedTable::list() {
    std::vector<WatchEvent> all;
    std::int64_t revision = 0;
    for (const char* kind : kKinds) {
        const std::string base = prefix_ + kind;
        std::string from = base;
        for (;;) {
            json range{{"key", base64(from)},
                       {"range_end", base64(prefix_end(base))},
                       {"limit", std::to_string(options_.page)}};
            if (revision != 0) range["revision"] = std::to_string(revision);
            const auto r = client_.call("/v3/kv/range", range);
            if (revision == 0) revision = number(r.at("header"), "revision");
            const auto kvs = kvs_of(r);
            for (const auto& kv : kvs)
                all.push_back(WatchEvent{true, kv.key, kv.value, kv.mod_revision});
            if (!r.value("more", false) || kvs.empty()) break;
            from = kvs.back().key + std::string(1, '\0');
        }
    }
    {
        std::unique_lock lock(mutex_);
        table_.reset(all, revision);
    }
    std::lock_guard lock(wait_mutex_);
    applied_.notify_all();
}

void WatchedTable::deliver(const WatchMessage& m) {
    {
        std::unique_lock lock(mutex_);
        std::int64_t last = 0;
        for (const auto& e : m.events) {
            table_.apply(e);
            last = std::max(last, e.mod_revision);
        }
        if (last > 0) table_.advance(last);
        // A progress notification: every change up to its revision was sent.
        if (m.events.empty() && !m.created) table_.advance(m.header_revision);
    }
    std::lock_guard lock(wait_mutex_);
    applied_.notify_all();
}

void WatchedTable::touch(const UserId& user, std::int64_t mod, std::int64_t seen) {
    std::unique_lock lock(mutex_);
    table_.touch(user, mod, seen);
}

bool WatchedTable::wait_for(std::int64_t revision, std::chrono::milliseconds limit) {
    const auto done = [&] {
        std::shared_lock lock(mutex_);
        return table_.revision() >= revision;
    };
    std::unique_lock lock(wait_mutex_);
    return applied_.wait_for(lock, limit, [&] { return done() || broken_ || stopping_; }) && done();
}

void WatchedTable::run() {
    const auto& endpoints = client_.endpoints();
    std::size_t at = 0;
    auto backoff = options_.backoff;
    while (!stopping_) {
        bool created = false;
        const WatchStep step = stream(endpoints[at % endpoints.size()], created);
        if (created) backoff = options_.backoff;  // it worked for a while
        streaming_ = false;
        broken_ = true;
        {
            std::lock_guard lock(wait_mutex_);
            applied_.notify_all();
        }
        if (stopping_) break;
        bool relisted = false;
        if (step == WatchStep::kRelist) {
            try {
                list();
                ++relists_;
                relisted = true;
            } catch (const std::exception&) {  // etcd unreachable: again after the backoff
            }
        } else {
            ++restarts_;
            ++at;
        }
        if (relisted) continue;
        std::unique_lock lock(stop_mutex_);
        stop_cv_.wait_for(lock, backoff, [this] { return stopping_.load(); });
        backoff = std::min(backoff * 2, options_.max_backoff);
    }
}

WatchStep WatchedTable::stream(const std::string& endpoint, bool& created) {
    std::int64_t from = 0;
    {
        std::shared_lock lock(mutex_);
        from = table_.revision() + 1;
    }
    const std::string body = json{{"create_request",
                                   {{"key", base64(prefix_)},
                                    {"range_end", base64(prefix_end(prefix_))},
                                    {"start_revision", std::to_string(from)},
                                    {"progress_notify", true}}}}
                                 .dump();
    const std::string url = endpoint + "/v3/watch";
    WatchContext ctx;
    ctx.self = this;
    CURL* c = curl_easy_init();
    if (c == nullptr) return WatchStep::kRestart;
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &WatchContext::on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &ctx);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 1000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
    // A member that vanishes without closing: noticed by TCP keep-alive.
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPIDLE, 2L);
    curl_easy_setopt(c, CURLOPT_TCP_KEEPINTVL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http");
    auto* multi = static_cast<CURLM*>(multi_);
    curl_multi_add_handle(multi, c);
    int running = 1;
    while (running > 0 && !stopping_) {
        if (curl_multi_perform(multi, &running) != CURLM_OK) break;
        if (running == 0) break;
        curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
    curl_multi_remove_handle(multi, c);
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    created = ctx.created;
    return ctx.step == WatchStep::kApply ? WatchStep::kRestart : ctx.step;
}

}  // namespace seedshare::tracker::etcd
