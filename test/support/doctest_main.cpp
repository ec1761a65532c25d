// The tests' main. Programs the tests start (and the Node's default state
// directory) would keep their address book in ~/.local/state: each test
// process gets a state directory of its own instead, removed when it ends, so
// a test run leaves nothing in the home directory and no run sees another's
// book.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>

int main(int argc, char** argv) {
    std::string state = "/tmp/seedshare-test-state.XXXXXX";
    if (::mkdtemp(state.data()) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    ::setenv("XDG_STATE_HOME", state.c_str(), 1);
    doctest::Context context(argc, argv);
    const int result = context.run();
    std::error_code ignored;
    std::filesystem::remove_all(state, ignored);
    return result;
}
