#include "peer/app/interrupts.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>

#include "peer/app/commands.hpp"

namespace seedshare {
namespace {

// The line for a second signal once the signal set is gone; written by a
// signal handler, so kept in static storage and written with write(2).
char g_again_line[256];
std::size_t g_again_length = 0;

extern "C" void exit_on_second_signal(int) {
    if (g_again_length > 0) {
        [[maybe_unused]] const auto n = ::write(STDERR_FILENO, g_again_line, g_again_length);
    }
    std::_Exit(kExitInterrupted);
}

std::string again_line(const std::string& again) {
    return again.empty() ? std::string("peer: interrupted again: exiting now\n")
                         : fmt::format("peer: interrupted again: exiting now; {}\n", again);
}

}  // namespace

Interrupts::Interrupts(asio::any_io_executor ex, Logger& log, std::function<void()> on_first,
                       std::string again)
    : log_(log), on_first_(std::move(on_first)), again_(std::move(again)) {
    signals_.emplace(ex, SIGINT, SIGTERM);
    wait();
}

void Interrupts::wait() {
    signals_->async_wait([this](const asio::error_code& ec, int) {
        if (ec) return;  // the set is being destroyed: nothing of this is touched
        if (interrupted_) {
            fmt::print(stderr, "{}", again_line(again_));
            std::fflush(stderr);
            std::_Exit(kExitInterrupted);
        }
        interrupted_ = true;
        log_.info("stopping: finishing what is in flight (a second signal exits at once)");
        on_first_();
        wait();
    });
}

Interrupts::~Interrupts() {
    signals_.reset();  // restores the default action for both signals
    if (!interrupted_) return;
    const auto line = again_line(again_);
    g_again_length = std::min(line.size(), sizeof g_again_line);
    std::memcpy(g_again_line, line.data(), g_again_length);
    struct sigaction action {};
    action.sa_handler = exit_on_second_signal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
}

}  // namespace seedshare
