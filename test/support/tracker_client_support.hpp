// What the tracker client's tests share: quiet logs and a client's options
// for a tracker on 127.0.0.1.
#pragma once

#include <chrono>
#include <cstdint>

#include "common/core/log.hpp"
#include "peer/discovery/tracker_client.hpp"

namespace seedshare::test {

inline const Logger kQuiet("test", LogLevel::kOff);

inline TrackerClient::Options client_options(std::uint16_t tracker_port,
                                             std::uint16_t listen_port) {
    using namespace std::chrono_literals;
    TrackerClient::Options o;
    o.tracker = HostPort{"127.0.0.1", tracker_port};
    o.user = random_user_id();
    o.listen_port = listen_port;
    o.connect_timeout = 2s;
    o.request_timeout = 5s;
    return o;
}

}  // namespace seedshare::test
