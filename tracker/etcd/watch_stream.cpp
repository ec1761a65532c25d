#include "tracker/etcd/watch_stream.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tracker/etcd/client.hpp"

namespace seedshare::tracker::etcd {

using nlohmann::json;

bool StreamLines::append(std::string_view bytes) {
    if (start_ > 0 && start_ == buffer_.size()) {
        buffer_.clear();
        start_ = 0;
    }
    buffer_.append(bytes);
    const auto last = buffer_.rfind('\n');
    const std::size_t open = last == std::string::npos || last < start_ ? buffer_.size() - start_
                                                                        : buffer_.size() - last - 1;
    return open <= max_;
}

std::optional<std::string> StreamLines::next() {
    const auto nl = buffer_.find('\n', start_);
    if (nl == std::string::npos) {
        if (start_ > 0) {  // keep only the open line
            buffer_.erase(0, start_);
            start_ = 0;
        }
        return std::nullopt;
    }
    std::string line = buffer_.substr(start_, nl - start_);
    start_ = nl + 1;
    return line;
}

Result<WatchMessage> parse_watch_message(std::string_view line) {
    const auto j = json::parse(line, nullptr, false);
    if (!j.is_object()) return Error{"a watch line is not a JSON object"};
    WatchMessage m;
    try {
        if (const auto e = j.find("error"); e != j.end()) {
            m.canceled = true;
            m.error = e->is_object() ? e->value("message", "error") : "error";
            return m;
        }
        const auto r = j.find("result");
        if (r == j.end() || !r->is_object()) return Error{"a watch line has no result"};
        if (const auto h = r->find("header"); h != r->end() && h->is_object())
            m.header_revision = number(*h, "revision");
        m.created = r->value("created", false);
        m.canceled = r->value("canceled", false);
        m.compact_revision = number(*r, "compact_revision");
        m.error = r->value("cancel_reason", "");
        if (const auto ev = r->find("events"); ev != r->end()) {
            if (!ev->is_array()) return Error{"a watch line's events are not a list"};
            for (const auto& e : *ev) {
                WatchEvent w;
                const std::string type = e.value("type", "PUT");
                if (type != "PUT" && type != "DELETE")
                    return Error{fmt::format("a watch event of type '{}'", type)};
                w.put = type == "PUT";
                const auto& kv = e.at("kv");
                w.key = unbase64(kv.value("key", ""));
                w.value = unbase64(kv.value("value", ""));
                w.mod_revision = number(kv, "mod_revision");
                m.events.push_back(std::move(w));
            }
        }
    } catch (const json::exception&) {
        return Error{"a watch line is malformed"};
    } catch (const EtcdError&) {
        return Error{"a watch line has a malformed field"};
    }
    return m;
}

WatchStep next_step(const WatchMessage& m) {
    if (m.compact_revision > 0) return WatchStep::kRelist;
    if (m.canceled) return WatchStep::kRestart;
    return WatchStep::kApply;
}

}  // namespace seedshare::tracker::etcd
