// Runs a program and captures its exit code, stdout and stderr (for CLI tests).
#pragma once

#include <string>
#include <vector>

namespace seedshare::test {

struct RunResult {
    int exit_code = -1;  // 128 + signal number if it was killed
    std::string out;
    std::string err;
};

RunResult run(const std::vector<std::string>& argv, double timeout_seconds = 60);

}  // namespace seedshare::test
