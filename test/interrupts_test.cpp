// peer/app/interrupts: the first SIGTERM asks for an ordered stop, a second
// ends the process with 130 and a line saying so, both while the signal set
// lives and after it is gone (the teardown). Each case runs in a child
// process (fork), since the outcome is the process's exit.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <optional>
#include <string>

#include "common/core/log.hpp"
#include "peer/app/interrupts.hpp"

namespace seedshare {
namespace {

struct Child {
    int status = 0;
    std::string err;  // what the child wrote to stderr
};

// Runs body in a child whose stderr is a pipe; body's return is its exit code.
template <class Body>
Child in_child(Body body) {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        ::dup2(fds[1], STDERR_FILENO);
        try {
            std::_Exit(body());
        } catch (...) {
            std::_Exit(99);  // never back into the test runner
        }
    }
    ::close(fds[1]);
    Child c;
    char buf[512];
    for (;;) {
        const auto n = ::read(fds[0], buf, sizeof buf);
        if (n <= 0) break;
        c.err.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    REQUIRE(::waitpid(pid, &c.status, 0) == pid);
    return c;
}

// Runs io until done() or 5,000 rounds of 1 ms: a bound, not a timing.
template <class Done>
bool run_until(asio::io_context& io, Done done) {
    for (int i = 0; i < 5000 && !done(); ++i)
        io.run_one_for(std::chrono::milliseconds(1));
    return done();
}

// The child ended as a second signal ends the process: exit code 130 and
// `line` on stderr.
void check_exited_again(const Child& c, const std::string& line) {
    REQUIRE(WIFEXITED(c.status));
    CHECK(WEXITSTATUS(c.status) == 130);
    CHECK(c.err.find(line) != std::string::npos);
}

}  // namespace

TEST_CASE("interrupts: the first signal asks for a stop once and the process goes on") {
    const auto c = in_child([] {
        asio::io_context io;
        Logger log("peer");
        int stops = 0;
        {
            const Interrupts interrupts(
                io.get_executor(), log, [&] { ++stops; }, "a rerun resumes");
            ::raise(SIGTERM);
            if (!run_until(io, [&] { return stops > 0; })) return 3;
            if (!interrupts.interrupted()) return 4;
        }
        return stops == 1 ? 0 : 5;
    });
    REQUIRE(WIFEXITED(c.status));
    CHECK(WEXITSTATUS(c.status) == 0);
    CHECK(c.err.find("stopping: finishing what is in flight") != std::string::npos);
    CHECK(c.err.find("interrupted again") == std::string::npos);
}

TEST_CASE("interrupts: a second signal while the stop runs exits 130, saying so") {
    const auto c = in_child([] {
        asio::io_context io;
        Logger log("peer");
        bool stopped = false;
        const Interrupts interrupts(
            io.get_executor(), log, [&] { stopped = true; }, "a rerun resumes");
        ::raise(SIGTERM);
        if (!run_until(io, [&] { return stopped; })) return 3;
        ::raise(SIGTERM);  // taken by the plain handler: does not return
        return 0;          // the second signal was not obeyed
    });
    check_exited_again(c, "peer: interrupted again: exiting now; a rerun resumes\n");
}

TEST_CASE("interrupts: two signals before the I/O thread runs: the second is not lost") {
    // Ctrl-C twice while the I/O thread is busy: both wait in the signal
    // set's queue, before the first is handled.
    const auto c = in_child([] {
        asio::io_context io;
        Logger log("peer");
        int stops = 0;
        const Interrupts interrupts(
            io.get_executor(), log, [&] { ++stops; }, "a rerun resumes");
        ::raise(SIGTERM);
        ::raise(SIGTERM);
        run_until(io, [] { return false; });
        return 0;  // the second signal was lost
    });
    check_exited_again(c, "peer: interrupted again: exiting now; a rerun resumes\n");
    CHECK(c.err.find("stopping: finishing what is in flight") != std::string::npos);
}

TEST_CASE("interrupts: a second signal after the signal set is gone still exits 130") {
    // The command's coroutine has ended (its objects are being destroyed):
    // a second signal then is not the default action's 143.
    const auto c = in_child([] {
        asio::io_context io;
        Logger log("peer");
        bool stopped = false;
        {
            const Interrupts interrupts(
                io.get_executor(), log, [&] { stopped = true; }, "");
            ::raise(SIGTERM);
            if (!run_until(io, [&] { return stopped; })) return 3;
        }
        ::raise(SIGTERM);  // handled synchronously: does not return
        return 0;
    });
    check_exited_again(c, "peer: interrupted again: exiting now\n");
}

TEST_CASE("interrupts: with no signal, the default action is back once it is gone") {
    const auto c = in_child([] {
        asio::io_context io;
        Logger log("peer");
        {
            const Interrupts interrupts(
                io.get_executor(), log, [] {}, "");
        }
        ::raise(SIGTERM);
        return 0;
    });
    REQUIRE(WIFSIGNALED(c.status));
    CHECK(WTERMSIG(c.status) == SIGTERM);
}

}  // namespace seedshare
