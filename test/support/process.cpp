#include "test/support/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace seedshare::test {

namespace {
using SteadyClock = std::chrono::steady_clock;

int ms_left(SteadyClock::time_point deadline) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now())
            .count();
    return left > 0 ? static_cast<int>(left) : 0;
}
}  // namespace

Process::Process(const std::vector<std::string>& argv, const std::filesystem::path& cwd) {
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        throw std::runtime_error("pipe failed");
    }
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    const std::string dir = cwd.string();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        ::dup2(out_pipe[1], 1);
        ::dup2(err_pipe[1], 2);
        if (!dir.empty() && ::chdir(dir.c_str()) != 0) ::_exit(126);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
}

Process::~Process() {
    if (!exit_code_ && pid_ > 0) {
        ::kill(pid_, SIGKILL);
        int status = 0;
        ::waitpid(pid_, &status, 0);
    }
    if (out_fd_ >= 0) ::close(out_fd_);
    if (err_fd_ >= 0) ::close(err_fd_);
}

void Process::pump(int timeout_ms) {
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    if (out_fd_ < 0 && err_fd_ < 0) {
        ::poll(nullptr, 0, timeout_ms);
        return;
    }
    if (::poll(fds, 2, timeout_ms) <= 0) return;
    for (int i = 0; i < 2; ++i) {
        if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        char buf[4096];
        const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
        if (n <= 0) {
            ::close(fds[i].fd);
            (i == 0 ? out_fd_ : err_fd_) = -1;
        } else {
            (i == 0 ? out_ : err_).append(buf, static_cast<std::size_t>(n));
        }
    }
}

std::optional<std::string> Process::read_line(double timeout_seconds) {
    const auto deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                                   std::chrono::duration<double>(timeout_seconds));
    while (true) {
        const auto nl = out_.find('\n', out_pos_);
        if (nl != std::string::npos) {
            std::string line = out_.substr(out_pos_, nl - out_pos_);
            out_pos_ = nl + 1;
            return line;
        }
        if (out_fd_ < 0 || SteadyClock::now() >= deadline) return std::nullopt;
        pump(ms_left(deadline));
    }
}

void Process::signal(int signo) {
    if (!exit_code_ && pid_ > 0) ::kill(pid_, signo);
}

std::optional<int> Process::wait(double timeout_seconds) {
    if (exit_code_) return exit_code_;
    const auto deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                                   std::chrono::duration<double>(timeout_seconds));
    while (true) {
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            // Collect what is left in the pipes (bounded: the writer is gone).
            for (int i = 0; i < 1000 && (out_fd_ >= 0 || err_fd_ >= 0); ++i)
                pump(100);
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return exit_code_;
        }
        if (SteadyClock::now() >= deadline) return std::nullopt;
        pump(std::min(20, ms_left(deadline)));
    }
}

}  // namespace seedshare::test
