// A program running in the background (for CLI tests of long-running
// servers): its stdout and stderr are piped, lines can be awaited with a
// timeout, and it is signalled and reaped by its own PID. The destructor
// kills (SIGKILL) and reaps a process still running, so a failing test never
// leaves one behind.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace seedshare::test {

class Process {
  public:
    // Starts argv[0] (a path) with the given arguments in `cwd` (if not empty).
    explicit Process(const std::vector<std::string>& argv, const std::filesystem::path& cwd = {});
    ~Process();
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    // The next whole line of stdout (without '\n'); nullopt on EOF or timeout.
    std::optional<std::string> read_line(double timeout_seconds);
    void signal(int signo);
    // The exit code (128 + signal number if killed by one); nullopt on timeout.
    std::optional<int> wait(double timeout_seconds);
    // What the program wrote to stderr so far (read while waiting).
    const std::string& err() const { return err_; }
    const std::string& out() const { return out_; }

  private:
    // Reads what is available from both pipes, waiting up to timeout_ms.
    void pump(int timeout_ms);

    pid_t pid_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    std::string out_;
    std::size_t out_pos_ = 0;  // start of the first line not returned yet
    std::string err_;
    std::optional<int> exit_code_;
};

}  // namespace seedshare::test
