// SIGINT and SIGTERM for a command that runs until stopped (get, serve,
// publish, subscribe, backup). The first signal asks for an ordered stop
// (work in flight ends, uploads finish, the trackers are told); a second one
// (that stop waiting on something slow, such as a tracker that does not
// answer) ends the process at once with exit code 130, saying so on stderr.
//
// The second signal is taken by a plain handler (write, _Exit) installed at
// the first, not by the io_context, and that holds until the process exits:
// once the command's coroutine has ended and this object is gone, a second
// signal during the last of the teardown still ends the process with 130 and
// the same line (but for an instant as the signal set is destroyed, when the
// default action, 143, is back for a few instructions).
#pragma once

#include <asio.hpp>

#include <functional>
#include <optional>
#include <string>

#include "common/core/log.hpp"

namespace seedshare {

class Interrupts {
  public:
    // again: what the line printed on a second signal adds after "exiting
    // now" ("a rerun resumes"); empty for nothing.
    Interrupts(asio::any_io_executor ex, Logger& log, std::function<void()> on_first,
               std::string again);
    ~Interrupts();
    Interrupts(const Interrupts&) = delete;
    Interrupts& operator=(const Interrupts&) = delete;

    // A first signal has come.
    bool interrupted() const { return interrupted_; }

  private:
    void wait();

    Logger& log_;
    std::function<void()> on_first_;
    bool interrupted_ = false;
    std::optional<asio::signal_set> signals_;
};

}  // namespace seedshare
