#include "peer/app/interrupts.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>

#include "peer/app/commands.hpp"

namespace seedshare {
namespace {

// The line for a second signal, written by a plain signal handler, so kept
// in static storage and written with write(2).
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

// From now on SIGINT and SIGTERM end the process at once, saying so (the
// line is in g_again_line already). Takes the signals over from the signal
// set's handler; its registration stays.
void exit_on_next_signal() {
    struct sigaction action {};
    action.sa_handler = exit_on_second_signal;
    sigfillset(&action.sa_mask);  // one line, even if both signals come
    ::sigaction(SIGINT, &action, nullptr);
    ::sigaction(SIGTERM, &action, nullptr);
}

}  // namespace

Interrupts::Interrupts(asio::any_io_executor ex, Logger& log, std::function<void()> on_first,
                       std::string again)
    : log_(log), on_first_(std::move(on_first)) {
    // The line, once, before any handler that writes it can run.
    const auto line = again_line(again);
    g_again_length = std::min(line.size(), sizeof g_again_line);
    std::memcpy(g_again_line, line.data(), g_again_length);
    signals_.emplace(ex, SIGINT, SIGTERM);
    wait();
}

void Interrupts::wait() {
    signals_->async_wait([this](const asio::error_code& ec, int) {
        // Cancelled: the set is being destroyed, nothing of this is touched.
        // (A completion is never run after that: run_command stops the
        // io_context when the command's coroutine ends.)
        if (ec) return;
        if (interrupted_) {
            // A second signal that came before the plain handler was in
            // place (two in a row while the I/O thread was busy).
            exit_on_second_signal(0);
        }
        interrupted_ = true;
        // A later signal no longer goes through the io_context: it is
        // obeyed even while the I/O thread is busy or gone.
        exit_on_next_signal();
        log_.info("stopping: finishing what is in flight (a second signal exits at once)");
        on_first_();
        wait();
    });
}

Interrupts::~Interrupts() {
    // Destroying the set restores the default action for both signals; after
    // a first signal, the handler that exits 130 is put back at once (a
    // second signal in the few instructions between gets the default).
    signals_.reset();
    if (interrupted_) exit_on_next_signal();
}

}  // namespace seedshare
